"""Member fields and mutes: modify_group_member_info, forbid_send_msg, get_group_muted_account.

A change of role or name card sends AfterMemberFieldChanged ("Callback After Group Member
Profile Changed", https://tencentcloud.com/document/product/1047/60393); muting sends nothing
and is what ``group_members.membership`` reads.
"""

from __future__ import annotations

import time
from pathlib import Path

from server_support import ADMIN, APP, GROUP, Clock, Stack, members, stack

from timhooks.protocol import events as ev
from timhooks.server.group_members import membership


async def group_with(st: Stack, type_: str, *others: str) -> str:
    await st.rest.import_users("owner", *others)
    return await st.rest.create_group("owner", type_, MemberList=members(*others))


async def muted(st: Stack, group: str, user: str) -> int:
    found = await st.server.store.read(lambda c: membership(c, APP, group, user))
    return 0 if found is None else found.muted_until


def member_info(group: str, user: str, **fields: object) -> dict[str, object]:
    return {"GroupId": group, "Member_Account": user, **fields}


async def test_role_change_sends_member_field_changed(tmp_path: Path) -> None:
    """Setting an admin sends AfterMemberFieldChanged with Role only; a name card change with
    NameCard only; setting the same role again sends nothing."""
    async with stack(tmp_path) as st:
        group = await group_with(st, "Public", "amy")
        with Clock() as t:
            await st.rest.ok(
                GROUP, "modify_group_member_info", member_info(group, "amy", Role="Admin")
            )
        command = ev.AfterMemberFieldChanged.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            Member_Account="amy",
            Role="Admin",
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterMemberFieldChanged)
        assert (event.member_account, event.role, event.name_card) == ("amy", "Admin", None)
        await st.rest.ok(GROUP, "modify_group_member_info", member_info(group, "amy", Role="Admin"))
        with Clock() as t:
            await st.rest.ok(
                GROUP, "modify_group_member_info", member_info(group, "amy", NameCard="Captain")
            )
        await st.webhook(
            command,
            t.window,
            nth=2,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            Member_Account="amy",
            NameCard="Captain",
        )
        await st.drained()
        assert len(st.recorder.of(command)) == 2


async def test_other_member_fields_send_nothing(tmp_path: Path) -> None:
    """MsgFlag, AppMemberDefinedData and ShutUpTime change no reported field; the mute is
    what membership reads, and ShutUpTime 0 lifts it."""
    async with stack(tmp_path) as st:
        group = await group_with(st, "Public", "amy")
        before = int(time.time())
        await st.rest.ok(
            GROUP,
            "modify_group_member_info",
            member_info(
                group,
                "amy",
                MsgFlag="Discard",
                AppMemberDefinedData=[{"Key": "Rank", "Value": "3"}],
                ShutUpTime=600,
            ),
        )
        until = await muted(st, group, "amy")
        assert before + 600 <= until <= int(time.time()) + 600
        listed = await st.rest.ok(GROUP, "get_group_member_info", {"GroupId": group})
        [amy] = [m for m in listed["MemberList"] if m["Member_Account"] == "amy"]
        assert (amy["MsgFlag"], amy["MuteUntil"], amy["ShutUpUntil"]) == ("Discard", until, until)
        assert (amy["NameCard"], amy["AppMemberDefinedData"]) == (
            "",
            [{"Key": "Rank", "Value": "3"}],
        )
        await st.rest.ok(GROUP, "modify_group_member_info", member_info(group, "amy", MuteTime=0))
        assert await muted(st, group, "amy") == 0
        await st.drained()
        assert await st.outbox(ev.AfterMemberFieldChanged.command) == []


async def test_modify_group_member_info_refusals(tmp_path: Path) -> None:
    """A non-member is 10004; an AVChatRoom 10007; a Private group has no admins (10007); the
    owner's role cannot change (10007); a bad Role or a long NameCard is 10004."""
    async with stack(tmp_path) as st:
        group = await group_with(st, "Public", "amy")
        work = await st.rest.create_group("owner", "Private", MemberList=members("amy"))
        room = await st.rest.create_group("owner", "AVChatRoom")
        cases = [
            (member_info(group, "nobody", NameCard="x"), 10004),
            (member_info(room, "owner", NameCard="x"), 10007),
            (member_info(work, "amy", Role="Admin"), 10007),
            (member_info(group, "owner", Role="Member"), 10007),
            (member_info(group, "amy", Role="Owner"), 10004),
            (member_info(group, "amy", MsgFlag="Loud"), 10004),
            (member_info(group, "amy", NameCard="é" * 26), 10004),
            (member_info(group, "amy", ShutUpTime=-1), 10004),
        ]
        for body, code in cases:
            result = await st.rest.call(GROUP, "modify_group_member_info", body)
            assert result["ErrorCode"] == code, (body, result)
        assert (
            await st.rest.call(
                GROUP, "modify_group_member_info", member_info(work, "amy", NameCard="Ok")
            )
        )["ErrorCode"] == 0


async def test_client_member_sets_own_name_card(tmp_path: Path) -> None:
    """A member sets their own name card from the client (AfterMemberFieldChanged with their
    OptPlatform) but not another's, nor their own role; the owner sets roles."""
    async with stack(tmp_path) as st:
        group = await group_with(st, "Public", "amy", "bob")
        with Clock() as t:
            await st.rest.client(
                "amy",
                "modify_group_member_info",
                member_info(group, "amy", NameCard="A"),
                "Android",
            )
        command = ev.AfterMemberFieldChanged.command
        await st.webhook(
            command,
            t.window,
            "Android",
            GroupId=group,
            Type="Public",
            Operator_Account="amy",
            Member_Account="amy",
            NameCard="A",
        )
        for body in (
            member_info(group, "bob", NameCard="B"),
            member_info(group, "amy", Role="Admin"),
            member_info(group, "bob", ShutUpTime=60),
        ):
            result = await st.rest.client("amy", "modify_group_member_info", body)
            assert result["ErrorCode"] == 10007, (body, result)
        ok = await st.rest.client(
            "owner", "modify_group_member_info", member_info(group, "bob", Role="Admin")
        )
        assert ok["ErrorCode"] == 0
        await st.recorder.wait_for(command, 2)


async def test_forbid_send_msg_mutes_and_lists(tmp_path: Path) -> None:
    """forbid_send_msg mutes members for MuteTime seconds (non-members ignored);
    get_group_muted_account lists them with MutedUntil; 0 unmutes; no webhook is sent."""
    async with stack(tmp_path) as st:
        group = await group_with(st, "Public", "amy", "bob")
        before = int(time.time())
        await st.rest.ok(
            GROUP,
            "forbid_send_msg",
            {"GroupId": group, "Members_Account": ["amy", "bob", "stranger"], "MuteTime": 3600},
        )
        listed = await st.rest.ok(GROUP, "get_group_muted_account", {"GroupId": group})
        assert listed["GroupId"] == group
        assert [m["Member_Account"] for m in listed["MutedAccountList"]] == ["amy", "bob"]
        for item in listed["MutedAccountList"]:
            assert before + 3600 <= item["MutedUntil"] <= int(time.time()) + 3600
            assert item["MutedUntil"] == await muted(st, group, item["Member_Account"])
        # The English page's names for the same list.
        assert listed["ShuttedUinList"] == [
            {"Member_Account": m["Member_Account"], "ShuttedUntil": m["MutedUntil"]}
            for m in listed["MutedAccountList"]
        ]
        await st.rest.ok(
            GROUP,
            "forbid_send_msg",
            {"GroupId": group, "Members_Account": ["bob"], "ShutUpTime": 0},
        )
        assert await muted(st, group, "bob") == 0
        listed = await st.rest.ok(GROUP, "get_group_muted_account", {"GroupId": group})
        assert [m["Member_Account"] for m in listed["MutedAccountList"]] == ["amy"]
        await st.drained()
        assert set(st.recorder.commands()) == {
            ev.BeforeCreateGroup.command,
            ev.AfterCreateGroup.command,
        }


async def test_forbid_send_msg_refusals(tmp_path: Path) -> None:
    """A Private group cannot mute (10007); MuteTime outside [0, 4294967295] or missing, and
    more than 500 accounts, are 10004; an unknown group is 10010."""
    async with stack(tmp_path) as st:
        work = await group_with(st, "Private", "amy")
        public = await st.rest.create_group("owner", "Public")
        cases = [
            ({"GroupId": work, "Members_Account": ["amy"], "MuteTime": 60}, 10007),
            ({"GroupId": public, "Members_Account": ["amy"], "MuteTime": 4294967296}, 10004),
            ({"GroupId": public, "Members_Account": ["amy"]}, 10004),
            ({"GroupId": public, "Members_Account": ["u"] * 501, "MuteTime": 1}, 10004),
            ({"GroupId": "nope", "Members_Account": ["amy"], "MuteTime": 1}, 10010),
        ]
        for body, code in cases:
            result = await st.rest.call(GROUP, "forbid_send_msg", body)
            assert result["ErrorCode"] == code, (body, result)
        assert await muted(st, work, "amy") == 0
