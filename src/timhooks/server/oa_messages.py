"""Official Account messages: sending and recalling them, with their webhooks.

Tencent's send (https://trtc.io/document/60810) and recall
(https://tencentcloud.com/zh/document/product/1047/60811) pages; the account's owner may also
send and recall through the client API. BeforeSendMsg may refuse a message (10016), discard it
or rewrite it (https://trtc.io/document/60803).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.encoding import encode_json
from timhooks.server.bodies import Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.messaging import Forbid, MsgBody, Outgoing, decided
from timhooks.server.official_accounts import OA_SERVICE, oa_key, require_oa_owner
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import app_rows
from timhooks.storage.engine import Connection

__all__ = ["OAMessage", "commands", "latest_oa_messages", "recall_tx", "send_msg_tx"]

commands = CommandTable(bad_param=RestCode.OA_BAD_PARAM)


class SendOfficialAccountMsg(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/send_official_account_msg."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    random: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] | UnsetType = msgspec.field(
        name="Random", default=UNSET
    )
    msg_body: MsgBody = msgspec.field(name="MsgBody")
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    online_only: Annotated[int, msgspec.Meta(ge=0, le=1)] = msgspec.field(
        name="OnlineOnlyFlag", default=0
    )
    forbid: Forbid = msgspec.field(name="ForbidCallbackControl", default_factory=list)


class RecallOfficialAccountMsg(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/official_account_msg_recall: up to 10 MsgKeys."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    keys: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=10)] = msgspec.field(
        name="MsgKeyList"
    )
    reason: Annotated[str, msgspec.Meta(max_length=100)] = msgspec.field(name="Reason", default="")


@dataclass(frozen=True, slots=True)
class OAMessage:
    """A message to send from an Official Account."""

    oa_id: str
    random: int
    msg_body: tuple[dict[str, Any], ...]
    cloud_custom_data: str = ""
    online_only: int = 0
    after_callback: bool = True


def send_msg_tx(conn: Connection, call: Call, msg: OAMessage) -> tuple[str, int]:
    """Store an Official Account message; queue AfterSendMsg; return (MsgKey, MsgTime)."""
    require_oa_owner(conn, call, msg.oa_id, lock=True)
    seq = conn.execute(
        "UPDATE official_accounts SET msg_seq = msg_seq + 1, last_msg_time = ?"
        " WHERE sdk_app_id = ? AND oa_id = ? RETURNING msg_seq",
        (call.seconds, call.app_id, msg.oa_id),
    ).fetchone()[0]
    # The send page's sample MsgKey "71_1_1698741698" reads as seq_random_time.
    msg_key = f"{seq}_{msg.random}_{call.seconds}"
    conn.execute(
        "INSERT INTO oa_messages (sdk_app_id, oa_id, msg_key, msg_time, random, body,"
        " cloud_custom_data, online_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            call.app_id,
            msg.oa_id,
            msg_key,
            call.seconds,
            msg.random,
            encode_json(list(msg.msg_body)).decode(),
            msg.cloud_custom_data,
            msg.online_only,
        ),
    )
    if msg.after_callback:
        emit(
            conn,
            call,
            ev.AfterSendMsg,
            official_account=msg.oa_id,
            msg_key=msg_key,
            msg_time=call.seconds,
            online_only_flag=msg.online_only,
            msg_body=msg.msg_body,
            cloud_custom_data=msg.cloud_custom_data,
        )
    return msg_key, call.seconds


def recall_tx(
    conn: Connection, call: Call, oa_id: str, keys: Sequence[str]
) -> list[dict[str, Any]]:
    """Recall messages: RetCode 0 recalled, 10030 no such message; queues AfterMsgWithDraw."""
    require_oa_owner(conn, call, oa_id, lock=True)  # before the message rows: the lock order
    results: list[dict[str, Any]] = []
    recalled: list[str] = []
    for key in dict.fromkeys(keys):
        cur = conn.execute(
            "UPDATE oa_messages SET recalled_at = ? WHERE sdk_app_id = ? AND oa_id = ?"
            " AND msg_key = ? AND recalled_at IS NULL",
            (call.now, call.app_id, oa_id, key),
        )
        if cur.rowcount:
            recalled.append(key)
            results.append({"MsgKey": key, "RetCode": 0})
        else:
            results.append({"MsgKey": key, "RetCode": int(RestCode.MSG_TO_RECALL_NOT_FOUND)})
    if recalled:
        emit(
            conn,
            call,
            ev.AfterMsgWithDraw,
            official_account=oa_id,
            withdraw_msg_list=tuple(ev.WithdrawMsg(msg_key=k) for k in recalled),
        )
    return results


@commands.client("send_official_account_msg", SendOfficialAccountMsg)
@commands.admin(OA_SERVICE, "send_official_account_msg", SendOfficialAccountMsg)
async def send_official_account_msg(
    svc: ChatService, call: Call, body: SendOfficialAccountMsg
) -> dict[str, Any]:
    """Send a message; BeforeSendMsg may refuse (10016), discard or rewrite it."""
    oa_id = body.official_account
    msg = OAMessage(
        oa_id=oa_id,
        random=secrets.randbits(32) if isinstance(body.random, UnsetType) else body.random,
        msg_body=tuple(body.msg_body),
        cloud_custom_data=body.cloud_custom_data,
        online_only=body.online_only,
    )
    forbid = set(body.forbid)
    await svc.read(lambda c: require_oa_owner(c, call, oa_id))
    if "ForbidBeforeSendMsgCallback" not in forbid:
        decision = await svc.ask(
            call,
            ev.BeforeSendMsg,
            official_account=oa_id,
            online_only_flag=msg.online_only,
            msg_body=msg.msg_body,
            cloud_custom_data=msg.cloud_custom_data,
        )
        content = decided(Outgoing(msg.msg_body, msg.cloud_custom_data), decision)
        if content is None:
            # Discarded silently: the sender sees success (https://trtc.io/document/60803).
            return {"MsgTime": call.seconds, "MsgKey": f"0_{msg.random}_{call.seconds}"}
        msg = dataclasses.replace(
            msg, msg_body=content.msg_body, cloud_custom_data=content.cloud_custom_data
        )
    msg = dataclasses.replace(msg, after_callback="ForbidAfterSendMsgCallback" not in forbid)
    key, when = await svc.change(lambda c: send_msg_tx(c, call, msg), oa_key(call.app_id, oa_id))
    return {"MsgTime": when, "MsgKey": key}


@commands.client("official_account_msg_recall", RecallOfficialAccountMsg)
@commands.admin(OA_SERVICE, "official_account_msg_recall", RecallOfficialAccountMsg)
async def official_account_msg_recall(
    svc: ChatService, call: Call, body: RecallOfficialAccountMsg
) -> dict[str, Any]:
    """Recall up to 10 messages by MsgKey."""
    oa_id = body.official_account
    results = await svc.change(
        lambda c: recall_tx(c, call, oa_id, body.keys), oa_key(call.app_id, oa_id)
    )
    return {"RecallRetList": results}


def latest_oa_messages(
    conn: Connection, app_id: int, oa_id: str, limit: int
) -> list[dict[str, Any]]:
    """An Official Account's latest ``limit`` messages, recalled ones included."""
    return app_rows(
        conn,
        "SELECT msg_key, msg_time, body, recalled_at FROM oa_messages"
        " WHERE sdk_app_id = ? AND oa_id = ? ORDER BY msg_time DESC LIMIT ?",
        (app_id, oa_id, limit),
    )
