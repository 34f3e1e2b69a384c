"""The receiver takes every Tencent command: verified, stored once, answered as it expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from receiver_support import ACK, APP, client, eventually, receiving

from timhooks.protocol import COMMANDS, Decision, build_query, compute_sign
from timhooks.protocol import events as ev
from timhooks.receiver import Receiver
from timhooks.storage import InboxStatus

CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
SAMPLES = {p.stem: json.loads(p.read_text())[0] for p in sorted(CATALOG.glob("*.json"))}
AFTER = sorted(n for n in SAMPLES if not COMMANDS[n].is_before)
TOKEN = "s3cret"
# Commands whose URL carries no ClientIP and no OptPlatform.
BARE = {"Group.CallbackOnMemberStateChange", "ContentCallback.ResultNotify", "Push.OfflinePush"}


def url(command: str, at: int) -> str:
    """Tencent's webhook URL for ``command``, signed at ``at``."""
    if command in BARE:
        return (
            f"/?SdkAppid={APP}&CallbackCommand={command}&contenttype=json"
            f"&Sign={compute_sign(TOKEN, at)}&RequestTime={at}"
        )
    q = build_query(
        sdk_app_id=APP,
        callback_command=command,
        client_ip="10.0.0.1",
        opt_platform="iOS",
        request_time=at,
        sign=compute_sign(TOKEN, at),
    )
    return f"/?{q}"


async def deliver(receiver: Receiver, command: str, body: dict[str, Any]) -> Any:
    """POST a signed webhook in-process; the answer's JSON (HTTP 200 required)."""
    async with client(receiver) as http:
        response = await http.post(url(command, int(receiver.clock())), content=json.dumps(body))
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_after_command_is_stored_once_and_handled(tmp_path: Path) -> None:
    """Each after-webhook sample is verified, answered OK, stored once (a repeat is not stored
    again) and handed to its handler as its typed event."""
    seen: dict[str, ev.Event] = {}
    async with receiving(tmp_path, token=TOKEN) as receiver:

        @receiver.on("*")
        async def handle(event: ev.Event) -> None:
            seen[event.callback_command] = event

        for command in AFTER:
            assert await deliver(receiver, command, SAMPLES[command]) == ACK
            assert await deliver(receiver, command, SAMPLES[command]) == ACK  # a retry

        await eventually(lambda: _all_done(receiver, len(AFTER)))
        entries = await receiver.inbox.list(limit=500)
        assert sorted(e.command for e in entries) == AFTER
        assert {e.phase for e in entries} == {"after"}
    assert sorted(seen) == AFTER
    for command, event in seen.items():
        assert type(event) is COMMANDS[command].model


async def _all_done(receiver: Receiver, count: int) -> bool:
    entries = await receiver.inbox.list(limit=500)
    return len(entries) == count and all(e.status is InboxStatus.DONE for e in entries)


# Without a handler every answered command is allowed, in its own answer's shape.
DEFAULT_ANSWERS: dict[str, dict[str, Any]] = {
    "C2C.CallbackBeforeSendMsg": ACK,
    "Group.CallbackBeforeSendMsg": ACK,
    "Group.CallbackBeforeCreateTopic": ACK,
    "Sns.CallbackPrevFriendAdd": {
        **ACK,
        "ResultItem": [
            {"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""},
            {"To_Account": "id2", "ResultCode": 0, "ResultInfo": ""},
        ],
    },
    "Sns.CallbackPrevFriendResponse": {
        **ACK,
        "ResultItem": [
            {"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""},
            {"To_Account": "id2", "ResultCode": 0, "ResultInfo": ""},
        ],
    },
    "Chatbot.OnC2CSignalMessage": {**ACK, "RspData": ""},
}


@pytest.mark.parametrize("command", sorted(DEFAULT_ANSWERS))
async def test_answered_commands_without_a_handler_are_allowed(
    tmp_path: Path, command: str
) -> None:
    """With no handler each answered command gets its allow answer, and is recorded."""
    async with receiving(tmp_path, token=TOKEN) as receiver:
        assert await deliver(receiver, command, SAMPLES[command]) == DEFAULT_ANSWERS[command]
    async with receiving(tmp_path) as receiver:
        [entry] = await receiver.inbox.list()
        assert (entry.command, entry.phase, entry.status) == (
            command,
            "before",
            InboxStatus.ANSWERED,
        )


async def test_handlers_answer_with_each_commands_decisions(tmp_path: Path) -> None:
    """A C2C veto, a group custom code, a per-recipient friend answer and a chatbot reply are
    answered as Tencent expects."""
    async with receiving(tmp_path, token=TOKEN) as receiver:

        @receiver.on(ev.C2CBeforeSendMsg)
        def moderate(event: ev.C2CBeforeSendMsg) -> Decision:
            text = ev.message_text(event.msg_body)
            return event.reject(120001, "no red packets") if "red packet" in text else event.allow()

        @receiver.on(ev.GroupBeforeSendMsg)
        def mask(event: ev.GroupBeforeSendMsg) -> Decision:
            return event.rewrite(msg_body=[ev.MsgElement.text("***")])

        @receiver.on(ev.PrevFriendAdd)
        def friends(event: ev.PrevFriendAdd) -> Decision:
            return event.per_recipient({"id2": (38001, "id2 takes no requests")})

        @receiver.on(ev.ChatbotOnC2CSignalMessage)
        def bot(event: ev.ChatbotOnC2CSignalMessage) -> Decision:
            return event.reply(json.dumps({"echo": json.loads(event.data)["msg"]}))

        c2c = await deliver(
            receiver, "C2C.CallbackBeforeSendMsg", SAMPLES["C2C.CallbackBeforeSendMsg"]
        )
        assert c2c == {"ActionStatus": "OK", "ErrorInfo": "no red packets", "ErrorCode": 120001}
        group = await deliver(
            receiver, "Group.CallbackBeforeSendMsg", SAMPLES["Group.CallbackBeforeSendMsg"]
        )
        assert group["MsgBody"] == [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]
        friend = await deliver(
            receiver, "Sns.CallbackPrevFriendAdd", SAMPLES["Sns.CallbackPrevFriendAdd"]
        )
        assert friend["ErrorCode"] == 0
        assert [i["ResultCode"] for i in friend["ResultItem"]] == [0, 38001]
        reply = await deliver(
            receiver, "Chatbot.OnC2CSignalMessage", SAMPLES["Chatbot.OnC2CSignalMessage"]
        )
        assert json.loads(reply["RspData"]) == {
            "echo": "This is a user-defined passthrough content"
        }


async def test_an_invalid_decision_gets_the_fallback(tmp_path: Path) -> None:
    """A handler returning a decision its command does not allow (a group code on a one-to-one
    message) gets the fallback instead; a deny fallback refuses every friend request."""
    async with receiving(tmp_path, token=TOKEN, fallback=Decision.deny("try later")) as receiver:

        @receiver.on(ev.C2CBeforeSendMsg)
        def wrong(event: ev.C2CBeforeSendMsg) -> Decision:
            return Decision.reject(10100, "a group code")

        @receiver.on(ev.PrevFriendAdd)
        def broken(event: ev.PrevFriendAdd) -> Decision:
            raise RuntimeError("down")

        c2c = await deliver(
            receiver, "C2C.CallbackBeforeSendMsg", SAMPLES["C2C.CallbackBeforeSendMsg"]
        )
        assert c2c == {"ActionStatus": "OK", "ErrorInfo": "try later", "ErrorCode": 1}
        friend = await deliver(
            receiver, "Sns.CallbackPrevFriendAdd", SAMPLES["Sns.CallbackPrevFriendAdd"]
        )
        assert friend["ErrorCode"] == 0
        assert {(i["ResultCode"], i["ResultInfo"]) for i in friend["ResultItem"]} == {
            (38000, "try later")
        }


async def test_a_body_without_callback_command_needs_its_own_commands_query(tmp_path: Path) -> None:
    """A moderation result (no CallbackCommand in its body) is taken under its own command; the
    same body under another command is 400."""
    sample = SAMPLES["ContentCallback.ResultNotify"]
    async with receiving(tmp_path, token=TOKEN) as receiver:
        assert await deliver(receiver, "ContentCallback.ResultNotify", sample) == ACK
        async with client(receiver) as http:
            at = int(receiver.clock())
            response = await http.post(url("State.StateChange", at), content=json.dumps(sample))
        assert response.status_code == 400
        assert "CallbackCommand" in response.json()["ErrorInfo"]
