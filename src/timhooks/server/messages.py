"""One-to-one messages: sending, recalling, marking read and reading history (``openim``), with
their webhooks.

Tencent's pages: "Sending One-to-One Messages to One User" (https://trtc.io/document/34919),
"Sending One-to-One Messages to Multiple Users" (https://trtc.io/document/34920, which sends no
webhook), "Recalling One-to-One Messages" (https://trtc.io/document/35015), "Marking One-to-One
Messages as Read" (https://trtc.io/document/38996) and "Pulling Historical One-to-one Messages"
(https://trtc.io/document/35478); the webhooks C2C.CallbackBeforeSendMsg
(https://trtc.io/document/34364), C2C.CallbackAfterSendMsg
(https://www.tencentcloud.com/document/product/1047/34365), C2C.CallbackAfterMsgWithDraw
(https://trtc.io/document/43466) and C2C.CallbackAfterMsgReport
(https://intl.cloud.tencent.com/document/product/1047/43465). ``docs/rest/messages.md`` lists
the fields and codes. A message is stored once, under its sender and recipient, with its MsgKey
``<MsgSeq>_<MsgRandom>_<MsgTime>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported, lock_accounts
from timhooks.server.bodies import INT32, Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.messaging import (
    Forbid,
    MsgBody,
    Outgoing,
    Random32,
    Switches,
    body_text,
    decided,
    new_random,
    read_body_text,
)
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row
from timhooks.storage.engine import Connection

__all__ = ["C2CMessage", "commands", "send_tx", "unread_count"]

OPENIM = "openim"
LIFETIME_MAX = 7 * 86400  # MsgLifeTime: at most 7 days, in seconds
CLIENT_RECALL_WINDOW = 120  # seconds: a client recalls its messages of the last 2 minutes
RECALLED = 8  # MsgFlagBits of a recalled message
_MSG_KEY = re.compile(r"^\d+_\d+_\d+$")

commands = CommandTable(bad_param=RestCode.MSG_BAD_PARAM)

Flag = Annotated[int, msgspec.Meta(ge=0, le=1)]
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]


class SendMsg(Body, frozen=True, kw_only=True):
    """openim/sendmsg (and the client's ``sendmsg``, where the acting user is the sender)."""

    sync_other_machine: Annotated[int, msgspec.Meta(ge=1, le=2)] = msgspec.field(
        name="SyncOtherMachine", default=1
    )
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: NonEmpty = msgspec.field(name="To_Account")
    msg_life_time: int | UnsetType = msgspec.field(name="MsgLifeTime", default=UNSET)
    msg_seq: Random32 | UnsetType = msgspec.field(name="MsgSeq", default=UNSET)
    msg_random: Random32 | UnsetType = msgspec.field(name="MsgRandom", default=UNSET)
    msg_body: MsgBody = msgspec.field(name="MsgBody")
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    forbid: Forbid = msgspec.field(name="ForbidCallbackControl", default_factory=list)
    send_msg_control: list[NonEmpty] = msgspec.field(name="SendMsgControl", default_factory=list)
    offline_push_info: dict[str, Any] | UnsetType = msgspec.field(
        name="OfflinePushInfo", default=UNSET
    )
    support_message_extension: Flag = msgspec.field(name="SupportMessageExtension", default=0)
    is_need_read_receipt: Flag = msgspec.field(name="IsNeedReadReceipt", default=0)


class BatchSendMsg(Body, frozen=True, kw_only=True):
    """openim/batchsendmsg: up to 500 recipients (more is 90011)."""

    sync_other_machine: Annotated[int, msgspec.Meta(ge=1, le=2)] = msgspec.field(
        name="SyncOtherMachine", default=1
    )
    from_account: str = msgspec.field(name="From_Account", default="")
    to_accounts: Annotated[list[NonEmpty], msgspec.Meta(min_length=1)] = msgspec.field(
        name="To_Account"
    )
    msg_life_time: int | UnsetType = msgspec.field(name="MsgLifeTime", default=UNSET)
    msg_seq: Random32 | UnsetType = msgspec.field(name="MsgSeq", default=UNSET)
    msg_random: Random32 | UnsetType = msgspec.field(name="MsgRandom", default=UNSET)
    msg_body: MsgBody = msgspec.field(name="MsgBody")
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    send_msg_control: list[NonEmpty] = msgspec.field(name="SendMsgControl", default_factory=list)
    offline_push_info: dict[str, Any] | UnsetType = msgspec.field(
        name="OfflinePushInfo", default=UNSET
    )


class MsgWithdraw(Body, frozen=True, kw_only=True):
    """openim/admin_msgwithdraw (the client's ``msgwithdraw`` takes no From_Account)."""

    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: NonEmpty = msgspec.field(name="To_Account")
    msg_key: NonEmpty = msgspec.field(name="MsgKey")


class SetMsgRead(Body, frozen=True, kw_only=True):
    """openim/admin_set_msg_read (the client's ``set_msg_read``: the user is the reader)."""

    report_account: str = msgspec.field(name="Report_Account", default="")
    peer_account: NonEmpty = msgspec.field(name="Peer_Account")
    msg_read_time: Seconds | UnsetType = msgspec.field(name="MsgReadTime", default=UNSET)


class GetRoamMsg(Body, frozen=True, kw_only=True):
    """openim/admin_getroammsg: a time range of a conversation, newest first."""

    operator_account: NonEmpty = msgspec.field(name="Operator_Account")
    peer_account: NonEmpty = msgspec.field(name="Peer_Account")
    max_cnt: Annotated[int, msgspec.Meta(ge=1, le=INT32)] = msgspec.field(name="MaxCnt")
    min_time: Seconds = msgspec.field(name="MinTime")
    max_time: Seconds = msgspec.field(name="MaxTime")
    last_msg_key: str = msgspec.field(name="LastMsgKey", default="")


@dataclass(frozen=True, slots=True)
class C2CMessage:
    """A one-to-one message to store (to one or more recipients)."""

    sender: str
    seq: int
    random: int
    time: int
    content: Outgoing
    online_only: bool = False
    sender_sync: bool = True
    counted: bool = True  # False (SendMsgControl NoUnread): not unread for its recipient
    after_callback: bool = True

    @property
    def key(self) -> str:
        """MsgKey: ``<MsgSeq>_<MsgRandom>_<MsgTime>`` (C2C.CallbackBeforeSendMsg's sample)."""
        return f"{self.seq}_{self.random}_{self.time}"

    @property
    def msg_id(self) -> str:
        """sendmsg's MsgId (timhooks' shape: ``<MsgSeq>-<MsgTime>-<MsgRandom>``)."""
        return f"{self.seq}-{self.time}-{self.random}"


# --- rows --------------------------------------------------------------------------------------


def unread_count(conn: Connection, app_id: int, user: str) -> int:
    """The user's unread one-to-one messages, all conversations (UnreadMsgNum)."""
    count: int = conn.execute(
        "SELECT COUNT(*) FROM c2c_messages WHERE sdk_app_id = ? AND to_account = ? AND is_read = 0"
        " AND online_only = 0 AND recalled_at IS NULL",
        (app_id, user),
    ).fetchone()[0]
    return count


def next_seq(conn: Connection, app_id: int, sender: str, recipient: str) -> int:
    """A MsgSeq for a message that gives none: one past the conversation's last when it is
    checked (so messages of one second keep their order; two sends at the same instant may
    share one, and their MsgKeys still differ by MsgRandom)."""
    row = conn.execute(
        "SELECT MAX(msg_seq) FROM c2c_messages WHERE sdk_app_id = ?"
        " AND ((from_account = ? AND to_account = ?) OR (from_account = ? AND to_account = ?))",
        (app_id, sender, recipient, recipient, sender),
    ).fetchone()
    return (int(row[0] or 0) + 1) & 0xFFFFFFFF


def check_accounts(
    conn: Connection,
    app_id: int,
    sender: str | None,
    recipient: str,
    missing_recipient: int = RestCode.TO_ACCOUNT_NOT_REGISTERED,
) -> None:
    """The sender (None: the admin itself) and the recipient must be imported: 90008, and
    ``missing_recipient`` (90012 for a send, 90003 for a recall)."""
    people = [recipient] if sender is None else [sender, recipient]
    known = imported(conn, app_id, people)
    if sender is not None and sender not in known:
        raise RestError(RestCode.FROM_ACCOUNT_NOT_FOUND, f"From_Account {sender!r} is not imported")
    if recipient not in known:
        raise RestError(missing_recipient, f"To_Account {recipient!r} is not imported")


def send_tx(conn: Connection, call: Call, msg: C2CMessage, recipients: Sequence[str]) -> None:
    """Store a message to each recipient; queue C2C.CallbackAfterSendMsg (one recipient)."""
    lock_accounts(conn, call.app_id, [msg.sender, *recipients])
    conn.executemany(
        "INSERT INTO c2c_messages (sdk_app_id, from_account, to_account, msg_seq, msg_random,"
        " msg_time, msg_key, body, cloud_custom_data, online_only, sender_sync, is_read)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                call.app_id,
                msg.sender,
                to,
                msg.seq,
                msg.random,
                msg.time,
                msg.key,
                body_text(msg.content.msg_body),
                msg.content.cloud_custom_data,
                int(msg.online_only),
                int(msg.sender_sync),
                int(not msg.counted),
            )
            for to in recipients
        ],
    )
    if msg.after_callback and len(recipients) == 1:
        emit(
            conn,
            call,
            ev.C2CAfterSendMsg,
            from_account=msg.sender,
            to_account=recipients[0],
            msg_seq=msg.seq,
            msg_random=msg.random,
            msg_time=msg.time,
            msg_key=msg.key,
            online_only_flag=int(msg.online_only),
            send_msg_result=0,
            error_info="send msg succeed",
            unread_msg_num=unread_count(conn, call.app_id, recipients[0]),
            msg_body=msg.content.msg_body,
            cloud_custom_data=msg.content.cloud_custom_data,
        )


def withdraw_tx(
    conn: Connection, call: Call, sender: str, recipient: str, key: str, *, window: int | None
) -> None:
    """Recall a message: 20022 if there is none, 20023 if already recalled, 20016 if older than
    ``window`` seconds; queue C2C.CallbackAfterMsgWithDraw."""
    lock_accounts(conn, call.app_id, [sender, recipient])  # the conversation's people
    row = conn.execute(
        "SELECT id, msg_time, recalled_at FROM c2c_messages WHERE sdk_app_id = ?"
        " AND from_account = ? AND to_account = ? AND msg_key = ?",
        (call.app_id, sender, recipient, key),
    ).fetchone()
    if row is None:
        raise RestError(RestCode.C2C_MSG_NOT_FOUND, f"no message {key!r} from {sender!r}")
    if row["recalled_at"] is not None:
        raise RestError(RestCode.C2C_MSG_ALREADY_RECALLED, f"message {key!r} is already recalled")
    if window is not None and call.seconds - int(row["msg_time"]) > window:
        raise RestError(
            RestCode.C2C_RECALL_TOO_LATE, f"message {key!r} is older than {window} seconds"
        )
    recalled = conn.execute(
        "UPDATE c2c_messages SET recalled_at = ? WHERE id = ? AND recalled_at IS NULL RETURNING id",
        (call.now, row["id"]),
    ).fetchone()
    if recalled is None:  # recalled by a concurrent call since the read
        raise RestError(RestCode.C2C_MSG_ALREADY_RECALLED, f"message {key!r} is already recalled")
    emit(
        conn,
        call,
        ev.C2CAfterMsgWithDraw,
        from_account=sender,
        to_account=recipient,
        msg_key=key,
        unread_msg_num=unread_count(conn, call.app_id, recipient),
    )


def read_tx(conn: Connection, call: Call, reader: str, peer: str, until: int) -> None:
    """Mark the peer's messages to the reader up to ``until`` read; queue
    C2C.CallbackAfterMsgReport."""
    lock_accounts(conn, call.app_id, [reader, peer])
    conn.execute(
        "UPDATE c2c_messages SET is_read = 1 WHERE sdk_app_id = ? AND from_account = ?"
        " AND to_account = ? AND msg_time <= ? AND is_read = 0",
        (call.app_id, peer, reader, until),
    )
    emit(
        conn,
        call,
        ev.C2CAfterMsgReport,
        report_account=reader,
        peer_account=peer,
        last_read_time=until,
        unread_msg_num=unread_count(conn, call.app_id, reader),
    )


def roam_page(conn: Connection, app_id: int, body: GetRoamMsg) -> dict[str, Any]:
    """admin_getroammsg: the conversation as the operator sees it, in [MinTime, MaxTime],
    newest first, from after LastMsgKey; Complete 0 when more remain."""
    me, peer = body.operator_account, body.peer_account
    where = (
        "sdk_app_id = ? AND online_only = 0 AND msg_time >= ? AND msg_time <= ? AND"
        " ((from_account = ? AND to_account = ? AND sender_sync = 1)"
        " OR (from_account = ? AND to_account = ?))"
    )
    args: list[Any] = [app_id, body.min_time, body.max_time, me, peer, peer, me]
    if body.last_msg_key:
        last = conn.execute(
            f"SELECT msg_time, msg_seq, id FROM c2c_messages WHERE {where} AND msg_key = ?",
            (*args, body.last_msg_key),
        ).fetchone()
        if last is not None:
            where += " AND (msg_time, msg_seq, id) < (?, ?, ?)"
            args += [last["msg_time"], last["msg_seq"], last["id"]]
    rows = conn.execute(
        f"SELECT * FROM c2c_messages WHERE {where} ORDER BY msg_time DESC, msg_seq DESC, id DESC"
        " LIMIT ?",
        (*args, body.max_cnt + 1),
    ).fetchall()
    page = rows[: body.max_cnt]
    return {
        "Complete": 0 if len(rows) > body.max_cnt else 1,
        "MsgCnt": len(page),
        "LastMsgTime": page[-1]["msg_time"] if page else 0,
        "LastMsgKey": page[-1]["msg_key"] if page else "",
        "MsgList": [_roam_item(r, me) for r in page],
    }


def _roam_item(row: Row, me: str) -> dict[str, Any]:
    return {
        "From_Account": row["from_account"],
        "To_Account": row["to_account"],
        "MsgSeq": row["msg_seq"],
        "MsgRandom": row["msg_random"],
        "MsgTimeStamp": row["msg_time"],
        "MsgFlagBits": RECALLED if row["recalled_at"] is not None else 0,
        "IsPeerRead": int(row["from_account"] == me and bool(row["is_read"])),
        "MsgKey": row["msg_key"],
        "MsgBody": read_body_text(row["body"]),
        "CloudCustomData": row["cloud_custom_data"],
    }


# --- commands ----------------------------------------------------------------------------------


def _lifetime(given: int | UnsetType) -> bool:
    """Whether the message is online only (MsgLifeTime 0); 90026 outside [0, 7 days]."""
    if isinstance(given, UnsetType):
        return False
    if not 0 <= given <= LIFETIME_MAX:
        raise RestError(
            RestCode.MSG_LIFETIME_INVALID,
            f"MsgLifeTime must be in [0, {LIFETIME_MAX}] seconds, got {given}",
        )
    return given == 0


def _sender(call: Call, from_account: str) -> str | None:
    """Who sends: the acting user (client), From_Account, or the admin itself (None)."""
    if not call.rest:
        if from_account and from_account != call.operator:
            raise RestError(commands.bad_param, "From_Account must be the acting user or absent")
        return call.operator
    return from_account or None


async def _send(svc: ChatService, call: Call, body: SendMsg) -> dict[str, Any]:
    online_only = _lifetime(body.msg_life_time)
    sender = _sender(call, body.from_account)
    who = sender or call.operator
    to = body.to_account

    def check(c: Connection) -> int:
        check_accounts(c, call.app_id, sender, to)
        return next_seq(c, call.app_id, who, to) if isinstance(body.msg_seq, UnsetType) else 0

    seq = await svc.read(check)
    switches = Switches.of(body.forbid)
    msg = C2CMessage(
        sender=who,
        seq=seq if isinstance(body.msg_seq, UnsetType) else body.msg_seq,
        random=new_random() if isinstance(body.msg_random, UnsetType) else body.msg_random,
        time=call.seconds,
        content=Outgoing(tuple(body.msg_body), body.cloud_custom_data),
        online_only=online_only,
        sender_sync=body.sync_other_machine == 1,
        counted="NoUnread" not in body.send_msg_control,
        after_callback=switches.after,
    )
    answer = {"MsgTime": msg.time, "MsgKey": msg.key, "MsgId": msg.msg_id}
    if switches.before:
        decision = await svc.ask(
            call,
            ev.C2CBeforeSendMsg,
            from_account=msg.sender,
            to_account=to,
            msg_seq=msg.seq,
            msg_random=msg.random,
            msg_time=msg.time,
            msg_key=msg.key,
            online_only_flag=int(msg.online_only),
            msg_body=msg.content.msg_body,
            cloud_custom_data=msg.content.cloud_custom_data,
        )
        content = decided(msg.content, decision)
        if content is None:  # discarded: the sender sees success, nothing is stored
            return answer
        msg = replace(msg, content=content)
    await svc.change(lambda c: send_tx(c, call, msg, [to]))
    return answer


@commands.client("sendmsg", SendMsg)
@commands.admin(OPENIM, "sendmsg", SendMsg)
async def sendmsg(svc: ChatService, call: Call, body: SendMsg) -> dict[str, Any]:
    """Send a one-to-one message; C2C.CallbackBeforeSendMsg may refuse (20006 or a code in
    [120001, 130000]), discard or rewrite it."""
    return await _send(svc, call, body)


@commands.admin(OPENIM, "batchsendmsg", BatchSendMsg)
async def batchsendmsg(svc: ChatService, call: Call, body: BatchSendMsg) -> dict[str, Any]:
    """Send one message to up to 500 users (no webhook); those not imported are in ErrorList."""
    if len(body.to_accounts) > 500:
        raise RestError(
            RestCode.TOO_MANY_RECIPIENTS,
            f"To_Account holds at most 500 users, got {len(body.to_accounts)}",
        )
    online_only = _lifetime(body.msg_life_time)
    sender = body.from_account or None
    wanted = list(dict.fromkeys(body.to_accounts))

    def check(c: Connection) -> set[str]:
        if sender is not None and not imported(c, call.app_id, [sender]):
            raise RestError(
                RestCode.FROM_ACCOUNT_NOT_FOUND, f"From_Account {sender!r} is not imported"
            )
        return imported(c, call.app_id, wanted)

    known = await svc.read(check)
    msg = C2CMessage(
        sender=sender or call.operator,
        seq=new_random() if isinstance(body.msg_seq, UnsetType) else body.msg_seq,
        random=new_random() if isinstance(body.msg_random, UnsetType) else body.msg_random,
        time=call.seconds,
        content=Outgoing(tuple(body.msg_body), body.cloud_custom_data),
        online_only=online_only,
        sender_sync=body.sync_other_machine == 1,
        counted="NoUnread" not in body.send_msg_control,
        after_callback=False,
    )
    recipients = [u for u in wanted if u in known]
    if recipients:
        await svc.change(lambda c: send_tx(c, call, msg, recipients))
    answer: dict[str, Any] = {"MsgKey": msg.key}
    failed = [u for u in wanted if u not in known]
    if failed:
        code = int(RestCode.ACCOUNT_NOT_IMPORTED)
        answer["ErrorList"] = [{"To_Account": u, "ErrorCode": code} for u in failed]
    return answer


@commands.client("msgwithdraw", MsgWithdraw)
@commands.admin(OPENIM, "admin_msgwithdraw", MsgWithdraw)
async def admin_msgwithdraw(svc: ChatService, call: Call, body: MsgWithdraw) -> dict[str, Any]:
    """Recall a one-to-one message by MsgKey (a client: its own, within 2 minutes)."""
    if not _MSG_KEY.match(body.msg_key):
        raise RestError(RestCode.MSG_KEY_INVALID, f"MsgKey {body.msg_key!r} is not a MsgKey")
    if call.rest and not body.from_account:
        raise RestError(commands.bad_param, "From_Account is required")
    sender = _sender(call, body.from_account) or call.operator
    await svc.read(
        lambda c: check_accounts(
            c, call.app_id, sender, body.to_account, RestCode.TO_ACCOUNT_NOT_FOUND
        )
    )
    window = None if call.rest else CLIENT_RECALL_WINDOW
    await svc.change(
        lambda c: withdraw_tx(c, call, sender, body.to_account, body.msg_key, window=window)
    )
    return {}


@commands.client("set_msg_read", SetMsgRead)
@commands.admin(OPENIM, "admin_set_msg_read", SetMsgRead)
async def admin_set_msg_read(svc: ChatService, call: Call, body: SetMsgRead) -> dict[str, Any]:
    """Mark a conversation read up to MsgReadTime (now by default): C2C.CallbackAfterMsgReport."""
    if call.rest and not body.report_account:
        raise RestError(commands.bad_param, "Report_Account is required")
    reader = body.report_account if call.rest else call.operator
    if not call.rest and body.report_account not in ("", reader):
        raise RestError(commands.bad_param, "Report_Account must be the acting user or absent")
    peer = body.peer_account

    def check(c: Connection) -> None:
        missing = sorted({reader, peer} - imported(c, call.app_id, [reader, peer]))
        if missing:
            raise RestError(
                RestCode.MSG_ACCOUNT_NOT_FOUND, f"accounts not imported: {', '.join(missing)}"
            )

    await svc.read(check)
    until = call.seconds if isinstance(body.msg_read_time, UnsetType) else body.msg_read_time
    await svc.change(lambda c: read_tx(c, call, reader, peer, until))
    return {}


@commands.admin(OPENIM, "admin_getroammsg", GetRoamMsg)
async def admin_getroammsg(svc: ChatService, call: Call, body: GetRoamMsg) -> dict[str, Any]:
    """A conversation's messages in a time range, as one of its two users sees them."""
    if body.min_time > body.max_time:
        raise RestError(commands.bad_param, "MinTime must not be after MaxTime")
    return await svc.read(lambda c: roam_page(c, call.app_id, body))
