"""A group member's own fields: role, name card, message flag, custom fields and mute.

Tencent's "Modifying the Profile of a Group Member" (https://trtc.io/document/34900), "Bulk
Muting and Unmuting" (https://trtc.io/document/34951) and "Getting the List of Muted Group
Members" (https://tencentcloud.com/document/product/1047/34964). A change of role or name card
sends AfterMemberFieldChanged ("Callback After Group Member Profile Changed",
https://tencentcloud.com/document/product/1047/60393); the other fields and muting send nothing.
An AVChatRoom keeps no member profiles and a Private (Work) group has neither admins nor muting:
10007. ``group_members.shut_up_until`` is when a mute ends (Unix seconds, 0: not muted), read by
``group_members.membership``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import RestError
from timhooks.server.bodies import Body, NonEmpty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.groups import (
    GROUP_SERVICE,
    GroupRef,
    KeyValue,
    decode_fields,
    group_key,
    group_row,
    key_values,
    role_of,
)
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row, placeholders
from timhooks.storage.engine import Connection

__all__ = ["commands"]

commands = CommandTable(bad_param=RestCode.BAD_PARAM)

MAX_MUTE = 4294967295  # seconds: the largest MuteTime (https://trtc.io/document/34951)
MAX_NAME_CARD = 50  # bytes
_ROLES = ("Admin", "Member")
_MSG_FLAGS = ("AcceptAndNotify", "AcceptNotNotify", "Discard")

MuteSeconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_MUTE)]


class ModifyGroupMemberInfo(Body, frozen=True, kw_only=True):
    """group_open_http_svc/modify_group_member_info: the fields given are changed."""

    # Newer pages name the mute MuteTime; it is read when ShutUpTime is absent.
    wire_aliases = MappingProxyType({"ShutUpTime": "MuteTime"})

    group_id: NonEmpty = msgspec.field(name="GroupId")
    member: NonEmpty = msgspec.field(name="Member_Account")
    role: Annotated[str, one_of(_ROLES)] | UnsetType = msgspec.field(name="Role", default=UNSET)
    msg_flag: Annotated[str, one_of(_MSG_FLAGS)] | UnsetType = msgspec.field(
        name="MsgFlag", default=UNSET
    )
    name_card: Annotated[str, msgspec.Meta(max_length=MAX_NAME_CARD)] | UnsetType = msgspec.field(
        name="NameCard", default=UNSET
    )
    app_member_defined_data: list[KeyValue] | UnsetType = msgspec.field(
        name="AppMemberDefinedData", default=UNSET
    )
    shut_up_time: MuteSeconds | UnsetType = msgspec.field(name="ShutUpTime", default=UNSET)


class ForbidSendMsg(Body, frozen=True, kw_only=True):
    """group_open_http_svc/forbid_send_msg: mute members for MuteTime seconds (0 unmutes)."""

    # Older pages name the period ShutUpTime; it is read when MuteTime is absent.
    wire_aliases = MappingProxyType({"MuteTime": "ShutUpTime"})

    group_id: NonEmpty = msgspec.field(name="GroupId")
    members: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=500)] = msgspec.field(
        name="Members_Account"
    )
    mute_time: MuteSeconds = msgspec.field(name="MuteTime")


def _given(value: Any) -> bool:
    return not isinstance(value, UnsetType)


def mute_end(call: Call, seconds: int) -> int:
    """``shut_up_until`` for a mute of ``seconds`` from now (0: unmuted)."""
    return 0 if seconds == 0 else call.seconds + seconds


# --- transactions ------------------------------------------------------------------------------


def _check_member_change(
    conn: Connection, call: Call, group: Row, body: ModifyGroupMemberInfo, target: str
) -> None:
    """Who may change what: the REST API anything; a member their own name card, flag and
    fields; the owner or an admin others' name cards, fields and mutes; the owner roles."""
    if group["type"] == "AVChatRoom":
        raise RestError(RestCode.NO_PERMISSION, "an AVChatRoom keeps no member profiles")
    if group["type"] == "Private" and (_given(body.role) or _given(body.shut_up_time)):
        raise RestError(RestCode.NO_PERMISSION, "a Private group has neither admins nor muting")
    if target == "Owner" and _given(body.role):
        raise RestError(RestCode.NO_PERMISSION, "the owner's role cannot be changed")
    if call.rest:
        return
    me = role_of(conn, call.app_id, body.group_id, call.operator)
    if me is None:
        raise RestError(RestCode.NO_PERMISSION, "you are not a member of this group")
    if body.member == call.operator:
        if _given(body.role) or _given(body.shut_up_time):
            raise RestError(RestCode.NO_PERMISSION, "you cannot change your own role or mute")
        return
    if _given(body.msg_flag):
        raise RestError(RestCode.NO_PERMISSION, "MsgFlag is each member's own choice")
    if _given(body.role) and me != "Owner":
        raise RestError(RestCode.NO_PERMISSION, "only the owner may set or cancel admins")
    if me == "Member" or (me == "Admin" and target != "Member"):
        raise RestError(RestCode.NO_PERMISSION, "you may not change this member's profile")


def modify_member_tx(conn: Connection, call: Call, body: ModifyGroupMemberInfo) -> None:
    """Change a member's fields; queue AfterMemberFieldChanged when the role or name card
    changed."""
    group = group_row(conn, call.app_id, body.group_id, lock=True)
    row = conn.execute(
        "SELECT * FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (call.app_id, body.group_id, body.member),
    ).fetchone()
    if row is None:
        raise RestError(
            RestCode.BAD_PARAM, f"Member_Account {body.member!r} is not a member of the group"
        )
    _check_member_change(conn, call, group, body, str(row["role"]))
    columns: dict[str, Any] = {}
    for attr, column in (("role", "role"), ("name_card", "name_card"), ("msg_flag", "msg_flag")):
        value = getattr(body, attr)
        if _given(value) and value != row[column]:
            columns[column] = value
    if isinstance(body.app_member_defined_data, list):
        fields = decode_fields(row["app_member_defined"])
        for key, value in key_values(body.app_member_defined_data):
            if value:
                fields[key] = value
            else:
                fields.pop(key, None)
        columns["app_member_defined"] = encode_json(fields).decode()
    if isinstance(body.shut_up_time, int):
        columns["shut_up_until"] = mute_end(call, body.shut_up_time)
    if columns:
        sets = ", ".join(f"{column} = ?" for column in columns)
        conn.execute(
            f"UPDATE group_members SET {sets}"
            " WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
            (*columns.values(), call.app_id, body.group_id, body.member),
        )
    if "role" in columns or "name_card" in columns:
        emit(
            conn,
            call,
            ev.AfterMemberFieldChanged,
            group_id=body.group_id,
            type=group["type"],
            operator_account=call.operator,
            member_account=body.member,
            role=columns.get("role"),
            name_card=columns.get("name_card"),
        )


def mute_tx(conn: Connection, call: Call, body: ForbidSendMsg) -> None:
    """Mute (or, with 0, unmute) the members named; non-members are left alone."""
    group = group_row(conn, call.app_id, body.group_id, lock=True)
    if group["type"] == "Private":
        raise RestError(RestCode.NO_PERMISSION, "a Private group's members cannot be muted")
    users = list(dict.fromkeys(body.members))
    conn.execute(
        f"UPDATE group_members SET shut_up_until = ? WHERE sdk_app_id = ? AND group_id = ?"
        f" AND user_id IN ({placeholders(len(users))})",
        (mute_end(call, body.mute_time), call.app_id, body.group_id, *users),
    )


def muted_list(conn: Connection, call: Call, group_id: str) -> list[dict[str, Any]]:
    """The members muted now, with when their mute ends."""
    group_row(conn, call.app_id, group_id)
    rows = conn.execute(
        "SELECT user_id, shut_up_until FROM group_members WHERE sdk_app_id = ? AND group_id = ?"
        " AND shut_up_until > ? ORDER BY user_id",
        (call.app_id, group_id, call.seconds),
    ).fetchall()
    return [{"Member_Account": r[0], "MutedUntil": int(r[1])} for r in rows]


# --- commands ----------------------------------------------------------------------------------


@commands.client("modify_group_member_info", ModifyGroupMemberInfo)
@commands.admin(GROUP_SERVICE, "modify_group_member_info", ModifyGroupMemberInfo)
async def modify_group_member_info(
    svc: ChatService, call: Call, body: ModifyGroupMemberInfo
) -> dict[str, Any]:
    """Change a member's role, name card, message flag, custom fields or mute. From the client:
    a member their own name card, flag or fields; the owner or an admin another's name card,
    fields or mute; the owner a role."""
    await svc.change(
        lambda c: modify_member_tx(c, call, body), group_key(call.app_id, body.group_id)
    )
    return {}


@commands.admin(GROUP_SERVICE, "forbid_send_msg", ForbidSendMsg)
async def forbid_send_msg(svc: ChatService, call: Call, body: ForbidSendMsg) -> dict[str, Any]:
    """Mute up to 500 members for MuteTime seconds, or unmute them with 0."""
    await svc.change(lambda c: mute_tx(c, call, body), group_key(call.app_id, body.group_id))
    return {}


@commands.admin(GROUP_SERVICE, "get_group_muted_account", GroupRef)
async def get_group_muted_account(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """The members muted now, under both pages' names: ``MutedAccountList`` with
    ``MutedUntil`` (the mainland page) and ``ShuttedUinList`` with ``ShuttedUntil`` (the
    English page)."""
    items = await svc.read(lambda c: muted_list(c, call, body.group_id))
    return {
        "GroupId": body.group_id,
        "MutedAccountList": items,
        "ShuttedUinList": [
            {"Member_Account": i["Member_Account"], "ShuttedUntil": i["MutedUntil"]} for i in items
        ],
    }
