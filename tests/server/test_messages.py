"""One-to-one messages on serve: sendmsg, batchsendmsg, admin_msgwithdraw, admin_set_msg_read,
admin_getroammsg and the client actions, with the C2C webhooks at a real receiver.

The fields and codes follow the pages named in ``timhooks.server.messages`` (docs/rest/messages.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from server_support import (
    ADMIN,
    CONFIG,
    TOKEN,
    Clock,
    Stack,
    check_body,
    check_query,
    respond,
    stack,
)

from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol import events as ev

OPENIM = "openim"
TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]
# One element of every MsgType of "Message Formats" (https://www.tencentcloud.com/document/product/1047/33527).
EVERY_TYPE = [
    {"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}},
    {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 6, "Data": "abc\u0000\u0001"}},
    {
        "MsgType": "TIMLocationElem",
        "MsgContent": {"Desc": "someplace", "Latitude": 29.340656, "Longitude": 116.324115},
    },
    {
        "MsgType": "TIMCustomElem",
        "MsgContent": {"Data": "msg", "Desc": "d", "Ext": "u", "Sound": ""},
    },
    {
        "MsgType": "TIMImageElem",
        "MsgContent": {
            "UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F",
            "ImageFormat": 1,
            "ImageInfoArray": [
                {"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264, "URL": "http://i/1"}
            ],
        },
    },
    {
        "MsgType": "TIMSoundElem",
        "MsgContent": {
            "Url": "https://s/1",
            "UUID": "u1",
            "Size": 62351,
            "Second": 1,
            "Download_Flag": 2,
        },
    },
    {
        "MsgType": "TIMVideoFileElem",
        "MsgContent": {
            "VideoUrl": "https://v/1",
            "VideoUUID": "v1",
            "VideoSize": 1194603,
            "VideoSecond": 5,
            "VideoFormat": "mp4",
            "VideoDownloadFlag": 2,
            "ThumbUrl": "https://t/1",
            "ThumbUUID": "t1",
            "ThumbSize": 13907,
            "ThumbWidth": 720,
            "ThumbHeight": 1280,
            "ThumbFormat": "JPG",
            "ThumbDownloadFlag": 2,
        },
    },
    {
        "MsgType": "TIMFileElem",
        "MsgContent": {
            "Url": "https://f/1",
            "UUID": "f1",
            "FileSize": 1773552,
            "FileName": "file:///private/var/Mobile/tmp/a.zip",
            "Download_Flag": 2,
        },
    },
]
BEFORE = ev.C2CBeforeSendMsg.command
AFTER = ev.C2CAfterSendMsg.command
WITHDRAW = ev.C2CAfterMsgWithDraw.command
REPORT = ev.C2CAfterMsgReport.command


async def send(st: Stack, to: str = "bob", **fields: Any) -> dict[str, Any]:
    body = {"From_Account": "amy", "To_Account": to, "MsgRandom": 1287657, "MsgBody": TEXT}
    return await st.rest.call(OPENIM, "sendmsg", {**body, **fields})


async def history(st: Stack, me: str = "amy", peer: str = "bob", **fields: Any) -> dict[str, Any]:
    body = {
        "Operator_Account": me,
        "Peer_Account": peer,
        "MaxCnt": 100,
        "MinTime": 0,
        "MaxTime": 2**32 - 1,
    }
    return await st.rest.ok(OPENIM, "admin_getroammsg", {**body, **fields})


def key_parts(key: str) -> tuple[int, int, int]:
    seq, random, when = key.split("_")
    return int(seq), int(random), int(when)


# --- sendmsg: the webhooks ------------------------------------------------------------------------


async def test_sendmsg_sends_before_and_after_signed(tmp_path: Path) -> None:
    """sendmsg on behalf of amy sends C2C.CallbackBeforeSendMsg, then C2C.CallbackAfterSendMsg,
    each with Tencent's signed query and exactly the documented body; the answer's MsgKey is
    <MsgSeq>_<MsgRandom>_<MsgTime>."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("amy", "bob")
        with Clock() as t:
            result = await send(st, CloudCustomData="ccd", MsgSeq=93847636)
        assert result["ErrorCode"] == 0, result
        key = result["MsgKey"]
        assert key == f"93847636_1287657_{result['MsgTime']}"
        assert isinstance(result["MsgId"], str)
        assert result["MsgId"]
        common = {
            "From_Account": "amy",
            "To_Account": "bob",
            "MsgSeq": 93847636,
            "MsgRandom": 1287657,
            "MsgTime": result["MsgTime"],
            "MsgKey": key,
            "OnlineOnlyFlag": 0,
            "MsgBody": TEXT,
            "CloudCustomData": "ccd",
        }
        await st.webhook(BEFORE, t.window, **common)
        await st.webhook(
            AFTER,
            t.window,
            **common,
            SendMsgResult=0,
            ErrorInfo="send msg succeed",
            UnreadMsgNum=1,
        )
        [before] = await st.received(BEFORE)
        assert isinstance(before, ev.C2CBeforeSendMsg)
        assert before.msg_key == key
        [after] = await st.received(AFTER)
        assert isinstance(after, ev.C2CAfterSendMsg)
        assert (after.to_account, after.unread_msg_num, after.msg_seq) == ("bob", 1, 93847636)
        assert st.recorder.commands() == [BEFORE, AFTER]


async def test_client_sendmsg_comes_from_the_user_and_platform(tmp_path: Path) -> None:
    """A client's sendmsg is sent by the acting user: OptPlatform is its platform, ClientIP its
    address, and UnreadMsgNum counts bob's unread messages."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("bob")
        body = {"To_Account": "bob", "MsgBody": TEXT}
        with Clock() as t:
            first = await st.rest.client("amy", "sendmsg", body, platform="iOS")
            second = await st.rest.client("amy", "sendmsg", body, platform="iOS")
        assert first["ErrorCode"] == 0, first
        seq1, _, _ = key_parts(first["MsgKey"])
        seq2, random2, _ = key_parts(second["MsgKey"])
        assert seq2 == seq1 + 1  # messages of one conversation keep their order
        hit = await st.webhook(
            AFTER,
            t.window,
            "iOS",
            nth=2,
            From_Account="amy",
            To_Account="bob",
            MsgSeq=seq2,
            MsgRandom=random2,
            MsgTime=second["MsgTime"],
            MsgKey=second["MsgKey"],
            OnlineOnlyFlag=0,
            SendMsgResult=0,
            ErrorInfo="send msg succeed",
            UnreadMsgNum=2,
            MsgBody=TEXT,
            CloudCustomData="",
        )
        assert hit.query["OptPlatform"] == "iOS"


async def test_every_msg_type_is_kept_as_given(tmp_path: Path) -> None:
    """A MsgBody with an element of each MsgType reaches both webhooks and history unchanged,
    and reads as the typed contents."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        result = await send(st, MsgBody=EVERY_TYPE)
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(AFTER)
        assert hit.body["MsgBody"] == EVERY_TYPE
        assert st.recorder.of(BEFORE)[0].body["MsgBody"] == EVERY_TYPE
        [after] = await st.received(AFTER)
        assert isinstance(after, ev.C2CAfterSendMsg)
        assert [type(e.msg_content).__name__ for e in after.msg_body] == [
            "TextContent",
            "FaceContent",
            "LocationContent",
            "CustomContent",
            "ImageContent",
            "SoundContent",
            "VideoFileContent",
            "FileContent",
        ]
        [item] = (await history(st))["MsgList"]
        assert item["MsgBody"] == EVERY_TYPE


async def test_forbid_callback_control_switches_the_webhooks_off(tmp_path: Path) -> None:
    """ForbidBeforeSendMsgCallback skips the before-webhook, ForbidAfterSendMsgCallback the
    after-webhook, for that message only; the message is sent either way."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        no_before = await send(st, ForbidCallbackControl=["ForbidBeforeSendMsgCallback"])
        no_after = await send(st, ForbidCallbackControl=["ForbidAfterSendMsgCallback"])
        both = ["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"]
        await send(st, ForbidCallbackControl=both)
        await st.drained()
        assert [h.body["MsgKey"] for h in st.recorder.of(BEFORE)] == [no_after["MsgKey"]]
        assert [h.body["MsgKey"] for h in st.recorder.of(AFTER)] == [no_before["MsgKey"]]
        assert (await history(st))["MsgCnt"] == 3


async def test_switched_off_commands_send_nothing(tmp_path: Path) -> None:
    """An app whose CallbackCommandList lacks the C2C commands gets none of them; the message
    is still sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        await st.rest.ok(
            CONFIG, "set_callback", {"CallbackCommandList": ["Group.CallbackAfterGroupFull"]}
        )
        result = await send(st)
        assert result["ErrorCode"] == 0, result
        await st.rest.ok(
            OPENIM,
            "admin_msgwithdraw",
            {"From_Account": "amy", "To_Account": "bob", "MsgKey": result["MsgKey"]},
        )
        await st.rest.ok(
            OPENIM, "admin_set_msg_read", {"Report_Account": "bob", "Peer_Account": "amy"}
        )
        await st.drained()
        assert st.recorder.commands() == []
        assert (await history(st))["MsgCnt"] == 1


# --- sendmsg: before-webhook decisions ------------------------------------------------------------


async def test_allow_sends_the_message(tmp_path: Path) -> None:
    """ErrorCode 0 lets the message through unchanged."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")

        @st.receiver.on(ev.C2CBeforeSendMsg)
        def allow(event: ev.Event) -> Decision:
            return Decision.allow()

        result = await send(st)
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(AFTER)
        assert hit.body["MsgBody"] == TEXT
        assert [m["MsgKey"] for m in (await history(st))["MsgList"]] == [result["MsgKey"]]


@pytest.mark.parametrize(
    ("decision", "code", "info"),
    [
        (Decision.reject(120001, "no red packets"), 120001, "no red packets"),
        (Decision.reject(130000, "banned word"), 130000, "banned word"),
    ],
    ids=["custom-low", "custom-high"],
)
async def test_refusal_reaches_the_caller_and_stores_nothing(
    tmp_path: Path, decision: Decision, code: int, info: str | None
) -> None:
    """Either end of [120001, 130000] passes through with its ErrorInfo; nothing is stored and
    no after-webhook goes out (the plain deny and the timeouts: the "c2c_send" scenario of
    test_before_vetoes)."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")

        @st.receiver.on(ev.C2CBeforeSendMsg)
        def refuse(event: ev.Event) -> Decision:
            return decision

        result = await send(st)
        assert result["ErrorCode"] == code, result
        if info is not None:
            assert result["ErrorInfo"] == info
        await st.drained()
        assert await st.outbox(AFTER) == []
        assert st.recorder.of(AFTER) == []
        assert (await history(st))["MsgList"] == []


def test_the_custom_codes_are_the_commands_range() -> None:
    """C2C.CallbackBeforeSendMsg's registered custom range is [120001, 130000]."""
    assert COMMANDS[BEFORE].custom_range == (120001, 130000)


async def test_out_of_range_code_counts_as_a_deny(tmp_path: Path) -> None:
    """An answer with a code outside the range (10100, a group code) refuses like ErrorCode 1."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        st.recorder.fail(
            BEFORE, respond(200, {"ActionStatus": "OK", "ErrorInfo": "x", "ErrorCode": 10100})
        )
        result = await send(st)
        assert result["ErrorCode"] == 20006, result
        assert (await history(st))["MsgList"] == []


async def test_discard_answers_success_and_stores_nothing(tmp_path: Path) -> None:
    """ErrorCode 2 drops the message: the caller sees success with a MsgKey, nothing is stored
    (a recall finds nothing: 20022) and no after-webhook goes out."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")

        @st.receiver.on(ev.C2CBeforeSendMsg)
        def discard(event: ev.Event) -> Decision:
            return Decision.discard()

        result = await send(st)
        assert result["ErrorCode"] == 0, result
        assert result["MsgKey"].count("_") == 2
        await st.drained()
        assert st.recorder.of(AFTER) == []
        assert (await history(st))["MsgList"] == []
        recall = await st.rest.call(
            OPENIM,
            "admin_msgwithdraw",
            {"From_Account": "amy", "To_Account": "bob", "MsgKey": result["MsgKey"]},
        )
        assert recall["ErrorCode"] == 20022


async def test_rewrite_replaces_body_and_custom_data(tmp_path: Path) -> None:
    """MsgBody and CloudCustomData in the answer replace the message: the after-webhook and the
    history carry the app's versions."""
    clean = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "h***o"}}]
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")

        @st.receiver.on(ev.C2CBeforeSendMsg)
        def rewrite(event: ev.C2CBeforeSendMsg) -> Decision:
            assert [e.to_wire() for e in event.msg_body] == TEXT
            return Decision.rewrite(msg_body=clean, cloud_custom_data="moderated")

        result = await send(st, CloudCustomData="raw")
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(AFTER)
        assert (hit.body["MsgBody"], hit.body["CloudCustomData"]) == (clean, "moderated")
        [item] = (await history(st))["MsgList"]
        assert (item["MsgBody"], item["CloudCustomData"]) == (clean, "moderated")


# --- sendmsg: checks ----------------------------------------------------------------------------


async def test_accounts_must_be_imported(tmp_path: Path) -> None:
    """A recipient that is not imported is 90012, a From_Account that is not 90008; no webhook
    is sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy")
        assert (await send(st, to="ghost"))["ErrorCode"] == 90012
        assert (await send(st, From_Account="ghost", to="amy"))["ErrorCode"] == 90008
        await st.drained()
        assert st.recorder.commands() == []


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({"MsgLifeTime": 604801}, 90026, "MsgLifeTime"),
        ({"MsgLifeTime": -1}, 90026, "MsgLifeTime"),
        ({"MsgBody": []}, 90001, "MsgBody"),
        ({"MsgBody": [{"MsgContent": {}}]}, 90001, "MsgBody"),
        ({"MsgRandom": 2**32}, 90001, "MsgRandom"),
        ({"SyncOtherMachine": 3}, 90001, "SyncOtherMachine"),
        ({"To_Account": ""}, 90001, "To_Account"),
    ],
)
async def test_bad_fields_are_named(
    tmp_path: Path, fields: dict[str, Any], code: int, named: str
) -> None:
    """A bad field gets its code and an ErrorInfo naming it."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        result = await send(st, **fields)
        assert result["ErrorCode"] == code, result
        assert named in result["ErrorInfo"]


async def test_online_only_message_is_not_in_history(tmp_path: Path) -> None:
    """MsgLifeTime 0 sends online only: OnlineOnlyFlag 1 in the webhooks, not in history, not
    counted unread."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        result = await send(st, MsgLifeTime=0)
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(AFTER)
        assert (hit.body["OnlineOnlyFlag"], hit.body["UnreadMsgNum"]) == (1, 0)
        assert st.recorder.of(BEFORE)[0].body["OnlineOnlyFlag"] == 1
        assert (await history(st))["MsgList"] == []


async def test_sync_other_machine_2_hides_it_from_the_sender(tmp_path: Path) -> None:
    """SyncOtherMachine 2: the message is in the recipient's history, not the sender's."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        result = await send(st, SyncOtherMachine=2)
        assert result["ErrorCode"] == 0, result
        assert (await history(st, "amy", "bob"))["MsgList"] == []
        [item] = (await history(st, "bob", "amy"))["MsgList"]
        assert item["MsgKey"] == result["MsgKey"]


async def test_admin_sends_as_itself_without_from_account(tmp_path: Path) -> None:
    """Without From_Account the admin is the sender."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("bob")
        result = await st.rest.ok(OPENIM, "sendmsg", {"To_Account": "bob", "MsgBody": TEXT})
        [hit] = await st.recorder.wait_for(AFTER)
        assert hit.body["From_Account"] == ADMIN
        assert hit.body["MsgKey"] == result["MsgKey"]


# --- batchsendmsg ---------------------------------------------------------------------------------


async def test_batchsendmsg_stores_for_each_and_lists_failures(tmp_path: Path) -> None:
    """batchsendmsg stores one message (one MsgKey) for each imported recipient, lists the others
    in ErrorList with 70107, and sends no webhook (its page: "does not trigger callbacks")."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob", "cid")
        result = await st.rest.ok(
            OPENIM,
            "batchsendmsg",
            {
                "From_Account": "amy",
                "To_Account": ["bob", "ghost", "cid"],
                "MsgRandom": 7,
                "MsgBody": TEXT,
            },
        )
        assert result["ErrorList"] == [{"To_Account": "ghost", "ErrorCode": 70107}]
        _, random, _ = key_parts(result["MsgKey"])
        assert random == 7
        for peer in ("bob", "cid"):
            [item] = (await history(st, "amy", peer))["MsgList"]
            assert (item["MsgKey"], item["To_Account"]) == (result["MsgKey"], peer)
        await st.drained()
        assert st.recorder.commands() == []


async def test_batchsendmsg_takes_at_most_500(tmp_path: Path) -> None:
    """More than 500 recipients is 90011."""
    async with stack(tmp_path) as st:
        body = {"To_Account": [f"u{i}" for i in range(501)], "MsgBody": TEXT}
        result = await st.rest.call(OPENIM, "batchsendmsg", body)
        assert result["ErrorCode"] == 90011, result


# --- recall ---------------------------------------------------------------------------------------


async def test_admin_msgwithdraw_sends_after_msg_withdraw(tmp_path: Path) -> None:
    """admin_msgwithdraw recalls the message: C2C.CallbackAfterMsgWithDraw with the MsgKey and
    bob's unread count (the recalled one no longer counts); history flags it (MsgFlagBits 8)."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        first = await send(st)
        await send(st, MsgRandom=2)
        with Clock() as t:
            await st.rest.ok(
                OPENIM,
                "admin_msgwithdraw",
                {"From_Account": "amy", "To_Account": "bob", "MsgKey": first["MsgKey"]},
            )
        await st.webhook(
            WITHDRAW,
            t.window,
            From_Account="amy",
            To_Account="bob",
            MsgKey=first["MsgKey"],
            UnreadMsgNum=1,
        )
        [event] = await st.received(WITHDRAW)
        assert isinstance(event, ev.C2CAfterMsgWithDraw)
        flags = {m["MsgKey"]: m["MsgFlagBits"] for m in (await history(st))["MsgList"]}
        assert flags[first["MsgKey"]] == 8
        assert sorted(flags.values()) == [0, 8]


async def test_recall_errors(tmp_path: Path) -> None:
    """A second recall is 20023, an unknown key 20022, a malformed one 90054, an unknown
    recipient 90003 and sender 90008; no webhook for them."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        key = (await send(st))["MsgKey"]
        body = {"From_Account": "amy", "To_Account": "bob"}
        await st.rest.ok(OPENIM, "admin_msgwithdraw", {**body, "MsgKey": key})
        again = await st.rest.call(OPENIM, "admin_msgwithdraw", {**body, "MsgKey": key})
        assert again["ErrorCode"] == 20023
        unknown = await st.rest.call(OPENIM, "admin_msgwithdraw", {**body, "MsgKey": "1_2_3"})
        assert unknown["ErrorCode"] == 20022
        bad = await st.rest.call(OPENIM, "admin_msgwithdraw", {**body, "MsgKey": "nope"})
        assert bad["ErrorCode"] == 90054
        ghost = {"From_Account": "amy", "To_Account": "ghost", "MsgKey": key}
        assert (await st.rest.call(OPENIM, "admin_msgwithdraw", ghost))["ErrorCode"] == 90003
        ghost = {"From_Account": "ghost", "To_Account": "bob", "MsgKey": key}
        assert (await st.rest.call(OPENIM, "admin_msgwithdraw", ghost))["ErrorCode"] == 90008
        await st.drained()
        assert len(st.recorder.of(WITHDRAW)) == 1


async def test_client_recalls_its_own_recent_message(tmp_path: Path) -> None:
    """A client recalls its own message (C2C.CallbackAfterMsgWithDraw with its platform); one
    older than 2 minutes is 20016; another user's key finds nothing (20022)."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("bob")
        sent = await st.rest.client("amy", "sendmsg", {"To_Account": "bob", "MsgBody": TEXT})
        old = await st.rest.client("amy", "sendmsg", {"To_Account": "bob", "MsgBody": TEXT})
        with sqlite3.connect(tmp_path / "chat.db") as db:
            db.execute(
                "UPDATE c2c_messages SET msg_time = msg_time - 121 WHERE msg_key = ?",
                (old["MsgKey"],),
            )
        not_theirs = await st.rest.client(
            "bob", "msgwithdraw", {"To_Account": "amy", "MsgKey": sent["MsgKey"]}
        )
        assert not_theirs["ErrorCode"] == 20022
        late = await st.rest.client(
            "amy", "msgwithdraw", {"To_Account": "bob", "MsgKey": old["MsgKey"]}
        )
        assert late["ErrorCode"] == 20016
        with Clock() as t:
            done = await st.rest.client(
                "amy", "msgwithdraw", {"To_Account": "bob", "MsgKey": sent["MsgKey"]}, "Web"
            )
        assert done["ErrorCode"] == 0, done
        await st.webhook(
            WITHDRAW,
            t.window,
            "Web",
            From_Account="amy",
            To_Account="bob",
            MsgKey=sent["MsgKey"],
            UnreadMsgNum=1,
        )


# --- read reports ------------------------------------------------------------------------------


async def test_admin_set_msg_read_sends_after_msg_report(tmp_path: Path) -> None:
    """admin_set_msg_read marks bob's conversation with amy read up to MsgReadTime:
    C2C.CallbackAfterMsgReport with LastReadTime and bob's remaining unread count."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob", "cid")
        sent = await send(st)
        await st.rest.ok(
            OPENIM, "sendmsg", {"From_Account": "cid", "To_Account": "bob", "MsgBody": TEXT}
        )
        with Clock() as t:
            await st.rest.ok(
                OPENIM,
                "admin_set_msg_read",
                {"Report_Account": "bob", "Peer_Account": "amy", "MsgReadTime": sent["MsgTime"]},
            )
        await st.webhook(
            REPORT,
            t.window,
            Report_Account="bob",
            Peer_Account="amy",
            LastReadTime=sent["MsgTime"],
            UnreadMsgNum=1,  # cid's message is still unread
        )
        [event] = await st.received(REPORT)
        assert isinstance(event, ev.C2CAfterMsgReport)
        [item] = (await history(st))["MsgList"]
        assert item["IsPeerRead"] == 1


async def test_client_reports_a_conversation_read(tmp_path: Path) -> None:
    """A client's set_msg_read reports the acting user as reader, read up to now by default."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        await send(st)
        with Clock() as t:
            result = await st.rest.client("bob", "set_msg_read", {"Peer_Account": "amy"})
        assert result["ErrorCode"] == 0, result
        [hit] = await st.recorder.wait_for(REPORT)
        check_query(hit, REPORT, "Android")
        last = hit.body["LastReadTime"]
        assert int(t.start) <= last <= int(t.end)
        check_body(
            hit,
            REPORT,
            t.window,
            Report_Account="bob",
            Peer_Account="amy",
            LastReadTime=last,
            UnreadMsgNum=0,
        )


async def test_set_msg_read_needs_imported_accounts(tmp_path: Path) -> None:
    """A reader or peer that is not imported is 90048; nothing is sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("bob")
        result = await st.rest.call(
            OPENIM, "admin_set_msg_read", {"Report_Account": "bob", "Peer_Account": "ghost"}
        )
        assert result["ErrorCode"] == 90048, result
        assert "ghost" in result["ErrorInfo"]
        await st.drained()
        assert st.recorder.of(REPORT) == []


# --- history ------------------------------------------------------------------------------------


async def test_getroammsg_pages_newest_first(tmp_path: Path) -> None:
    """admin_getroammsg returns the conversation newest first, MaxCnt at a time: Complete 0 and
    LastMsgKey while more remain, and the next page continues after LastMsgKey."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        keys = []
        for i in range(5):
            sender, to = ("amy", "bob") if i % 2 == 0 else ("bob", "amy")
            result = await send(st, to=to, From_Account=sender, MsgRandom=i)
            keys.append(result["MsgKey"])
        first = await history(st, MaxCnt=3)
        assert (first["Complete"], first["MsgCnt"]) == (0, 3)
        assert [m["MsgKey"] for m in first["MsgList"]] == keys[::-1][:3]
        assert first["LastMsgKey"] == keys[2]
        rest = await history(
            st, MaxCnt=3, MaxTime=first["LastMsgTime"], LastMsgKey=first["LastMsgKey"]
        )
        assert (rest["Complete"], rest["MsgCnt"]) == (1, 2)
        assert [m["MsgKey"] for m in rest["MsgList"]] == keys[1::-1]
        item = rest["MsgList"][-1]
        assert set(item) == {
            "From_Account",
            "To_Account",
            "MsgSeq",
            "MsgRandom",
            "MsgTimeStamp",
            "MsgFlagBits",
            "IsPeerRead",
            "MsgKey",
            "MsgBody",
            "CloudCustomData",
        }
        assert (item["From_Account"], item["To_Account"], item["MsgRandom"]) == ("amy", "bob", 0)


async def test_getroammsg_time_range(tmp_path: Path) -> None:
    """Only messages with MinTime <= MsgTime <= MaxTime come back; MinTime after MaxTime is
    90001."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("amy", "bob")
        sent = await send(st)
        when = sent["MsgTime"]
        assert (await history(st, MinTime=when + 1))["MsgList"] == []
        assert (await history(st, MaxTime=when - 1))["MsgList"] == []
        assert (await history(st, MinTime=when, MaxTime=when))["MsgCnt"] == 1
        bad = await st.rest.call(
            OPENIM,
            "admin_getroammsg",
            {
                "Operator_Account": "amy",
                "Peer_Account": "bob",
                "MaxCnt": 1,
                "MinTime": 5,
                "MaxTime": 4,
            },
        )
        assert bad["ErrorCode"] == 90001
        assert "MinTime" in bad["ErrorInfo"]
