"""A group's life through serve's REST API and client actions: dismissal, profile, owner.

Each webhook is checked at a real timhooks Receiver: Tencent's query and exactly the documented
body ("After a Group Is Disbanded", https://tencentcloud.com/document/product/1047/34377; "After
Group Profile Is Modified", https://trtc.io/document/34378; "Callback After the Group Owner
Changed", https://trtc.io/document/60396), parsed as its typed event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server_support import ADMIN, GROUP, TOKEN, Clock, Stack, members, stack

from timhooks.protocol import events as ev


async def roles(st: Stack, group: str) -> dict[str, str]:
    result = await st.rest.ok(GROUP, "get_group_member_info", {"GroupId": group})
    return {m["Member_Account"]: m["Role"] for m in result["MemberList"]}


async def public_group(st: Stack, *others: str) -> str:
    await st.rest.import_users("owner", *others)
    return await st.rest.create_group("owner", "Public", MemberList=members(*others))


# --- destroy_group -------------------------------------------------------------------------------


async def test_rest_destroy_group_sends_after_group_destroyed_signed(tmp_path: Path) -> None:
    """destroy_group sends AfterGroupDestroyed with the type, owner, name and every member,
    signed with the app's token; the group is gone (10010)."""
    async with stack(tmp_path, token=TOKEN) as st:
        group = await public_group(st, "amy", "bob")
        with Clock() as t:
            await st.rest.ok(GROUP, "destroy_group", {"GroupId": group})
        command = ev.AfterGroupDestroyed.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            Owner_Account="owner",
            Name="Hikers",
            MemberList=members("owner", "amy", "bob"),
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterGroupDestroyed)
        assert event.member_list == tuple(
            ev.Member(member_account=u) for u in ("owner", "amy", "bob")
        )
        again = await st.rest.call(GROUP, "get_group_info", {"GroupIdList": [group]})
        assert again["GroupInfo"][0]["ErrorCode"] == 10010


async def test_client_destroy_group_by_the_owner_only(tmp_path: Path) -> None:
    """A member cannot dismiss the group (10007); the owner can, with the owner's OptPlatform."""
    async with stack(tmp_path) as st:
        group = await public_group(st, "amy")
        refused = await st.rest.client("amy", "destroy_group", {"GroupId": group})
        assert refused["ErrorCode"] == 10007
        with Clock() as t:
            await st.rest.client("owner", "destroy_group", {"GroupId": group}, platform="iOS")
        await st.webhook(
            ev.AfterGroupDestroyed.command,
            t.window,
            "iOS",
            GroupId=group,
            Type="Public",
            Owner_Account="owner",
            Name="Hikers",
            MemberList=members("owner", "amy"),
        )


async def test_destroying_a_community_sends_no_member_list(tmp_path: Path) -> None:
    """A Community's AfterGroupDestroyed lists no members (Tencent sends no MemberList; the
    event model always writes the field, so it is empty)."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        group = await st.rest.create_group("owner", "Community", MemberList=members("amy"))
        with Clock() as t:
            await st.rest.ok(GROUP, "destroy_group", {"GroupId": group})
        await st.webhook(
            ev.AfterGroupDestroyed.command,
            t.window,
            GroupId=group,
            Type="Community",
            Owner_Account="owner",
            Name="Hikers",
            MemberList=[],
        )


# --- modify_group_base_info ----------------------------------------------------------------------


async def test_modify_group_base_info_reports_only_the_changed_fields(tmp_path: Path) -> None:
    """AfterGroupInfoChanged carries the changed name and custom fields only: an unchanged
    introduction, MaxMemberNum, ApplyJoinOption and ShutUpAllMember are not in it."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        group = await st.rest.create_group(
            "owner", "Public", Introduction="Walks", AppDefinedData=[{"Key": "Level", "Value": "5"}]
        )
        body: dict[str, Any] = {
            "GroupId": group,
            "Name": "Climbers",
            "Introduction": "Walks",
            "MaxMemberNum": 100,
            "ApplyJoinOption": "FreeAccess",
            "ShutUpAllMember": "On",
            "AppDefinedData": [{"Key": "Level", "Value": "6"}, {"Key": "Mood", "Value": "calm"}],
        }
        with Clock() as t:
            await st.rest.ok(GROUP, "modify_group_base_info", body)
        command = ev.AfterGroupInfoChanged.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            Name="Climbers",
            UserDefinedDataList=[{"Key": "Level", "Value": "6"}, {"Key": "Mood", "Value": "calm"}],
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterGroupInfoChanged)
        assert (event.name, event.introduction) == ("Climbers", None)
        info = await st.rest.group_info(group)
        assert (info["Name"], info["MaxMemberNum"], info["ApplyJoinOption"]) == (
            "Climbers",
            100,
            "FreeAccess",
        )
        assert info["ShutUpAllMember"] == "On"
        assert info["AppDefinedData"] == [
            {"Key": "Level", "Value": "6"},
            {"Key": "Mood", "Value": "calm"},
        ]
        await st.rest.ok(
            GROUP,
            "modify_group_base_info",
            {"GroupId": group, "AppDefinedData": [{"Key": "Mood", "Value": ""}]},
        )
        assert (await st.rest.group_info(group))["AppDefinedData"] == [
            {"Key": "Level", "Value": "6"}
        ]


async def test_a_change_of_no_reported_field_sends_nothing(tmp_path: Path) -> None:
    """MaxMemberNum, ApplyJoinOption or a value already set change no reported field: no
    AfterGroupInfoChanged is queued."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        group = await st.rest.create_group("owner", "Public")
        await st.rest.ok(
            GROUP,
            "modify_group_base_info",
            {"GroupId": group, "Name": "Hikers", "MaxMemberNum": 50, "MuteAllMember": "On"},
        )
        await st.rest.ok(
            GROUP, "modify_group_base_info", {"GroupId": group, "Notification": "Meet at 9"}
        )
        await st.recorder.wait_for(ev.AfterGroupInfoChanged.command)
        await st.drained()
        [hit] = st.recorder.of(ev.AfterGroupInfoChanged.command)
        assert hit.body["Notification"] == "Meet at 9"
        assert (await st.rest.group_info(group))["MaxMemberNum"] == 50


async def test_modify_group_base_info_refuses_bad_fields(tmp_path: Path) -> None:
    """Bad fields are 10004 naming the field; an unknown group 10010; nothing is sent."""
    async with stack(tmp_path) as st:
        group = await public_group(st, "amy", "bob")
        cases = {
            "ApplyJoinOption": ({"ApplyJoinOption": "Anyone"}, 10004),
            "ShutUpAllMember": ({"ShutUpAllMember": "Maybe"}, 10004),
            "MaxMemberNum": ({"MaxMemberNum": 2}, 10004),
            "Name": ({"Name": ""}, 10004),
        }
        for field, (change, code) in cases.items():
            result = await st.rest.call(
                GROUP, "modify_group_base_info", {"GroupId": group, **change}
            )
            assert result["ErrorCode"] == code, (field, result)
            assert field in result["ErrorInfo"] or field == "Name", result
        missing = await st.rest.call(
            GROUP, "modify_group_base_info", {"GroupId": "nope", "Name": "x"}
        )
        assert missing["ErrorCode"] == 10010
        await st.drained()
        assert await st.outbox(ev.AfterGroupInfoChanged.command) == []


async def test_client_modify_group_base_info_needs_owner_or_admin(tmp_path: Path) -> None:
    """An admin changes the profile from the client (its OptPlatform); a plain member of a
    Public group gets 10007; MaxMemberNum is for the REST API only."""
    async with stack(tmp_path) as st:
        group = await public_group(st, "amy", "bob")
        await st.rest.ok(
            GROUP,
            "modify_group_member_info",
            {"GroupId": group, "Member_Account": "amy", "Role": "Admin"},
        )
        refused = await st.rest.client(
            "bob", "modify_group_base_info", {"GroupId": group, "Name": "B"}
        )
        assert refused["ErrorCode"] == 10007
        limited = await st.rest.client(
            "amy", "modify_group_base_info", {"GroupId": group, "MaxMemberNum": 10}
        )
        assert limited["ErrorCode"] == 10007
        with Clock() as t:
            await st.rest.client(
                "amy",
                "modify_group_base_info",
                {"GroupId": group, "FaceUrl": "https://x/y.png"},
                "Web",
            )
        await st.webhook(
            ev.AfterGroupInfoChanged.command,
            t.window,
            "Web",
            GroupId=group,
            Type="Public",
            Operator_Account="amy",
            FaceUrl="https://x/y.png",
        )


async def test_switched_off_group_info_webhook_is_not_sent(tmp_path: Path) -> None:
    """With AfterGroupInfoChanged switched off, the change is made and nothing is queued."""
    on = frozenset({ev.AfterChangeGroupOwner.command})
    async with stack(tmp_path, callback={"commands": on}) as st:
        group = await public_group(st, "amy")
        await st.rest.ok(GROUP, "modify_group_base_info", {"GroupId": group, "Name": "Quiet"})
        await st.rest.ok(GROUP, "change_group_owner", {"GroupId": group, "NewOwner_Account": "amy"})
        await st.recorder.wait_for(ev.AfterChangeGroupOwner.command)
        await st.drained()
        assert await st.outbox(ev.AfterGroupInfoChanged.command) == []
        assert (await st.rest.group_info(group))["Name"] == "Quiet"


# --- change_group_owner --------------------------------------------------------------------------


async def test_rest_change_group_owner(tmp_path: Path) -> None:
    """change_group_owner makes a member the owner (the old owner a Member) and sends
    AfterChangeGroupOwner; a non-member is 10004 and an AVChatRoom 10007."""
    async with stack(tmp_path) as st:
        group = await public_group(st, "amy", "carl")
        with Clock() as t:
            await st.rest.ok(
                GROUP, "change_group_owner", {"GroupId": group, "NewOwner_Account": "amy"}
            )
        command = ev.AfterChangeGroupOwner.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            OldOwner_Account="owner",
            NewOwner_Account="amy",
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterChangeGroupOwner)
        assert await roles(st, group) == {"amy": "Owner", "owner": "Member", "carl": "Member"}
        assert (await st.rest.group_info(group))["Owner_Account"] == "amy"
        stranger = await st.rest.call(
            GROUP, "change_group_owner", {"GroupId": group, "NewOwner_Account": "dave"}
        )
        assert stranger["ErrorCode"] == 10004
        assert "NewOwner_Account" in stranger["ErrorInfo"]
        room = await st.rest.create_group("owner", "AVChatRoom")
        refused = await st.rest.call(
            GROUP, "change_group_owner", {"GroupId": room, "NewOwner_Account": "owner"}
        )
        assert refused["ErrorCode"] == 10007


async def test_client_change_group_owner(tmp_path: Path) -> None:
    """Only the owner transfers the group from the client."""
    async with stack(tmp_path) as st:
        group = await public_group(st, "amy")
        refused = await st.rest.client(
            "amy", "change_group_owner", {"GroupId": group, "NewOwner_Account": "amy"}
        )
        assert refused["ErrorCode"] == 10007
        with Clock() as t:
            await st.rest.client(
                "owner", "change_group_owner", {"GroupId": group, "NewOwner_Account": "amy"}, "Mac"
            )
        await st.webhook(
            ev.AfterChangeGroupOwner.command,
            t.window,
            "Mac",
            GroupId=group,
            Type="Public",
            Operator_Account="owner",
            OldOwner_Account="owner",
            NewOwner_Account="amy",
        )
