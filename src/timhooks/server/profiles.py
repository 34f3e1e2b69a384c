"""Profiles: the standard ``Tag_Profile_IM_*`` fields and ``Tag_Profile_Custom_*`` fields of a
user, set by an admin (``profile/portrait_set``) or by the user through the client, read with
``portrait_get``, and Profile.CallbackPortraitSet.

Tencent's "Setting Profiles" (https://trtc.io/document/34916), "Pulling Profiles"
(https://trtc.io/document/34917) and "Profile Management" (https://trtc.io/document/33520, the
fields, their types and limits). A bad field is 40001. ``Tag_Profile_IM_Nick`` and
``Tag_Profile_IM_Image`` are the account's ``Nick`` and ``FaceUrl`` (``accounts``, which
``account_import`` writes): one value each, whichever command sets or reads it. The other fields
are rows of ``profile_fields``, their values as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported, lock_accounts
from timhooks.server.bodies import Body, NonEmpty, object_with
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import placeholders
from timhooks.storage.engine import Connection

__all__ = [
    "ALLOW_ANY",
    "ALLOW_TYPE",
    "DENY_ANY",
    "NEED_CONFIRM",
    "PROFILE_BAD_PARAM",
    "allow_types",
    "commands",
]

PROFILE_BAD_PARAM = 40001  # Err_Profile_Comm_Decode_Fail ("Setting Profiles")
PROFILE_NO_ACCOUNT = 40003  # Err_Profile_Invalid_Account
PROFILE_TOO_LONG = 40005  # a field's value is longer than its limit
_SERVICE = "profile"
_CUSTOM = "Tag_Profile_Custom_"
_CUSTOM_NAME_MAX = 8  # characters of a custom field's name ("Profile Management")
_VALUE_MAX = 500  # bytes of a string value ("Profile Management")
_UINT64 = 2**64

ALLOW_TYPE = "Tag_Profile_IM_AllowType"
NEED_CONFIRM = "AllowType_Type_NeedConfirm"  # the default
ALLOW_ANY = "AllowType_Type_AllowAny"
DENY_ANY = "AllowType_Type_DenyAny"

commands = CommandTable(bad_param=PROFILE_BAD_PARAM)


@dataclass(frozen=True, slots=True)
class TagType:
    """A standard field: a string (at most ``max_bytes``, or one of ``choices``) or a uint32."""

    kind: type
    max_bytes: int = _VALUE_MAX
    choices: tuple[str, ...] = ()


_UINT32 = TagType(int)
STANDARD_TAGS: dict[str, TagType] = {
    "Tag_Profile_IM_Nick": TagType(str),
    "Tag_Profile_IM_Gender": TagType(
        str, choices=("Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male")
    ),
    "Tag_Profile_IM_BirthDay": _UINT32,
    "Tag_Profile_IM_Location": TagType(str, max_bytes=16),
    "Tag_Profile_IM_SelfSignature": TagType(str),
    ALLOW_TYPE: TagType(str, choices=(NEED_CONFIRM, ALLOW_ANY, DENY_ANY)),
    "Tag_Profile_IM_Language": _UINT32,
    "Tag_Profile_IM_Image": TagType(str),
    "Tag_Profile_IM_MsgSettings": _UINT32,
    "Tag_Profile_IM_AdminForbidType": TagType(
        str, choices=("AdminForbid_Type_None", "AdminForbid_Type_SendOut")
    ),
    "Tag_Profile_IM_Level": _UINT32,
    "Tag_Profile_IM_Role": _UINT32,
}
# The two standard fields kept in the accounts table, by its column.
_ACCOUNT_COLUMNS = {"Tag_Profile_IM_Nick": "nick", "Tag_Profile_IM_Image": "face_url"}

Item = Annotated[dict[str, Any], object_with("Tag", Value={"type": ["string", "integer"]})]


class PortraitSet(Body, frozen=True, kw_only=True):
    """profile/portrait_set: fields of one user's profile."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    items: Annotated[list[Item], msgspec.Meta(min_length=1)] = msgspec.field(name="ProfileItem")


class MyPortraitSet(Body, frozen=True, kw_only=True):
    """timhooks_client/portrait_set: fields of the user's own profile."""

    items: Annotated[list[Item], msgspec.Meta(min_length=1)] = msgspec.field(name="ProfileItem")


class PortraitGet(Body, frozen=True, kw_only=True):
    """profile/portrait_get: fields of up to 100 users."""

    users: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=100)] = msgspec.field(
        name="To_Account"
    )
    tags: Annotated[list[NonEmpty], msgspec.Meta(min_length=1)] = msgspec.field(name="TagList")


# --- values ------------------------------------------------------------------------------------


def check_item(item: dict[str, Any]) -> tuple[str, str | int]:
    """A ProfileItem's (Tag, Value) once checked against its field's type and limit."""
    tag, value = item["Tag"], item.get("Value")
    spec = STANDARD_TAGS.get(tag)
    if spec is None:
        name = tag[len(_CUSTOM) :] if tag.startswith(_CUSTOM) else ""
        if not name or len(name) > _CUSTOM_NAME_MAX:
            raise RestError(
                PROFILE_BAD_PARAM,
                f"Tag {tag!r} is neither a standard Tag_Profile_IM_* field nor"
                f" Tag_Profile_Custom_<name of 1 to {_CUSTOM_NAME_MAX} characters>",
            )
        # A custom field holds a string or an integer, as the console declares it.
        spec = TagType(int if isinstance(value, int) and not isinstance(value, bool) else str)
    if spec.kind is int:
        high = _UINT64 if tag.startswith(_CUSTOM) else 2**32
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < high:
            raise RestError(PROFILE_BAD_PARAM, f"{tag} must be an unsigned integer (< {high})")
        return tag, value
    if not isinstance(value, str):
        raise RestError(PROFILE_BAD_PARAM, f"{tag} must be a string")
    if len(value.encode()) > spec.max_bytes:
        raise RestError(PROFILE_TOO_LONG, f"{tag} is longer than {spec.max_bytes} bytes")
    if spec.choices and value not in spec.choices:
        raise RestError(PROFILE_BAD_PARAM, f"{tag} must be one of {', '.join(spec.choices)}")
    return tag, value


def set_profile_tx(
    conn: Connection, call: Call, user: str, items: Sequence[tuple[str, str | int]]
) -> None:
    """Write ``user``'s fields and queue Profile.CallbackPortraitSet."""
    if not imported(conn, call.app_id, [user]):
        raise RestError(PROFILE_NO_ACCOUNT, f"account {user!r} is not imported")
    lock_accounts(conn, call.app_id, [user])  # one profile's writers queue on its account
    for tag, value in items:
        column = _ACCOUNT_COLUMNS.get(tag)
        if column is not None:
            conn.execute(
                f"UPDATE accounts SET {column} = ? WHERE sdk_app_id = ? AND user_id = ?",
                (value, call.app_id, user),
            )
            continue
        conn.execute(
            "INSERT INTO profile_fields (sdk_app_id, user_id, tag, value) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (sdk_app_id, user_id, tag) DO UPDATE SET value = excluded.value",
            (call.app_id, user, tag, json.dumps(value)),
        )
    emit(
        conn,
        call,
        ev.PortraitSet,
        operator_account=call.operator,
        from_account=user,
        profile_item=tuple(ev.ProfileItem(tag=t, value=v) for t, v in items),
    )


def profiles(
    conn: Connection, app_id: int, users: Sequence[str], tags: Sequence[str] | None = None
) -> dict[str, dict[str, str | int]]:
    """The set fields of the imported ``users`` (of ``tags`` only, if given), by user."""
    known = imported(conn, app_id, users)
    found: dict[str, dict[str, str | int]] = {u: {} for u in users if u in known}
    if not found:
        return found
    people = list(found)
    marks = placeholders(len(people))
    for row in conn.execute(
        f"SELECT user_id, nick, face_url FROM accounts WHERE sdk_app_id = ? AND user_id IN"
        f" ({marks})",
        (app_id, *people),
    ):
        for tag, value in (("Tag_Profile_IM_Nick", row[1]), ("Tag_Profile_IM_Image", row[2])):
            if value:
                found[row[0]][tag] = value
    for row in conn.execute(
        f"SELECT user_id, tag, value FROM profile_fields WHERE sdk_app_id = ? AND user_id IN"
        f" ({marks})",
        (app_id, *people),
    ):
        found[row[0]][row[1]] = json.loads(row[2])
    if tags is not None:
        wanted = set(tags)
        found = {u: {t: v for t, v in f.items() if t in wanted} for u, f in found.items()}
    return found


def allow_types(conn: Connection, app_id: int, users: Sequence[str]) -> dict[str, str]:
    """Each user's friend verification (Tag_Profile_IM_AllowType; NeedConfirm when unset)."""
    fields = profiles(conn, app_id, users, [ALLOW_TYPE])
    return {u: str(fields.get(u, {}).get(ALLOW_TYPE, NEED_CONFIRM)) for u in users}


def portrait_items(
    conn: Connection, app_id: int, users: Sequence[str], tags: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """portrait_get's UserProfileItem (in ``tags`` order) and Fail_Account."""
    found = profiles(conn, app_id, users, tags)
    items: list[dict[str, Any]] = []
    failed: list[str] = []
    for user in users:
        fields = found.get(user)
        if fields is None:
            failed.append(user)
            items.append(
                {
                    "To_Account": user,
                    "ProfileItem": [],
                    "ResultCode": PROFILE_NO_ACCOUNT,
                    "ResultInfo": f"account {user!r} is not imported",
                }
            )
            continue
        profile = [{"Tag": t, "Value": fields[t]} for t in dict.fromkeys(tags) if t in fields]
        items.append(
            {"To_Account": user, "ProfileItem": profile, "ResultCode": 0, "ResultInfo": ""}
        )
    return items, failed


# --- commands ----------------------------------------------------------------------------------


async def _set(svc: ChatService, call: Call, user: str, raw: list[dict[str, Any]]) -> None:
    items = list({tag: value for tag, value in map(check_item, raw)}.items())
    await svc.change(lambda c: set_profile_tx(c, call, user, items))


@commands.admin(_SERVICE, "portrait_set", PortraitSet)
async def portrait_set(svc: ChatService, call: Call, body: PortraitSet) -> dict[str, Any]:
    """An admin sets fields of a user's profile (40001 on a bad field, 40003 on an unknown
    user); Profile.CallbackPortraitSet follows."""
    await _set(svc, call, body.from_account, body.items)
    return {}


@commands.client("portrait_set", MyPortraitSet)
async def client_portrait_set(svc: ChatService, call: Call, body: MyPortraitSet) -> dict[str, Any]:
    """The user sets fields of their own profile; Profile.CallbackPortraitSet follows."""
    await _set(svc, call, call.operator, body.items)
    return {}


@commands.admin(_SERVICE, "portrait_get", PortraitGet)
async def portrait_get(svc: ChatService, call: Call, body: PortraitGet) -> dict[str, Any]:
    """The fields of ``TagList`` that are set, per user; unknown users get ResultCode 40003 and
    are listed in Fail_Account."""
    items, failed = await svc.read(lambda c: portrait_items(c, call.app_id, body.users, body.tags))
    return {"UserProfileItem": items, **({"Fail_Account": failed} if failed else {})}
