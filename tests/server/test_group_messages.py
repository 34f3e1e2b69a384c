"""Group messages on serve: send_group_msg, group_msg_recall, group_msg_get_simple and the client
actions, with the group message webhooks at a real receiver.

The fields and codes follow the pages named in ``timhooks.server.group_messages``
(docs/rest/messages.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from server_support import (
    ADMIN,
    CONFIG,
    GROUP,
    TOKEN,
    Clock,
    Stack,
    members,
    respond,
    stack,
)

from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol import events as ev

TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}]
EVERY_TYPE = [
    {"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc"}},
    {"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "here", "Latitude": 1.5, "Longitude": 2}},
    {"MsgType": "TIMCustomElem", "MsgContent": {"Data": "d", "Desc": "e", "Ext": "f"}},
    {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "i", "ImageFormat": 1}},
    {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "https://s", "Second": 1}},
    {"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "https://v", "VideoSecond": 5}},
    {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://f", "FileName": "a.zip"}},
]
BEFORE = ev.GroupBeforeSendMsg.command
AFTER = ev.GroupAfterSendMsg.command
FAILED = ev.GroupSendMsgException.command
RECALL = ev.AfterRecallMsg.command


async def with_group(st: Stack, type_: str = "Public") -> str:
    """amy (owner) and bob (member) in a group; cid imported but outside it."""
    await st.rest.import_users("amy", "bob", "cid")
    group = await st.rest.create_group("amy", type_)
    if type_ != "AVChatRoom":
        await st.rest.ok(
            GROUP, "add_group_member", {"GroupId": group, "MemberList": members("bob")}
        )
    await st.drained()  # the set-up's webhooks are in before a test marks where it starts
    return group


async def send(st: Stack, group: str, **fields: Any) -> dict[str, Any]:
    body = {"GroupId": group, "From_Account": "bob", "Random": 8912345, "MsgBody": TEXT}
    return await st.rest.call(GROUP, "send_group_msg", {**body, **fields})


_FROM_ADMIN = {"Random": 1, "MsgBody": TEXT}


async def history(st: Stack, group: str, **fields: Any) -> dict[str, Any]:
    body = {"GroupId": group, "ReqMsgNumber": 20, **fields}
    return await st.rest.ok(GROUP, "group_msg_get_simple", body)


async def mute(st: Stack, group: str, user: str, seconds: int) -> None:
    """Mute a member for ``seconds`` through forbid_send_msg (0 unmutes)."""
    body = {"GroupId": group, "Members_Account": [user], "MuteTime": seconds}
    await st.rest.ok(GROUP, "forbid_send_msg", body)


async def seen_since(st: Stack, mark: int) -> list[str]:
    """The commands received after the first ``mark`` requests (the set-up's are before)."""
    await st.drained()
    return st.recorder.commands()[mark:]


# --- send_group_msg: the webhooks ---------------------------------------------------------------


async def test_send_group_msg_sends_before_and_after_signed(tmp_path: Path) -> None:
    """An admin's send on bob's behalf sends Group.CallbackBeforeSendMsg, then
    Group.CallbackAfterSendMsg with the group's MsgSeq and MsgTime, signed, with exactly the
    documented bodies."""
    async with stack(tmp_path, token=TOKEN) as st:
        group = await with_group(st)
        mark = len(st.recorder.hits)
        with Clock() as t:
            result = await send(st, group, CloudCustomData="ccd")
        assert result["ErrorCode"] == 0, result
        assert result["MsgSeq"] == 1
        assert int(t.start) <= result["MsgTime"] <= int(t.end)
        common = {
            "GroupId": group,
            "Type": "Public",
            "From_Account": "bob",
            "Operator_Account": ADMIN,
            "Random": 8912345,
            "OnlineOnlyFlag": 0,
            "MsgBody": TEXT,
            "CloudCustomData": "ccd",
        }
        await st.webhook(BEFORE, t.window, **common)
        await st.webhook(AFTER, t.window, **common, MsgSeq=1, MsgTime=result["MsgTime"])
        [before] = await st.received(BEFORE)
        assert isinstance(before, ev.GroupBeforeSendMsg)
        [after] = await st.received(AFTER)
        assert isinstance(after, ev.GroupAfterSendMsg)
        assert (after.group_id, after.msg_seq, after.from_account) == (group, 1, "bob")
        assert await seen_since(st, mark) == [BEFORE, AFTER]


async def test_client_send_comes_from_the_member(tmp_path: Path) -> None:
    """A member's client send: From_Account and Operator_Account are the member, OptPlatform its
    platform; MsgSeq counts up per group."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        body = {"GroupId": group, "MsgBody": TEXT, "Random": 5}
        first = await st.rest.client("bob", "send_group_msg", body, platform="Web")
        with Clock() as t:
            second = await st.rest.client("bob", "send_group_msg", body, platform="Web")
        assert (first["MsgSeq"], second["MsgSeq"]) == (1, 2)
        await st.webhook(
            AFTER,
            t.window,
            "Web",
            nth=2,
            GroupId=group,
            Type="Public",
            From_Account="bob",
            Operator_Account="bob",
            Random=5,
            MsgSeq=2,
            MsgTime=second["MsgTime"],
            OnlineOnlyFlag=0,
            MsgBody=TEXT,
            CloudCustomData="",
        )


async def test_admin_sends_as_itself(tmp_path: Path) -> None:
    """Without From_Account the admin sends, member or not."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        result = await st.rest.ok(GROUP, "send_group_msg", {"GroupId": group, "MsgBody": TEXT})
        [hit] = await st.recorder.wait_for(AFTER)
        assert (hit.body["From_Account"], hit.body["Operator_Account"]) == (ADMIN, ADMIN)
        assert hit.body["MsgSeq"] == result["MsgSeq"] == 1


async def test_every_msg_type_is_kept_as_given(tmp_path: Path) -> None:
    """Every MsgType reaches the webhooks and the history unchanged."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        result = await send(st, group, MsgBody=EVERY_TYPE)
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(AFTER)
        assert hit.body["MsgBody"] == EVERY_TYPE
        [item] = (await history(st, group))["RspMsgList"]
        assert item["MsgBody"] == EVERY_TYPE


async def test_forbid_callback_control_switches_the_webhooks_off(tmp_path: Path) -> None:
    """ForbidBeforeSendMsgCallback / ForbidAfterSendMsgCallback skip that message's webhook."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await send(st, group, ForbidCallbackControl=["ForbidBeforeSendMsgCallback"])
        await send(st, group, ForbidCallbackControl=["ForbidAfterSendMsgCallback"])
        await st.drained()
        assert [h.body["Random"] for h in st.recorder.of(BEFORE)] == [8912345]
        assert [h.body["MsgSeq"] for h in st.recorder.of(AFTER)] == [1]
        assert len((await history(st, group))["RspMsgList"]) == 2


async def test_switched_off_commands_send_nothing(tmp_path: Path) -> None:
    """With none of the group message commands on, a send, a failed send and a recall send
    nothing."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await st.rest.ok(
            CONFIG, "set_callback", {"CallbackCommandList": ["Group.CallbackAfterGroupFull"]}
        )
        mark = len(st.recorder.hits)
        assert (await send(st, group))["ErrorCode"] == 0
        assert (await send(st, group, From_Account="cid"))["ErrorCode"] == 10007
        body = {"GroupId": group, "MsgSeqList": [{"MsgSeq": 1}]}
        await st.rest.ok(GROUP, "group_msg_recall", body)
        assert await seen_since(st, mark) == []


# --- send_group_msg: before-webhook decisions ---------------------------------------------------


async def test_allow_sends_the_message(tmp_path: Path) -> None:
    """ErrorCode 0 lets it through."""
    async with stack(tmp_path) as st:
        group = await with_group(st)

        @st.receiver.on(ev.GroupBeforeSendMsg)
        def allow(event: ev.Event) -> Decision:
            return Decision.allow()

        assert (await send(st, group))["MsgSeq"] == 1
        await st.recorder.wait_for(AFTER)
        assert [m["MsgSeq"] for m in (await history(st, group))["RspMsgList"]] == [1]


@pytest.mark.parametrize(
    ("decision", "code", "info"),
    [
        (Decision.reject(10100, "slow down"), 10100, "slow down"),
        (Decision.reject(10200, "banned word"), 10200, "banned word"),
    ],
    ids=["custom-low", "custom-high"],
)
async def test_refusal_reaches_the_caller_and_stores_nothing(
    tmp_path: Path, decision: Decision, code: int, info: str | None
) -> None:
    """Either end of [10100, 10200] passes through with its ErrorInfo; nothing is stored, no
    after-webhook and no exception webhook goes out (the plain deny and the timeouts: the
    "group_send" scenario of test_before_vetoes)."""
    async with stack(tmp_path) as st:
        group = await with_group(st)

        @st.receiver.on(ev.GroupBeforeSendMsg)
        def refuse(event: ev.Event) -> Decision:
            return decision

        result = await send(st, group)
        assert result["ErrorCode"] == code, result
        if info is not None:
            assert result["ErrorInfo"] == info
        await st.drained()
        assert await st.outbox(AFTER) == []
        assert st.recorder.of(AFTER) == st.recorder.of(FAILED) == []
        assert (await history(st, group))["RspMsgList"] == []


def test_the_custom_codes_are_the_commands_range() -> None:
    """Group.CallbackBeforeSendMsg's registered custom range is [10100, 10200]."""
    assert COMMANDS[BEFORE].custom_range == (10100, 10200)


async def test_out_of_range_code_counts_as_a_deny(tmp_path: Path) -> None:
    """A C2C custom code (120001) is outside the group range: a plain deny, 10016."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        st.recorder.fail(
            BEFORE, respond(200, {"ActionStatus": "OK", "ErrorInfo": "x", "ErrorCode": 120001})
        )
        assert (await send(st, group))["ErrorCode"] == 10016
        assert (await history(st, group))["RspMsgList"] == []


async def test_discard_answers_success_and_stores_nothing(tmp_path: Path) -> None:
    """ErrorCode 2: the caller sees success (MsgSeq 0), nothing is stored, nothing follows; the
    next message still gets MsgSeq 1."""
    async with stack(tmp_path) as st:
        group = await with_group(st)

        @st.receiver.on(ev.GroupBeforeSendMsg)
        def discard(event: ev.Event) -> Decision:
            return Decision.discard()

        result = await send(st, group)
        assert (result["ErrorCode"], result["MsgSeq"]) == (0, 0)
        assert isinstance(result["MsgTime"], int)
        await st.drained()
        assert st.recorder.of(AFTER) == []
        assert (await history(st, group))["RspMsgList"] == []
        result = await send(st, group, ForbidCallbackControl=["ForbidBeforeSendMsgCallback"])
        assert result["MsgSeq"] == 1


async def test_rewrite_replaces_body_and_custom_data(tmp_path: Path) -> None:
    """MsgBody and CloudCustomData in the answer replace the message in the after-webhook and in
    the history."""
    clean = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "r** p****t"}}]
    async with stack(tmp_path) as st:
        group = await with_group(st)

        @st.receiver.on(ev.GroupBeforeSendMsg)
        def rewrite(event: ev.GroupBeforeSendMsg) -> Decision:
            assert [e.to_wire() for e in event.msg_body] == TEXT
            return Decision.rewrite(msg_body=clean, cloud_custom_data="moderated")

        assert (await send(st, group, CloudCustomData="raw"))["ErrorCode"] == 0
        [hit] = await st.recorder.wait_for(AFTER)
        assert (hit.body["MsgBody"], hit.body["CloudCustomData"]) == (clean, "moderated")
        [item] = (await history(st, group))["RspMsgList"]
        assert (item["MsgBody"], item["CloudCustomData"]) == (clean, "moderated")


# --- failed sends: Group.CallbackSendMsgException ------------------------------------------------


async def test_non_member_send_fails_with_exception_webhook(tmp_path: Path) -> None:
    """A sender outside the group gets 10007; Group.CallbackSendMsgException carries the message
    and the failure; no before- or after-webhook is sent."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        mark = len(st.recorder.hits)
        with Clock() as t:
            result = await send(st, group, From_Account="cid")
        assert result["ErrorCode"] == 10007, result
        await st.webhook(
            FAILED,
            t.window,
            GroupId=group,
            Type="Public",
            From_Account="cid",
            Operator_Account=ADMIN,
            Random=8912345,
            OnlineOnlyFlag=0,
            MsgBody=TEXT,
            CloudCustomData="",
            ErrorCode=10007,
            ErrorInfo=result["ErrorInfo"],
        )
        [event] = await st.received(FAILED)
        assert isinstance(event, ev.GroupSendMsgException)
        assert event.error_code == 10007
        assert await seen_since(st, mark) == [FAILED]


async def test_muted_member_send_fails_with_10017(tmp_path: Path) -> None:
    """A member muted by forbid_send_msg gets 10017 on a client send, which sends the exception
    webhook; unmuted (MuteTime 0), the member sends again."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await mute(st, group, "bob", 3600)
        body = {"GroupId": group, "MsgBody": TEXT, "Random": 1}
        with Clock() as t:
            result = await st.rest.client("bob", "send_group_msg", body, platform="Android")
        assert result["ErrorCode"] == 10017, result
        hit = await st.webhook(
            FAILED,
            t.window,
            "Android",
            GroupId=group,
            Type="Public",
            From_Account="bob",
            Operator_Account="bob",
            Random=1,
            OnlineOnlyFlag=0,
            MsgBody=TEXT,
            CloudCustomData="",
            ErrorCode=10017,
            ErrorInfo=result["ErrorInfo"],
        )
        assert hit.query["ClientIP"] == "127.0.0.1"
        assert (await history(st, group))["RspMsgList"] == []
        await mute(st, group, "bob", 0)
        assert (await st.rest.client("bob", "send_group_msg", body))["MsgSeq"] == 1


async def test_send_to_a_missing_group_fails_with_10010(tmp_path: Path) -> None:
    """A dismissed group: 10010, and the exception webhook with an empty Type."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await st.rest.ok(GROUP, "destroy_group", {"GroupId": group})
        with Clock() as t:
            result = await send(st, group)
        assert result["ErrorCode"] == 10010, result
        await st.webhook(
            FAILED,
            t.window,
            GroupId=group,
            Type="",
            From_Account="bob",
            Operator_Account=ADMIN,
            Random=8912345,
            OnlineOnlyFlag=0,
            MsgBody=TEXT,
            CloudCustomData="",
            ErrorCode=10010,
            ErrorInfo=result["ErrorInfo"],
        )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"MsgBody": []}, "MsgBody"),
        ({"MsgPriority": "Urgent"}, "MsgPriority"),
        ({"OnlineOnlyFlag": 2}, "OnlineOnlyFlag"),
        ({"Random": -1}, "Random"),
        ({"GroupId": ""}, "GroupId"),
    ],
)
async def test_bad_fields_are_10004_naming_the_field(
    tmp_path: Path, fields: dict[str, Any], named: str
) -> None:
    """A bad field is 10004 with an ErrorInfo naming it; no webhook."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        mark = len(st.recorder.hits)
        result = await send(st, group, **fields)
        assert result["ErrorCode"] == 10004, result
        assert named in result["ErrorInfo"]
        assert await seen_since(st, mark) == []


# --- recall ------------------------------------------------------------------------------------


async def test_group_msg_recall_sends_after_recall_msg(tmp_path: Path) -> None:
    """group_msg_recall answers each MsgSeq's RetCode (10030 for none such or recalled already)
    and sends Group.CallbackAfterRecallMsg with the recalled ones."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        for _ in range(2):
            await send(st, group)
        body = {"GroupId": group, "MsgSeqList": [{"MsgSeq": 1}, {"MsgSeq": 2}, {"MsgSeq": 9}]}
        with Clock() as t:
            result = await st.rest.ok(GROUP, "group_msg_recall", {**body, "Reason": "spam"})
        assert result["RecallRetList"] == [
            {"MsgSeq": 1, "RetCode": 0},
            {"MsgSeq": 2, "RetCode": 0},
            {"MsgSeq": 9, "RetCode": 10030},
        ]
        await st.webhook(
            RECALL,
            t.window,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            MsgSeqList=[{"MsgSeq": 1}, {"MsgSeq": 2}],
        )
        [event] = await st.received(RECALL)
        assert isinstance(event, ev.AfterRecallMsg)
        again = await st.rest.ok(
            GROUP, "group_msg_recall", {"GroupId": group, "MsgSeqList": [{"MsgSeq": 1}]}
        )
        assert again["RecallRetList"] == [{"MsgSeq": 1, "RetCode": 10030}]
        await st.drained()
        assert len(st.recorder.of(RECALL)) == 1


async def test_client_recall_rules(tmp_path: Path) -> None:
    """A member recalls its own message; another's is 10007 for a member and allowed for the
    owner; a message older than 2 minutes is 10031. The webhook names the client as operator."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await send(st, group)  # 1, bob's
        await send(st, group, From_Account="amy")  # 2, amy's
        await send(st, group)  # 3, bob's, made old below
        with sqlite3.connect(tmp_path / "chat.db") as db:
            db.execute(
                "UPDATE group_messages SET msg_time = msg_time - 121 WHERE group_id = ?"
                " AND msg_seq = 3",
                (group,),
            )
        seqs = [{"MsgSeq": 1}, {"MsgSeq": 2}, {"MsgSeq": 3}]
        with Clock() as t:
            result = await st.rest.client(
                "bob", "group_msg_recall", {"GroupId": group, "MsgSeqList": seqs}, "Mac"
            )
        assert result["RecallRetList"] == [
            {"MsgSeq": 1, "RetCode": 0},
            {"MsgSeq": 2, "RetCode": 10007},
            {"MsgSeq": 3, "RetCode": 10031},
        ]
        await st.webhook(
            RECALL,
            t.window,
            "Mac",
            GroupId=group,
            Type="Public",
            Operator_Account="bob",
            MsgSeqList=[{"MsgSeq": 1}],
        )
        owner = await st.rest.client(
            "amy", "group_msg_recall", {"GroupId": group, "MsgSeqList": [{"MsgSeq": 2}]}
        )
        assert owner["RecallRetList"] == [{"MsgSeq": 2, "RetCode": 0}]
        outsider = await st.rest.client(
            "cid", "group_msg_recall", {"GroupId": group, "MsgSeqList": [{"MsgSeq": 2}]}
        )
        assert outsider["ErrorCode"] == 10007


async def test_recall_in_a_missing_group_is_10010(tmp_path: Path) -> None:
    """group_msg_recall of a group that does not exist is 10010; a bad MsgSeq item is 10004."""
    async with stack(tmp_path) as st:
        body = {"GroupId": "nowhere", "MsgSeqList": [{"MsgSeq": 1}]}
        assert (await st.rest.call(GROUP, "group_msg_recall", body))["ErrorCode"] == 10010
        bad = await st.rest.call(
            GROUP, "group_msg_recall", {"GroupId": "nowhere", "MsgSeqList": [{"MsgSeq": "1"}]}
        )
        assert bad["ErrorCode"] == 10004
        assert "MsgSeqList[0].MsgSeq" in bad["ErrorInfo"]


# --- history ------------------------------------------------------------------------------------


async def test_group_msg_get_simple_pages_by_seq(tmp_path: Path) -> None:
    """The latest ReqMsgNumber messages, newest first; ReqMsgSeq continues below; IsFinished 1
    once MsgSeq 1 is returned."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        for i in range(5):
            await send(st, group, Random=i)
        first = await history(st, group, ReqMsgNumber=3)
        assert first["GroupId"] == group
        assert [m["MsgSeq"] for m in first["RspMsgList"]] == [5, 4, 3]
        assert first["IsFinished"] == 0
        rest = await history(st, group, ReqMsgNumber=3, ReqMsgSeq=2)
        assert [m["MsgSeq"] for m in rest["RspMsgList"]] == [2, 1]
        assert rest["IsFinished"] == 1
        item = rest["RspMsgList"][-1]
        assert item == {
            "From_Account": "bob",
            "IsPlaceMsg": 0,
            "MsgBody": TEXT,
            "MsgPriority": "Normal",
            "MsgRandom": 0,
            "MsgSeq": 1,
            "MsgTimeStamp": item["MsgTimeStamp"],
            "CloudCustomData": "",
        }
        assert isinstance(item["MsgTimeStamp"], int)


async def test_recalled_and_online_only_messages_are_placeholders(tmp_path: Path) -> None:
    """A recalled message is a placeholder (IsPlaceMsg 1, no body) unless WithRecalledMsg is 1;
    a message sent online only is always one."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await send(st, group)
        await send(st, group, OnlineOnlyFlag=1)
        await st.rest.ok(
            GROUP, "group_msg_recall", {"GroupId": group, "MsgSeqList": [{"MsgSeq": 1}]}
        )
        plain = (await history(st, group))["RspMsgList"]
        assert [(m["MsgSeq"], m["IsPlaceMsg"], m["MsgBody"]) for m in plain] == [
            (2, 1, []),
            (1, 1, []),
        ]
        full = (await history(st, group, WithRecalledMsg=1))["RspMsgList"]
        assert [(m["MsgSeq"], m["IsPlaceMsg"], m["MsgBody"]) for m in full] == [
            (2, 1, []),
            (1, 0, TEXT),
        ]


async def test_history_errors(tmp_path: Path) -> None:
    """An AVChatRoom keeps no history (10007), a missing group is 10010, and at most 20
    messages come back."""
    async with stack(tmp_path) as st:
        av = await with_group(st, "AVChatRoom")
        body = {"GroupId": av, "ReqMsgNumber": 1}
        assert (await st.rest.call(GROUP, "group_msg_get_simple", body))["ErrorCode"] == 10007
        body = {"GroupId": "nowhere", "ReqMsgNumber": 1}
        assert (await st.rest.call(GROUP, "group_msg_get_simple", body))["ErrorCode"] == 10010
        group = await st.rest.create_group("amy", "Public")
        for _ in range(21):
            await st.rest.ok(GROUP, "send_group_msg", {"GroupId": group, "MsgBody": TEXT})
        page = await history(st, group, ReqMsgNumber=50)
        assert [m["MsgSeq"] for m in page["RspMsgList"]] == list(range(21, 1, -1))
        assert page["IsFinished"] == 0


async def test_a_group_made_again_with_a_dismissed_groups_id_starts_without_history(
    tmp_path: Path,
) -> None:
    """destroy_group takes the group's messages with it: a new group under the same GroupId
    starts at MsgSeq 1 with an empty history."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy")
        group = await st.rest.create_group("amy", GroupId="hikers")
        await st.rest.call(GROUP, "send_group_msg", {**_FROM_ADMIN, "GroupId": group})
        assert len((await history(st, group))["RspMsgList"]) == 1
        await st.rest.ok(GROUP, "destroy_group", {"GroupId": group})
        assert await st.rest.create_group("amy", GroupId=group) == group
        assert (await history(st, group))["RspMsgList"] == []
        assert (await st.rest.call(GROUP, "send_group_msg", {**_FROM_ADMIN, "GroupId": group}))[
            "MsgSeq"
        ] == 1


async def test_a_muted_group_lets_only_its_owner_and_admins_send(tmp_path: Path) -> None:
    """With ShutUpAllMember On, a member's send gets 10017 and sends the exception webhook; the
    owner still sends; Off lets the member send again."""
    async with stack(tmp_path) as st:
        group = await with_group(st)
        await st.rest.ok(
            GROUP, "modify_group_base_info", {"GroupId": group, "ShutUpAllMember": "On"}
        )
        refused = await send(st, group)
        assert refused["ErrorCode"] == 10017, refused
        [failed] = await st.recorder.wait_for(FAILED)
        assert (failed.body["From_Account"], failed.body["ErrorCode"]) == ("bob", 10017)
        assert (await send(st, group, From_Account="amy"))["ErrorCode"] == 0
        await st.rest.ok(
            GROUP, "modify_group_base_info", {"GroupId": group, "ShutUpAllMember": "Off"}
        )
        assert (await send(st, group))["ErrorCode"] == 0
