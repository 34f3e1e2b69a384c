"""Group messages: sending, recalling and reading a group's history, with their webhooks.

Tencent's pages: "Sending Ordinary Messages in a Group" (https://trtc.io/document/34959),
"Recalling Group Messages" (https://trtc.io/document/34965) and "Pulling Historical Group
Messages" (https://trtc.io/document/34971); the webhooks Group.CallbackBeforeSendMsg
(https://tencentcloud.com/document/product/1047/34374), Group.CallbackAfterSendMsg
(https://tencentcloud.com/document/product/1047/34375), Group.CallbackSendMsgException
(https://trtc.io/document/49462) and Group.CallbackAfterRecallMsg
(https://tencentcloud.com/document/product/1047/46979). ``docs/rest/messages.md`` lists the
fields and codes. Each group numbers its messages 1, 2, 3 … (MsgSeq) under its row's lock
(the lock order of ``timhooks.server.sql``). A send that fails (the group is gone, the sender is
not a member or is muted) sends Group.CallbackSendMsgException.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.bodies import Body, NonEmpty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.group_members import membership
from timhooks.server.groups import GROUP_SERVICE, group_key, group_row, role_of
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
from timhooks.server.sql import Row, app_rows, row_by
from timhooks.storage.engine import Connection

__all__ = ["GroupMessage", "commands", "latest_group_messages", "send_group_tx"]

HISTORY_MAX = 20  # group_msg_get_simple returns at most 20 messages a call
CLIENT_RECALL_WINDOW = 120  # seconds: a client recalls messages of the last 2 minutes
PRIORITIES = ("High", "Normal", "Low", "Lowest")

commands = CommandTable(bad_param=RestCode.BAD_PARAM)

Flag = Annotated[int, msgspec.Meta(ge=0, le=1)]


class SendGroupMsg(Body, frozen=True, kw_only=True):
    """group_open_http_svc/send_group_msg (the client's ``send_group_msg``: the user sends)."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    random: Random32 | UnsetType = msgspec.field(name="Random", default=UNSET)
    msg_priority: Annotated[str, one_of(PRIORITIES)] = msgspec.field(
        name="MsgPriority", default="Normal"
    )
    msg_body: MsgBody = msgspec.field(name="MsgBody")
    from_account: str = msgspec.field(name="From_Account", default="")
    online_only_flag: Flag = msgspec.field(name="OnlineOnlyFlag", default=0)
    forbid: Forbid = msgspec.field(name="ForbidCallbackControl", default_factory=list)
    send_msg_control: list[NonEmpty] = msgspec.field(name="SendMsgControl", default_factory=list)
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    offline_push_info: dict[str, Any] | UnsetType = msgspec.field(
        name="OfflinePushInfo", default=UNSET
    )
    support_message_extension: Flag = msgspec.field(name="SupportMessageExtension", default=0)


SeqItem = Annotated[
    dict[str, Any],
    msgspec.Meta(
        extra_json_schema={
            "type": "object",
            "required": ["MsgSeq"],
            "properties": {"MsgSeq": {"type": "integer", "minimum": 1}},
        }
    ),
]
"""One ``{"MsgSeq": n}`` of a MsgSeqList (read by ``_seqs``)."""


class GroupMsgRecall(Body, frozen=True, kw_only=True):
    """group_open_http_svc/group_msg_recall: up to 10 messages (the client's ``group_msg_recall``:
    the user's own, or any as owner or admin, within 2 minutes)."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    msg_seqs: Annotated[list[SeqItem], msgspec.Meta(min_length=1, max_length=10)] = msgspec.field(
        name="MsgSeqList"
    )
    reason: Annotated[str, msgspec.Meta(max_length=100)] = msgspec.field(name="Reason", default="")


class GroupMsgGetSimple(Body, frozen=True, kw_only=True):
    """group_open_http_svc/group_msg_get_simple: up to 20 messages at or below ReqMsgSeq."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    req_msg_number: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] = msgspec.field(
        name="ReqMsgNumber"
    )
    req_msg_seq: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | UnsetType = msgspec.field(
        name="ReqMsgSeq", default=UNSET
    )
    with_recalled_msg: Flag = msgspec.field(name="WithRecalledMsg", default=0)


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """A group message to send."""

    group_id: str
    sender: str
    random: int
    priority: str
    content: Outgoing
    online_only: bool = False
    need_member: bool = True  # False: the admin itself sends (no From_Account)
    after_callback: bool = True


# --- rows --------------------------------------------------------------------------------------


def check_sender(conn: Connection, call: Call, msg: GroupMessage, *, lock: bool = False) -> Row:
    """The group's row, if the message may be sent: 10010 when the group is gone, 10007 when
    the sender is not a member, 10017 when muted, or when the whole group is muted
    (ShutUpAllMember On) and the sender is neither its owner nor an admin."""
    group = group_row(conn, call.app_id, msg.group_id, lock=lock)
    if msg.need_member:
        member = membership(conn, call.app_id, msg.group_id, msg.sender)
        if member is None:
            raise RestError(
                RestCode.NO_PERMISSION, f"{msg.sender!r} is not a member of {msg.group_id!r}"
            )
        if member.muted_until > call.seconds:
            raise RestError(RestCode.SENDER_MUTED, f"{msg.sender!r} is muted in this group")
        if group["shut_up_all"] and member.role not in ("Owner", "Admin"):
            raise RestError(
                RestCode.SENDER_MUTED, f"every member of {msg.group_id!r} is muted but admins"
            )
    return group


def send_group_tx(conn: Connection, call: Call, msg: GroupMessage) -> int:
    """Store a group message under the group's next MsgSeq; queue Group.CallbackAfterSendMsg;
    return the MsgSeq."""
    group = check_sender(conn, call, msg, lock=True)  # the lock order: the group's row first
    last = conn.execute(
        "SELECT MAX(msg_seq) FROM group_messages WHERE sdk_app_id = ? AND group_id = ?",
        (call.app_id, msg.group_id),
    ).fetchone()[0]
    seq = int(last or 0) + 1
    conn.execute(
        "INSERT INTO group_messages (sdk_app_id, group_id, msg_seq, from_account, random,"
        " msg_time, priority, body, cloud_custom_data, online_only)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            call.app_id,
            msg.group_id,
            seq,
            msg.sender,
            msg.random,
            call.seconds,
            msg.priority,
            body_text(msg.content.msg_body),
            msg.content.cloud_custom_data,
            int(msg.online_only),
        ),
    )
    if msg.after_callback:
        emit(
            conn,
            call,
            ev.GroupAfterSendMsg,
            group_id=msg.group_id,
            type=group["type"],
            from_account=msg.sender,
            operator_account=call.operator,
            random=msg.random,
            msg_seq=seq,
            msg_time=call.seconds,
            online_only_flag=int(msg.online_only),
            msg_body=msg.content.msg_body,
            cloud_custom_data=msg.content.cloud_custom_data,
        )
    return seq


def exception_tx(conn: Connection, call: Call, msg: GroupMessage, error: RestError) -> None:
    """Queue Group.CallbackSendMsgException: the send failed with ``error``."""
    group = row_by(conn, "groups", "group_id", call.app_id, msg.group_id)
    emit(
        conn,
        call,
        ev.GroupSendMsgException,
        group_id=msg.group_id,
        type="" if group is None else group["type"],
        from_account=msg.sender,
        operator_account=call.operator,
        random=msg.random,
        online_only_flag=int(msg.online_only),
        msg_body=msg.content.msg_body,
        cloud_custom_data=msg.content.cloud_custom_data,
        error_code=error.code,
        error_info=error.info,
    )


def recall_tx(
    conn: Connection, call: Call, group_id: str, seqs: Sequence[int]
) -> list[dict[str, Any]]:
    """Recall group messages: RetCode 0, or 10030 (none such, or recalled already); a client
    only its own (any, as owner or admin: else 10007) of the last 2 minutes (else 10031).
    Queues Group.CallbackAfterRecallMsg."""
    group = group_row(conn, call.app_id, group_id, lock=True)
    role = None if call.rest else role_of(conn, call.app_id, group_id, call.operator)
    results: list[dict[str, Any]] = []
    recalled: list[int] = []
    for seq in dict.fromkeys(seqs):
        row = conn.execute(
            "SELECT from_account, msg_time, recalled_at FROM group_messages"
            " WHERE sdk_app_id = ? AND group_id = ? AND msg_seq = ?",
            (call.app_id, group_id, seq),
        ).fetchone()
        code = 0
        if row is None or row["recalled_at"] is not None:
            code = RestCode.MSG_TO_RECALL_NOT_FOUND
        elif (
            not call.rest
            and row["from_account"] != call.operator
            and role
            not in (
                "Owner",
                "Admin",
            )
        ):
            code = RestCode.NO_PERMISSION
        elif not call.rest and call.seconds - int(row["msg_time"]) > CLIENT_RECALL_WINDOW:
            code = RestCode.RECALL_TOO_LATE
        if code == 0:
            conn.execute(
                "UPDATE group_messages SET recalled_at = ? WHERE sdk_app_id = ? AND group_id = ?"
                " AND msg_seq = ?",
                (call.now, call.app_id, group_id, seq),
            )
            recalled.append(seq)
        results.append({"MsgSeq": seq, "RetCode": int(code)})
    if recalled:
        emit(
            conn,
            call,
            ev.AfterRecallMsg,
            group_id=group_id,
            type=group["type"],
            operator_account=call.operator,
            msg_seq_list=tuple(ev.MsgSeqItem(msg_seq=s) for s in recalled),
        )
    return results


def history_page(conn: Connection, app_id: int, body: GroupMsgGetSimple) -> dict[str, Any]:
    """group_msg_get_simple: the messages at or below ReqMsgSeq (the latest by default),
    newest first. A message not stored for history (sent online only) or recalled (unless
    WithRecalledMsg is 1) is a placeholder with IsPlaceMsg 1."""
    group = group_row(conn, app_id, body.group_id)
    if group["type"] == "AVChatRoom":
        raise RestError(RestCode.NO_PERMISSION, "an AVChatRoom keeps no message history")
    top = None if isinstance(body.req_msg_seq, UnsetType) else body.req_msg_seq
    count = min(body.req_msg_number, HISTORY_MAX)
    rows = conn.execute(
        "SELECT * FROM group_messages WHERE sdk_app_id = ? AND group_id = ?"
        + ("" if top is None else " AND msg_seq <= ?")
        + " ORDER BY msg_seq DESC LIMIT ?",
        (app_id, body.group_id, *(() if top is None else (top,)), count),
    ).fetchall()
    items = [_history_item(r, bool(body.with_recalled_msg)) for r in rows]
    finished = not rows or int(rows[-1]["msg_seq"]) <= 1
    return {"GroupId": body.group_id, "IsFinished": int(finished), "RspMsgList": items}


def _history_item(row: Row, with_recalled: bool) -> dict[str, Any]:
    hidden = bool(row["online_only"]) or (row["recalled_at"] is not None and not with_recalled)
    return {
        "From_Account": row["from_account"],
        "IsPlaceMsg": int(hidden),
        "MsgBody": [] if hidden else read_body_text(row["body"]),
        "MsgPriority": row["priority"],
        "MsgRandom": row["random"],
        "MsgSeq": row["msg_seq"],
        "MsgTimeStamp": row["msg_time"],
        "CloudCustomData": "" if hidden else row["cloud_custom_data"],
    }


def latest_group_messages(
    conn: Connection, app_id: int, group_id: str, limit: int
) -> list[dict[str, Any]]:
    """A group's latest ``limit`` messages, newest first, recalled ones included."""
    return app_rows(
        conn,
        "SELECT msg_seq, from_account, msg_time, body, recalled_at FROM group_messages"
        " WHERE sdk_app_id = ? AND group_id = ? ORDER BY msg_seq DESC LIMIT ?",
        (app_id, group_id, limit),
    )


# --- commands ----------------------------------------------------------------------------------


async def _failed(svc: ChatService, call: Call, msg: GroupMessage, error: RestError) -> None:
    """Queue Group.CallbackSendMsgException for a send that failed with ``error``."""
    await svc.change(
        lambda c: exception_tx(c, call, msg, error), group_key(call.app_id, msg.group_id)
    )


@commands.client("send_group_msg", SendGroupMsg)
@commands.admin(GROUP_SERVICE, "send_group_msg", SendGroupMsg)
async def send_group_msg(svc: ChatService, call: Call, body: SendGroupMsg) -> dict[str, Any]:
    """Send a group message; Group.CallbackBeforeSendMsg may refuse (10016 or a code in
    [10100, 10200]), discard or rewrite it. A failed send sends Group.CallbackSendMsgException."""
    if not call.rest and body.from_account not in ("", call.operator):
        raise RestError(commands.bad_param, "From_Account must be the acting user or absent")
    sender = body.from_account or call.operator
    switches = Switches.of(body.forbid)
    msg = GroupMessage(
        group_id=body.group_id,
        sender=sender,
        random=new_random() if isinstance(body.random, UnsetType) else body.random,
        priority=body.msg_priority,
        content=Outgoing(tuple(body.msg_body), body.cloud_custom_data),
        online_only=bool(body.online_only_flag),
        need_member=not call.rest or bool(body.from_account),
        after_callback=switches.after,
    )
    try:
        group = await svc.read(lambda c: check_sender(c, call, msg))
    except RestError as exc:
        await _failed(svc, call, msg, exc)
        raise
    if switches.before:
        decision = await svc.ask(
            call,
            ev.GroupBeforeSendMsg,
            group_id=msg.group_id,
            type=group["type"],
            from_account=msg.sender,
            operator_account=call.operator,
            random=msg.random,
            online_only_flag=int(msg.online_only),
            msg_body=msg.content.msg_body,
            cloud_custom_data=msg.content.cloud_custom_data,
        )
        content = decided(msg.content, decision)
        if content is None:  # discarded: the sender sees success, nothing is stored
            return {"MsgTime": call.seconds, "MsgSeq": 0}
        msg = replace(msg, content=content)
    try:
        seq = await svc.change(
            lambda c: send_group_tx(c, call, msg), group_key(call.app_id, msg.group_id)
        )
    except RestError as exc:  # the group went, or the sender left or was muted, meanwhile
        await _failed(svc, call, msg, exc)
        raise
    return {"MsgTime": call.seconds, "MsgSeq": seq}


@commands.client("group_msg_recall", GroupMsgRecall)
@commands.admin(GROUP_SERVICE, "group_msg_recall", GroupMsgRecall)
async def group_msg_recall(svc: ChatService, call: Call, body: GroupMsgRecall) -> dict[str, Any]:
    """Recall up to 10 group messages by MsgSeq: RecallRetList gives each one's RetCode."""
    group_id = body.group_id
    seqs = _seqs(body.msg_seqs)
    if not call.rest:
        await svc.read(lambda c: _require_member(c, call, group_id))
    results = await svc.change(
        lambda c: recall_tx(c, call, group_id, seqs), group_key(call.app_id, group_id)
    )
    return {"RecallRetList": results}


def _seqs(items: Sequence[dict[str, Any]]) -> list[int]:
    """The MsgSeqs of a MsgSeqList; 10004 naming the first bad item."""
    seqs: list[int] = []
    for i, item in enumerate(items):
        seq = item.get("MsgSeq")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**63:
            raise RestError(commands.bad_param, f"MsgSeqList[{i}].MsgSeq must be an integer >= 1")
        seqs.append(seq)
    return seqs


def _require_member(conn: Connection, call: Call, group_id: str) -> None:
    group_row(conn, call.app_id, group_id)
    if role_of(conn, call.app_id, group_id, call.operator) is None:
        raise RestError(RestCode.NO_PERMISSION, "you are not a member of this group")


@commands.admin(GROUP_SERVICE, "group_msg_get_simple", GroupMsgGetSimple)
async def group_msg_get_simple(
    svc: ChatService, call: Call, body: GroupMsgGetSimple
) -> dict[str, Any]:
    """Up to 20 of a group's messages, newest first; IsFinished 1 when none are older."""
    return await svc.read(lambda c: history_page(c, call.app_id, body))
