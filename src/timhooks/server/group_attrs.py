"""Group custom attributes: key-value pairs stored per group, with AfterGroupAttrChanged.

Tencent's REST commands "Getting Group Custom Attributes" (https://trtc.io/document/44187,
``group_open_attr_http_svc/get_group_attr``), "Modifying Group Custom Attributes"
(https://tencentcloud.com/document/product/1047/44188), "Clearing Group Custom Attributes"
(https://intl.cloud.tencent.com/document/product/1047/44189, not for a Community), "Resetting
Group Custom Attributes" (https://trtc.io/document/44190) and "Deleting Group Custom Attributes"
(https://trtc.io/document/59499). The limits and their codes are those of the reset page
(https://www.tencentcloud.com/zh/document/product/1047/44190): a key of at most 32 bytes (10045),
a value of at most 4000 bytes (10046), at most 16 keys (10047); all keys and values together at
most 16 KB (10048, the size "Custom Group Attribute" gives, https://trtc.io/document/50321).

Each change queues AfterGroupAttrChanged ("Callback After Group Attribute Changed",
https://trtc.io/document/60394) with its OptionType (set, modify, clear, delete) and the
group's attributes as they are after the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.bodies import Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.groups import GROUP_SERVICE, GroupRef, group_key, group_row, role_of
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.storage.engine import Connection

__all__ = ["ATTR_SERVICE", "commands", "drop_attrs"]

ATTR_SERVICE = "group_open_attr_http_svc"

commands = CommandTable(bad_param=RestCode.BAD_PARAM)

MAX_KEYS = 16
MAX_KEY_BYTES = 32
MAX_VALUE_BYTES = 4000
MAX_TOTAL_BYTES = 16 * 1024
KEY_TOO_LONG = 10045
VALUE_TOO_LONG = 10046
TOO_MANY_KEYS = 10047
TOO_LARGE = 10048


class Attr(Body, frozen=True, kw_only=True):
    """One attribute, ``{"key": …, "value": …}`` in lower case."""

    key: NonEmpty = msgspec.field(name="key")
    value: str = msgspec.field(name="value", default="")


class AttrKey(Body, frozen=True, kw_only=True):
    """An attribute to delete, ``{"key": …}``."""

    key: NonEmpty = msgspec.field(name="key")


class SetGroupAttr(Body, frozen=True, kw_only=True):
    """set_group_attr (every attribute replaced) and modify_group_attr (those given set)."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    attrs: Annotated[list[Attr], msgspec.Meta(min_length=1)] = msgspec.field(name="GroupAttr")


class DeleteGroupAttr(Body, frozen=True, kw_only=True):
    """delete_group_attr."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    keys: Annotated[list[AttrKey], msgspec.Meta(min_length=1)] = msgspec.field(name="GroupAttr")


# --- rows --------------------------------------------------------------------------------------


def attrs_of(conn: Connection, app_id: int, group_id: str) -> dict[str, str]:
    """The group's attributes, by key."""
    rows = conn.execute(
        "SELECT attr_key, attr_value FROM group_attrs WHERE sdk_app_id = ? AND group_id = ?"
        " ORDER BY attr_key",
        (app_id, group_id),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def drop_attrs(conn: Connection, app_id: int, group_id: str) -> None:
    """Remove every attribute of a group (it is being dismissed)."""
    conn.execute(
        "DELETE FROM group_attrs WHERE sdk_app_id = ? AND group_id = ?", (app_id, group_id)
    )


def _check_limits(attrs: dict[str, str]) -> None:
    for key, value in attrs.items():
        if len(key.encode()) > MAX_KEY_BYTES:
            raise RestError(KEY_TOO_LONG, f"attribute key {key[:40]!r} is over 32 bytes")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise RestError(VALUE_TOO_LONG, f"the value of {key!r} is over 4000 bytes")
    if len(attrs) > MAX_KEYS:
        raise RestError(TOO_MANY_KEYS, f"a group holds at most 16 attributes, not {len(attrs)}")
    total = sum(len(k.encode()) + len(v.encode()) for k, v in attrs.items())
    if total > MAX_TOTAL_BYTES:
        raise RestError(TOO_LARGE, f"a group's attributes hold at most 16 KB, not {total} bytes")


def change_attrs_tx(
    conn: Connection,
    call: Call,
    group_id: str,
    option: str,
    given: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """Apply one change (``option``: set, modify, clear or delete ``given``'s keys) within the
    limits; queue AfterGroupAttrChanged; return the attributes now."""
    row = group_row(conn, call.app_id, group_id, lock=True)
    if option == "clear" and row["type"] == "Community":
        raise RestError(RestCode.NO_PERMISSION, "a Community's attributes cannot be cleared")
    if not call.rest and role_of(conn, call.app_id, group_id, call.operator) is None:
        raise RestError(RestCode.NO_PERMISSION, "you are not a member of this group")
    before = attrs_of(conn, call.app_id, group_id)
    after = {} if option in ("set", "clear") else dict(before)
    for key, value in given:
        if option == "delete":
            after.pop(key, None)
        else:
            after[key] = value
    _check_limits(after)
    drop_attrs(conn, call.app_id, group_id)
    conn.executemany(
        "INSERT INTO group_attrs (sdk_app_id, group_id, attr_key, attr_value) VALUES (?, ?, ?, ?)",
        [(call.app_id, group_id, k, v) for k, v in after.items()],
    )
    emit(
        conn,
        call,
        ev.AfterGroupAttrChanged,
        group_id=group_id,
        type=row["type"],
        operator_account=call.operator,
        option_type=option,
        group_attr=tuple(ev.GroupAttr(key=k, value=v) for k, v in sorted(after.items())),
    )
    return after


def _read_attrs(conn: Connection, app_id: int, group_id: str) -> list[dict[str, str]]:
    group_row(conn, app_id, group_id)
    return [{"key": k, "value": v} for k, v in attrs_of(conn, app_id, group_id).items()]


# --- commands ----------------------------------------------------------------------------------


async def _change(
    svc: ChatService,
    call: Call,
    group_id: str,
    option: str,
    given: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    await svc.change(
        lambda c: change_attrs_tx(c, call, group_id, option, given),
        group_key(call.app_id, group_id),
    )
    return {}


@commands.admin(ATTR_SERVICE, "get_group_attr", GroupRef)
async def get_group_attr(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """The group's attributes as ``GroupAttrAry``."""
    items = await svc.read(lambda c: _read_attrs(c, call.app_id, body.group_id))
    return {"GroupAttrAry": items}


@commands.client("modify_group_attr", SetGroupAttr)
@commands.admin(GROUP_SERVICE, "modify_group_attr", SetGroupAttr)
async def modify_group_attr(svc: ChatService, call: Call, body: SetGroupAttr) -> dict[str, Any]:
    """Set the attributes given, keeping the others (OptionType modify; the SDKs'
    setGroupAttributes). From the client: a member."""
    return await _change(svc, call, body.group_id, "modify", [(a.key, a.value) for a in body.attrs])


@commands.client("set_group_attr", SetGroupAttr)
@commands.admin(GROUP_SERVICE, "set_group_attr", SetGroupAttr)
async def set_group_attr(svc: ChatService, call: Call, body: SetGroupAttr) -> dict[str, Any]:
    """Replace every attribute with those given (OptionType set; the SDKs'
    initGroupAttributes). From the client: a member."""
    return await _change(svc, call, body.group_id, "set", [(a.key, a.value) for a in body.attrs])


@commands.client("delete_group_attr", DeleteGroupAttr)
@commands.admin(GROUP_SERVICE, "delete_group_attr", DeleteGroupAttr)
async def delete_group_attr(svc: ChatService, call: Call, body: DeleteGroupAttr) -> dict[str, Any]:
    """Remove the keys given (OptionType delete; the SDKs' deleteGroupAttributes). From the
    client: a member."""
    return await _change(svc, call, body.group_id, "delete", [(k.key, "") for k in body.keys])


@commands.admin(GROUP_SERVICE, "clear_group_attr", GroupRef)
async def clear_group_attr(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """Remove every attribute (OptionType clear; not for a Community: 10007)."""
    return await _change(svc, call, body.group_id, "clear")
