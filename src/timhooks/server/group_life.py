"""A group's life after its creation: its profile changed, its owner changed, its dismissal.

The REST commands of ``group_open_http_svc`` that change a group as a whole, after Tencent's
"Modifying the Profile of a Group" (https://trtc.io/document/34962), "Changing Group Owner"
(https://trtc.io/document/34966) and "Disbanding a Group" (https://trtc.io/document/34896), and
the webhooks they send: AfterGroupInfoChanged ("After Group Profile Is Modified",
https://trtc.io/document/34378), AfterChangeGroupOwner ("Callback After the Group Owner Changed",
https://trtc.io/document/60396) and AfterGroupDestroyed ("After a Group Is Disbanded",
https://tencentcloud.com/document/product/1047/34377). A bad field is 10004; each change locks
the group's row first (``timhooks.server.sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from timhooks.server.group_attrs import drop_attrs
from timhooks.server.groups import (
    APPLY_OPTIONS,
    GROUP_SERVICE,
    GROUP_TYPES,
    ON_OFF,
    GroupRef,
    KeyValue,
    decode_fields,
    group_key,
    group_row,
    key_values,
    member_list,
    role_of,
)
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.topics import drop_topics
from timhooks.storage.engine import Connection

__all__ = ["ModifyGroupBaseInfo", "commands"]

commands = CommandTable(bad_param=RestCode.BAD_PARAM)


class ModifyGroupBaseInfo(Body, frozen=True, kw_only=True):
    """group_open_http_svc/modify_group_base_info: the fields given are changed."""

    # The mainland page names the switch MuteAllMember (https://cloud.tencent.com/document/
    # product/269/1620); it is read when ShutUpAllMember is absent.
    wire_aliases = MappingProxyType({"ShutUpAllMember": "MuteAllMember"})

    group_id: NonEmpty = msgspec.field(name="GroupId")
    name: NonEmpty | UnsetType = msgspec.field(name="Name", default=UNSET)
    introduction: str | UnsetType = msgspec.field(name="Introduction", default=UNSET)
    notification: str | UnsetType = msgspec.field(name="Notification", default=UNSET)
    face_url: str | UnsetType = msgspec.field(name="FaceUrl", default=UNSET)
    max_member_num: Annotated[int, msgspec.Meta(ge=1)] | UnsetType = msgspec.field(
        name="MaxMemberNum", default=UNSET
    )
    apply_join_option: Annotated[str, one_of(APPLY_OPTIONS)] | UnsetType = msgspec.field(
        name="ApplyJoinOption", default=UNSET
    )
    shut_up_all_member: Annotated[str, one_of(ON_OFF)] | UnsetType = msgspec.field(
        name="ShutUpAllMember", default=UNSET
    )
    # A Value of "" removes the field.
    app_defined_data: list[KeyValue] | UnsetType = msgspec.field(
        name="AppDefinedData", default=UNSET
    )


class ChangeGroupOwner(Body, frozen=True, kw_only=True):
    """group_open_http_svc/change_group_owner."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    new_owner: NonEmpty = msgspec.field(name="NewOwner_Account")


def _given(value: Any) -> bool:
    return not isinstance(value, UnsetType)


# --- transactions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """The profile fields a modify_group_base_info call changes."""

    columns: Mapping[str, Any]
    shown: Mapping[str, str]  # AfterGroupInfoChanged's changed fields, by model attribute
    user_defined: tuple[tuple[str, str], ...]


def _profile_change(row: Any, body: ModifyGroupBaseInfo, call: Call) -> ProfileChange:
    """What ``body`` changes in the group ``row``, checked against its type and size."""
    columns: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for attr, column in (
        ("name", "name"),
        ("introduction", "introduction"),
        ("notification", "notification"),
        ("face_url", "face_url"),
    ):
        value = getattr(body, attr)
        if _given(value) and value != row[column]:
            columns[column] = value
            shown[attr] = value
    if isinstance(body.max_member_num, int):
        if not call.rest:
            raise RestError(
                RestCode.NO_PERMISSION, "MaxMemberNum can be changed through the REST API only"
            )
        cap = GROUP_TYPES[row["type"]].cap
        most = body.max_member_num
        if cap and most > cap:
            raise RestError(RestCode.BAD_PARAM, f"MaxMemberNum must be in [1, {cap}], got {most}")
        if most < int(row["member_num"]):
            raise RestError(
                RestCode.BAD_PARAM,
                f"MaxMemberNum {most} is below the group's {row['member_num']} members",
            )
        columns["max_member_count"] = most
    if _given(body.apply_join_option):
        columns["apply_join_option"] = body.apply_join_option
    if _given(body.shut_up_all_member):
        columns["shut_up_all"] = int(body.shut_up_all_member == "On")
    changed: tuple[tuple[str, str], ...] = ()
    if isinstance(body.app_defined_data, list):
        fields = decode_fields(row["app_defined"])
        given = key_values(body.app_defined_data)
        changed = tuple((k, v) for k, v in given if fields.get(k, "") != v)
        for key, value in changed:
            if value:
                fields[key] = value
            else:
                fields.pop(key, None)
        if changed:
            columns["app_defined"] = encode_json(fields).decode()
    return ProfileChange(columns, shown, changed)


def modify_profile_tx(conn: Connection, call: Call, body: ModifyGroupBaseInfo) -> None:
    """Change the group's profile; queue AfterGroupInfoChanged if a field it reports changed."""
    row = group_row(conn, call.app_id, body.group_id, lock=True)
    if not call.rest:
        roles = ("Owner", "Admin", "Member") if row["type"] == "Private" else ("Owner", "Admin")
        if role_of(conn, call.app_id, body.group_id, call.operator) not in roles:
            raise RestError(RestCode.NO_PERMISSION, f"only {' or '.join(roles)} may do this")
    change = _profile_change(row, body, call)
    if change.columns:
        sets = ", ".join(f"{column} = ?" for column in change.columns)
        conn.execute(
            f"UPDATE groups SET {sets} WHERE sdk_app_id = ? AND group_id = ?",
            (*change.columns.values(), call.app_id, body.group_id),
        )
    if change.shown or change.user_defined:
        emit(
            conn,
            call,
            ev.AfterGroupInfoChanged,
            group_id=body.group_id,
            type=row["type"],
            operator_account=call.operator,
            user_defined_data_list=tuple(
                ev.UserDefinedData(key=k, value=v) for k, v in change.user_defined
            )
            or None,
            **change.shown,
        )


def change_owner_tx(conn: Connection, call: Call, group_id: str, new_owner: str) -> None:
    """Make ``new_owner``, a member, the owner (the old one becomes a Member); queue
    AfterChangeGroupOwner."""
    row = group_row(conn, call.app_id, group_id, lock=True)
    if row["type"] == "AVChatRoom":
        raise RestError(RestCode.NO_PERMISSION, "an AVChatRoom has no ownership transfer")
    old = str(row["owner"])
    if not call.rest and call.operator != old:
        raise RestError(RestCode.NO_PERMISSION, "only the group owner may transfer ownership")
    if role_of(conn, call.app_id, group_id, new_owner) is None:
        raise RestError(
            RestCode.BAD_PARAM, f"NewOwner_Account {new_owner!r} is not a member of the group"
        )
    if new_owner == old:
        return
    conn.execute(
        "UPDATE group_members SET role = CASE WHEN user_id = ? THEN 'Owner' ELSE 'Member' END"
        " WHERE sdk_app_id = ? AND group_id = ? AND user_id IN (?, ?)",
        (new_owner, call.app_id, group_id, new_owner, old),
    )
    conn.execute(
        "UPDATE groups SET owner = ? WHERE sdk_app_id = ? AND group_id = ?",
        (new_owner, call.app_id, group_id),
    )
    emit(
        conn,
        call,
        ev.AfterChangeGroupOwner,
        group_id=group_id,
        type=row["type"],
        operator_account=call.operator,
        old_owner_account=old,
        new_owner_account=new_owner,
    )


def destroy_group_tx(conn: Connection, call: Call, group_id: str) -> None:
    """Dismiss a group with its members, applications, messages, attributes and topics; queue
    AfterGroupDestroyed (its MemberList is not sent for a Community)."""
    row = group_row(conn, call.app_id, group_id, lock=True)
    if not call.rest and row["owner"] != call.operator:
        raise RestError(RestCode.NO_PERMISSION, "only the group owner may dismiss the group")
    members = [
        r[0]
        for r in conn.execute(
            "SELECT user_id FROM group_members WHERE sdk_app_id = ? AND group_id = ?"
            " ORDER BY role = 'Owner' DESC, join_time, user_id",
            (call.app_id, group_id),
        ).fetchall()
    ]
    drop_topics(conn, call.app_id, group_id)
    drop_attrs(conn, call.app_id, group_id)
    for table in ("group_members", "group_applications", "group_messages", "groups"):
        conn.execute(
            f"DELETE FROM {table} WHERE sdk_app_id = ? AND group_id = ?", (call.app_id, group_id)
        )
    emit(
        conn,
        call,
        ev.AfterGroupDestroyed,
        group_id=group_id,
        type=row["type"],
        owner_account=row["owner"],
        name=row["name"],
        member_list=() if row["type"] == "Community" else member_list(members),
    )


# --- commands ----------------------------------------------------------------------------------


@commands.client("modify_group_base_info", ModifyGroupBaseInfo)
@commands.admin(GROUP_SERVICE, "modify_group_base_info", ModifyGroupBaseInfo)
async def modify_group_base_info(
    svc: ChatService, call: Call, body: ModifyGroupBaseInfo
) -> dict[str, Any]:
    """Change a group's profile; AfterGroupInfoChanged reports a changed name, introduction,
    notification, face or custom field. From the client: the owner or an admin (any member of
    a Private group), and MaxMemberNum only through the REST API."""
    await svc.change(
        lambda c: modify_profile_tx(c, call, body), group_key(call.app_id, body.group_id)
    )
    return {}


@commands.client("change_group_owner", ChangeGroupOwner)
@commands.admin(GROUP_SERVICE, "change_group_owner", ChangeGroupOwner)
async def change_group_owner(
    svc: ChatService, call: Call, body: ChangeGroupOwner
) -> dict[str, Any]:
    """Transfer a group to one of its members (not an AVChatRoom: 10007); from the client, the
    owner only."""
    await svc.change(
        lambda c: change_owner_tx(c, call, body.group_id, body.new_owner),
        group_key(call.app_id, body.group_id),
    )
    return {}


@commands.client("destroy_group", GroupRef)
@commands.admin(GROUP_SERVICE, "destroy_group", GroupRef)
async def destroy_group(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """Dismiss a group (a Community's topics with it); from the client, the owner only."""
    group_id = body.group_id
    await svc.change(
        lambda c: destroy_group_tx(c, call, group_id), group_key(call.app_id, group_id)
    )
    return {}
