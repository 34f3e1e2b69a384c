"""Groups: creating and reading them, with their webhooks (their later life: ``group_life``).

The REST commands of ``group_open_http_svc`` that act on the group itself, after Tencent's
"Creating a Group" (https://trtc.io/document/34895); a bad field is 10004. Members are in
``group_members``, which locks the group's row first (``timhooks.server.sql``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported
from timhooks.server.bodies import Body, NonEmpty, object_with, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row, app_rows, per_item, random_id, row_by
from timhooks.storage.engine import Connection

__all__ = [
    "GROUP_SERVICE",
    "GroupRef",
    "GroupType",
    "KeyValue",
    "Member",
    "commands",
    "decode_fields",
    "group_key",
    "group_listing",
    "group_profile",
    "group_row",
    "key_values",
    "member_list",
    "role_of",
]

GROUP_SERVICE = "group_open_http_svc"

commands = CommandTable(bad_param=RestCode.BAD_PARAM)


@dataclass(frozen=True, slots=True)
class GroupType:
    """A group type: REST name, default and largest MaxMemberCount (0 = unlimited)."""

    name: str
    default_max: int
    cap: int
    default_apply: str


# Defaults from the Web SDK's CreateGroupParams (Work 200, Public 2000, Meeting 10000,
# AVChatRoom unlimited: https://web.sdk.qcloud.com/im/doc/chat-engine/en/CreateGroupParams.html);
# Work/Public may be raised to 6000, Community holds up to 100000
# (https://trtc.io/document/33529); Meeting keeps its documented default of 10000 as its limit.
GROUP_TYPES = {
    t.name: t
    for t in (
        GroupType("Private", 200, 6000, "DisableApply"),
        GroupType("Public", 2000, 6000, "NeedPermission"),
        GroupType("ChatRoom", 10000, 10000, "FreeAccess"),
        GroupType("AVChatRoom", 0, 0, "FreeAccess"),
        GroupType("Community", 100000, 100000, "FreeAccess"),
    )
}
# The SDK's newer names for the same types.
GROUP_TYPE_ALIASES = {"Work": "Private", "Meeting": "ChatRoom"}
APPLY_OPTIONS = ("FreeAccess", "NeedPermission", "DisableApply")
ON_OFF = ("On", "Off")  # ShutUpAllMember, MuteAllMember


KeyValue = Annotated[dict[str, Any], object_with("Key", Value={"type": "string"})]
"""A ``{"Key": …, "Value": …}`` item of AppDefinedData; a Value that is not a string is taken
as its text (``key_values``)."""


def key_values(items: Iterable[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """AppDefinedData items as (Key, Value) pairs, a missing Value as ""."""
    return tuple((str(item["Key"]), str(item.get("Value", ""))) for item in items)


def decode_fields(text: str) -> dict[str, str]:
    """Custom fields as stored: a JSON object of strings (``encode_json`` of a dict)."""
    data = json.loads(text or "{}")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class GroupRef(Body, frozen=True, kw_only=True):
    """A group by its ID (``{"GroupId": …}``)."""

    group_id: NonEmpty = msgspec.field(name="GroupId")


class Member(Body, frozen=True, kw_only=True):
    """A user in a member list (``{"Member_Account": …}``)."""

    user: NonEmpty = msgspec.field(name="Member_Account")


class CreateGroup(Body, frozen=True, kw_only=True):
    """group_open_http_svc/create_group."""

    type: Annotated[str, one_of([*GROUP_TYPES, *GROUP_TYPE_ALIASES])] = msgspec.field(name="Type")
    members: Annotated[list[Member], msgspec.Meta(max_length=500)] = msgspec.field(
        name="MemberList", default_factory=list
    )
    max_member_count: Annotated[int, msgspec.Meta(ge=1)] | UnsetType = msgspec.field(
        name="MaxMemberCount", default=UNSET
    )
    # "" as if absent: the type's default.
    apply_join_option: (
        Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(APPLY_OPTIONS)})] | UnsetType
    ) = msgspec.field(name="ApplyJoinOption", default=UNSET)
    owner: str = msgspec.field(name="Owner_Account", default="")
    app_defined_data: list[KeyValue] = msgspec.field(name="AppDefinedData", default_factory=list)
    name: NonEmpty = msgspec.field(name="Name")
    group_id: str = msgspec.field(name="GroupId", default="")
    introduction: str = msgspec.field(name="Introduction", default="")
    notification: str = msgspec.field(name="Notification", default="")
    face_url: str = msgspec.field(name="FaceUrl", default="")
    # 1: a Community with topics ("Creating a Group", https://trtc.io/document/34895); other
    # types ignore it.
    support_topic: Annotated[int, msgspec.Meta(ge=0, le=1)] = msgspec.field(
        name="SupportTopic", default=0
    )


class GetGroupInfo(Body, frozen=True, kw_only=True):
    """group_open_http_svc/get_group_info: up to 50 groups."""

    group_ids: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=50)] = msgspec.field(
        name="GroupIdList"
    )


@dataclass(frozen=True, slots=True)
class NewGroup:
    """A group to create, its type resolved and its limits applied."""

    type: str
    name: str
    owner: str = ""
    group_id: str | None = None
    introduction: str = ""
    notification: str = ""
    face_url: str = ""
    max_member_count: int = 0
    apply_join_option: str = ""
    members: tuple[str, ...] = ()
    user_defined: tuple[tuple[str, str], ...] = ()
    support_topic: bool = False


# --- rows --------------------------------------------------------------------------------------


def group_key(app_id: int, group_id: str) -> tuple[str, int, str]:
    """The storage key of an operation that locks only this group's rows."""
    return ("group", app_id, group_id)


def group_row(conn: Connection, app_id: int, group_id: str, *, lock: bool = False) -> Row:
    """The group, or RestError 10010; ``lock`` holds its row to the transaction's end."""
    row = row_by(conn, "groups", "group_id", app_id, group_id, lock=lock)
    if row is None:
        raise RestError(RestCode.GROUP_NOT_FOUND, f"group {group_id!r} does not exist")
    return row


def role_of(conn: Connection, app_id: int, group_id: str, user: str) -> str | None:
    """The user's role in the group (Owner, Admin, Member), or None."""
    row = conn.execute(
        "SELECT role FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (app_id, group_id, user),
    ).fetchone()
    return None if row is None else str(row[0])


def member_list(ids: Iterable[str]) -> tuple[ev.Member, ...]:
    """Users as a webhook's member list."""
    return tuple(ev.Member(member_account=u) for u in ids)


def check_group_id(group_id: str, group_type: str) -> None:
    """Custom group IDs: printable ASCII, at most 48 bytes; ``@TGS#`` is reserved except for
    Community groups, whose IDs must start with ``@TGS#_``."""
    ok = 0 < len(group_id.encode()) <= 48 and all(0x20 < ord(c) <= 0x7E for c in group_id)
    if group_type == "Community":
        ok = ok and group_id.startswith("@TGS#_")
    else:
        ok = ok and not group_id.startswith("@TGS#")
    if not ok:
        raise RestError(
            RestCode.GROUP_ID_INVALID,
            "GroupId must be printable ASCII of at most 48 bytes; @TGS# is reserved (Community"
            " IDs must start with @TGS#_)",
        )


# CreateGroupNum: the groups of this type the owner has; index groups_owner (migration 8).
OWNED_GROUPS = "SELECT COUNT(*) FROM groups WHERE sdk_app_id = ? AND owner = ? AND type = ?"


def check_create_group(conn: Connection, call: Call, req: NewGroup) -> int:
    """What create_group checks before asking the app; returns CreateGroupNum."""
    people = ([req.owner] if req.owner else []) + list(req.members)
    missing = sorted(set(people) - imported(conn, call.app_id, people))
    if missing:
        raise RestError(
            RestCode.ACCOUNT_NOT_FOUND, f"accounts not imported: {', '.join(missing[:10])}"
        )
    if req.group_id is not None:
        check_group_id(req.group_id, req.type)
        if conn.execute(
            "SELECT 1 FROM groups WHERE sdk_app_id = ? AND group_id = ?",
            (call.app_id, req.group_id),
        ).fetchone():
            raise RestError(RestCode.GROUP_ID_IN_USE, f"GroupId {req.group_id!r} is in use")
    if not req.owner:
        return 0
    count: int = conn.execute(OWNED_GROUPS, (call.app_id, req.owner, req.type)).fetchone()[0]
    return count


def create_group_tx(conn: Connection, call: Call, req: NewGroup) -> str:
    """Create a group with its initial members; queue AfterCreateGroup; return the GroupId."""
    check_create_group(conn, call, req)
    group_id = req.group_id
    prefix = "@TGS#_" if req.type == "Community" else "@TGS#"
    while group_id is None:
        candidate = prefix + random_id(9)
        if not conn.execute(
            "SELECT 1 FROM groups WHERE sdk_app_id = ? AND group_id = ?", (call.app_id, candidate)
        ).fetchone():
            group_id = candidate
    members = [m for m in dict.fromkeys(req.members) if m != req.owner]
    roster = ([(req.owner, "Owner")] if req.owner else []) + [(m, "Member") for m in members]
    inserted = conn.execute(
        "INSERT INTO groups (sdk_app_id, group_id, type, name, owner, introduction, notification,"
        " face_url, max_member_count, member_num, apply_join_option, create_time, app_defined,"
        " support_topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING RETURNING group_id",
        (
            call.app_id,
            group_id,
            req.type,
            req.name,
            req.owner,
            req.introduction,
            req.notification,
            req.face_url,
            req.max_member_count,
            len(roster),
            req.apply_join_option,
            call.seconds,
            encode_json(dict(req.user_defined)).decode(),
            int(req.support_topic),
        ),
    ).fetchone()
    if inserted is None:  # taken by a concurrent transaction since the check
        raise RestError(RestCode.GROUP_ID_IN_USE, f"GroupId {group_id!r} is in use")
    conn.executemany(
        "INSERT INTO group_members (sdk_app_id, group_id, user_id, role, join_time)"
        " VALUES (?, ?, ?, ?, ?)",
        [(call.app_id, group_id, user, role, call.seconds) for user, role in roster],
    )
    emit(
        conn,
        call,
        ev.AfterCreateGroup,
        group_id=group_id,
        operator_account=call.operator,
        owner_account=req.owner,
        type=req.type,
        name=req.name,
        member_list=member_list(members),
        user_defined_data_list=tuple(
            ev.UserDefinedData(key=k, value=v) for k, v in req.user_defined
        ),
    )
    return group_id


def group_info(conn: Connection, app_id: int, group_ids: Sequence[str]) -> list[dict[str, Any]]:
    """get_group_info items: the profile, or a per-item 10010."""
    return per_item(
        group_ids,
        "GroupId",
        lambda group_id: group_row(conn, app_id, group_id),
        lambda row: {
            "Type": row["type"],
            "Name": row["name"],
            "Owner_Account": row["owner"],
            "Introduction": row["introduction"],
            "Notification": row["notification"],
            "FaceUrl": row["face_url"],
            "CreateTime": row["create_time"],
            "MemberNum": row["member_num"],
            "MaxMemberNum": row["max_member_count"],
            "ApplyJoinOption": row["apply_join_option"],
            "ShutUpAllMember": "On" if row["shut_up_all"] else "Off",
            "AppDefinedData": [
                {"Key": k, "Value": v} for k, v in decode_fields(row["app_defined"]).items()
            ],
        },
    )


def group_listing(conn: Connection, app_id: int, limit: int) -> list[dict[str, Any]]:
    """The app's first ``limit`` groups by ID, with their member counts."""
    return app_rows(
        conn,
        "SELECT group_id, type, name, owner, member_num, max_member_count, apply_join_option,"
        " create_time FROM groups WHERE sdk_app_id = ? ORDER BY group_id LIMIT ?",
        (app_id, limit),
    )


def group_profile(conn: Connection, app_id: int, group_id: str) -> dict[str, Any] | None:
    """One group's profile and counts, or None."""
    found = app_rows(
        conn,
        "SELECT group_id, type, name, owner, introduction, notification, member_num,"
        " max_member_count, apply_join_option, create_time FROM groups"
        " WHERE sdk_app_id = ? AND group_id = ?",
        (app_id, group_id),
    )
    return found[0] if found else None


# --- commands ----------------------------------------------------------------------------------


def _new_group(body: CreateGroup) -> NewGroup:
    """The group ``body`` asks for, with the checks across its fields (10004, or 10007 for an
    AVChatRoom with members: https://trtc.io/document/34895)."""
    gtype = GROUP_TYPES[GROUP_TYPE_ALIASES.get(body.type, body.type)]
    members = [m.user for m in body.members]
    if gtype.name == "AVChatRoom" and members:
        raise RestError(RestCode.NO_PERMISSION, "an AVChatRoom cannot be created with members")
    most = None if isinstance(body.max_member_count, UnsetType) else body.max_member_count
    if most is not None and gtype.cap and most > gtype.cap:
        raise RestError(
            commands.bad_param, f"MaxMemberCount must be in [1, {gtype.cap}], got {most}"
        )
    limit = 0 if gtype.cap == 0 else (most or gtype.default_max)
    given = body.apply_join_option
    apply = given if isinstance(given, str) and given else gtype.default_apply
    if apply not in APPLY_OPTIONS:
        raise RestError(
            commands.bad_param, f"ApplyJoinOption must be one of {', '.join(APPLY_OPTIONS)}"
        )
    headcount = len(set(members) | ({body.owner} if body.owner else set()))
    if limit and headcount > limit:
        raise RestError(
            commands.bad_param,
            f"MemberList holds {headcount} people, more than MaxMemberCount {limit}",
        )
    return NewGroup(
        type=gtype.name,
        name=body.name,
        owner=body.owner,
        group_id=body.group_id or None,
        introduction=body.introduction,
        notification=body.notification,
        face_url=body.face_url,
        max_member_count=limit,
        apply_join_option=apply,
        members=tuple(members),
        user_defined=key_values(body.app_defined_data),
        support_topic=gtype.name == "Community" and body.support_topic == 1,
    )


@commands.admin(GROUP_SERVICE, "create_group", CreateGroup)
async def create_group(svc: ChatService, call: Call, body: CreateGroup) -> dict[str, Any]:
    """Create a group; BeforeCreateGroup may veto it (10016 or a custom code)."""
    req = _new_group(body)
    # The checks run before the app is asked only when BeforeCreateGroup is on: the transaction
    # checks again anyway.
    if call.callback.enabled(ev.BeforeCreateGroup.command):
        created = await svc.read(lambda c: check_create_group(c, call, req))
        await svc.ask(
            call,
            ev.BeforeCreateGroup,
            operator_account=call.operator,
            owner_account=req.owner,
            type=req.type,
            name=req.name,
            create_group_num=created,
            member_list=member_list(req.members),
        )
    group_id = await svc.change(lambda c: create_group_tx(c, call, req))
    return {"GroupId": group_id}


@commands.admin(GROUP_SERVICE, "get_group_info", GetGroupInfo)
async def get_group_info(svc: ChatService, call: Call, body: GetGroupInfo) -> dict[str, Any]:
    """Profiles of up to 50 groups."""
    items = await svc.read(lambda c: group_info(c, call.app_id, body.group_ids))
    return {"GroupInfo": items}
