"""Group custom attributes through serve: the four changes, the read, the limits, the client.

Each change sends AfterGroupAttrChanged ("Callback After Group Attribute Changed",
https://trtc.io/document/60394) with its OptionType and the attributes after the change, in
lower-case ``key``/``value`` items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server_support import ADMIN, GROUP, Clock, Stack, members, stack

from timhooks.protocol import events as ev

ATTR = "group_open_attr_http_svc"
COMMAND = ev.AfterGroupAttrChanged.command


def kv(**attrs: str) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in attrs.items()]


async def attrs(st: Stack, group: str) -> list[dict[str, str]]:
    result = await st.rest.ok(ATTR, "get_group_attr", {"GroupId": group})
    items: list[dict[str, str]] = result["GroupAttrAry"]
    return items


async def test_each_change_sends_the_attributes_after_it(tmp_path: Path) -> None:
    """set replaces, modify adds or overwrites, delete removes keys, clear empties: each sends
    AfterGroupAttrChanged with its OptionType and the resulting attributes."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        group = await st.rest.create_group("owner", "AVChatRoom")
        steps: list[tuple[str, dict[str, Any], str, list[dict[str, str]]]] = [
            ("set_group_attr", {"GroupAttr": kv(a="1", b="2")}, "set", kv(a="1", b="2")),
            (
                "modify_group_attr",
                {"GroupAttr": kv(b="3", c="4")},
                "modify",
                kv(a="1", b="3", c="4"),
            ),
            (
                "delete_group_attr",
                {"GroupAttr": [{"key": "a"}, {"key": "zz"}]},
                "delete",
                kv(b="3", c="4"),
            ),
            ("set_group_attr", {"GroupAttr": kv(d="5")}, "set", kv(d="5")),
            ("clear_group_attr", {}, "clear", []),
        ]
        for nth, (command, body, option, after) in enumerate(steps, start=1):
            with Clock() as t:
                await st.rest.ok(GROUP, command, {"GroupId": group, **body})
            await st.webhook(
                COMMAND,
                t.window,
                nth=nth,
                GroupId=group,
                Type="AVChatRoom",
                Operator_Account=ADMIN,
                OptionType=option,
                GroupAttr=after,
            )
            assert await attrs(st, group) == after, command
        events = await st.received(COMMAND, len(steps))
        assert isinstance(events[1], ev.AfterGroupAttrChanged)
        assert events[1].group_attr == tuple(
            ev.GroupAttr(key=k, value=v) for k, v in (("a", "1"), ("b", "3"), ("c", "4"))
        )


async def test_limits_have_their_codes(tmp_path: Path) -> None:
    """A key over 32 bytes is 10045, a value over 4000 bytes 10046, a 17th key 10047, more than
    16 KB in all 10048; nothing is changed or sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        group = await st.rest.create_group("owner", "Public")
        await st.rest.ok(GROUP, "set_group_attr", {"GroupId": group, "GroupAttr": kv(keep="1")})
        many = [{"key": f"k{i}", "value": "v"} for i in range(16)]
        big = [{"key": f"k{i}", "value": "x" * 4000} for i in range(5)]
        cases = [
            (kv(**{"k" * 33: "v"}), 10045),
            (kv(long="x" * 4001), 10046),
            (many, 10047),
            (big, 10048),
            ([{"key": "", "value": "v"}], 10004),
            ([{"key": "k", "value": 5}], 10004),
        ]
        for items, code in cases:
            result = await st.rest.call(
                GROUP, "modify_group_attr", {"GroupId": group, "GroupAttr": items}
            )
            assert result["ErrorCode"] == code, (code, result)
        assert (await st.rest.call(GROUP, "modify_group_attr", {"GroupId": group}))[
            "ErrorCode"
        ] == 10004
        assert await attrs(st, group) == kv(keep="1")
        await st.drained()
        assert len(await st.outbox(COMMAND)) == 1


async def test_group_kinds_and_unknown_groups(tmp_path: Path) -> None:
    """A Community's attributes cannot be cleared (10007) but can be set; an unknown group is
    10010 for reads and changes; a dismissed group's attributes are gone with it."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        community = await st.rest.create_group("owner", "Community")
        await st.rest.ok(GROUP, "set_group_attr", {"GroupId": community, "GroupAttr": kv(a="1")})
        refused = await st.rest.call(GROUP, "clear_group_attr", {"GroupId": community})
        assert refused["ErrorCode"] == 10007
        assert await attrs(st, community) == kv(a="1")
        assert (await st.rest.call(ATTR, "get_group_attr", {"GroupId": "nope"}))[
            "ErrorCode"
        ] == 10010
        assert (await st.rest.call(GROUP, "clear_group_attr", {"GroupId": "nope"}))[
            "ErrorCode"
        ] == 10010


async def test_client_members_change_attributes(tmp_path: Path) -> None:
    """A member sets attributes from the client (their Operator_Account and OptPlatform); a
    user outside the group gets 10007."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy", "eve")
        group = await st.rest.create_group("owner", "Public", MemberList=members("amy"))
        outsider = await st.rest.client(
            "eve", "modify_group_attr", {"GroupId": group, "GroupAttr": kv(seat="eve")}
        )
        assert outsider["ErrorCode"] == 10007
        with Clock() as t:
            await st.rest.client(
                "amy", "modify_group_attr", {"GroupId": group, "GroupAttr": kv(seat1="amy")}, "iOS"
            )
        await st.webhook(
            COMMAND,
            t.window,
            "iOS",
            GroupId=group,
            Type="Public",
            Operator_Account="amy",
            OptionType="modify",
            GroupAttr=kv(seat1="amy"),
        )
        await st.rest.client(
            "amy", "delete_group_attr", {"GroupId": group, "GroupAttr": [{"key": "seat1"}]}
        )
        await st.rest.client("amy", "set_group_attr", {"GroupId": group, "GroupAttr": kv(x="1")})
        hits = await st.recorder.wait_for(COMMAND, 3)
        assert [h.body["OptionType"] for h in hits] == ["modify", "delete", "set"]
        assert await attrs(st, group) == kv(x="1")
