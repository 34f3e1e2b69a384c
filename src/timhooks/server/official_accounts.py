"""Official Accounts: creating, changing, destroying and reading them, with their webhooks.

The REST commands of ``official_account_open_http_svc`` that act on the account itself, as
Tencent's Official Channel pages give them: create (https://trtc.io/document/60755), destroy
(https://tencentcloud.com/zh/document/product/1047/60756), modify
(https://tencentcloud.com/document/product/1047/60757) and get info
(https://tencentcloud.com/zh/document/product/1047/60758). A bad field is 6017. Subscribers are
in ``subscribers``, messages in ``oa_messages``; both lock the account's row first
(``timhooks.server.sql``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import require_account
from timhooks.server.bodies import INT32, Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row, app_rows, per_item, random_id, row_by
from timhooks.storage.engine import Connection

__all__ = [
    "OA_SERVICE",
    "CreateOfficialAccount",
    "OfficialAccountRef",
    "commands",
    "create_oa_tx",
    "oa_key",
    "oa_listing",
    "oa_profile",
    "oa_row",
    "require_oa_owner",
]

OA_SERVICE = "official_account_open_http_svc"
OA_PREFIX = "@TOA#_"

commands = CommandTable(bad_param=RestCode.OA_BAD_PARAM)

# Profile limits in bytes, and the rules of custom IDs (check_oa_id), from Tencent's Official
# Account data model: https://cloud.tencent.com/document/product/269/102326.
ProfileName = Annotated[str, msgspec.Meta(min_length=1, max_length=150)]
Introduction = Annotated[str, msgspec.Meta(max_length=400)]
Url = Annotated[str, msgspec.Meta(max_length=500)]
Organization = Annotated[str, msgspec.Meta(max_length=500)]
CustomString = Annotated[str, msgspec.Meta(max_length=3000)]
SubscriberLimit = Annotated[int, msgspec.Meta(ge=1, le=INT32)]


class OfficialAccountRef(Body, frozen=True, kw_only=True):
    """An Official Account by its ID (``{"Official_Account": …}``)."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")


class CreateOfficialAccount(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/create_official_account."""

    owner: NonEmpty = msgspec.field(name="Owner_Account")
    name: ProfileName = msgspec.field(name="Name")
    oa_id: str = msgspec.field(name="OfficialAccountUserID", default="")
    introduction: Introduction = msgspec.field(name="Introduction", default="")
    face_url: Url = msgspec.field(name="FaceUrl", default="")
    organization: Organization = msgspec.field(name="Organization", default="")
    custom_string: CustomString = msgspec.field(name="CustomString", default="")
    max_subscriber_num: SubscriberLimit = msgspec.field(name="MaxSubscriberNum", default=100000)


class ModifyOfficialAccount(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/modify_official_account_base_info: the fields given."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    name: ProfileName | UnsetType = msgspec.field(name="Name", default=UNSET)
    introduction: Introduction | UnsetType = msgspec.field(name="Introduction", default=UNSET)
    face_url: Url | UnsetType = msgspec.field(name="FaceUrl", default=UNSET)
    organization: Organization | UnsetType = msgspec.field(name="Organization", default=UNSET)
    custom_string: CustomString | UnsetType = msgspec.field(name="CustomString", default=UNSET)
    max_subscriber_num: SubscriberLimit | UnsetType = msgspec.field(
        name="MaxSubscriberNum", default=UNSET
    )


class GetOfficialAccountInfo(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/get_official_account_info: up to 50 accounts."""

    accounts: Annotated[list[OfficialAccountRef], msgspec.Meta(min_length=1, max_length=50)] = (
        msgspec.field(name="OfficialAccountIdList")
    )


# --- rows --------------------------------------------------------------------------------------


def oa_key(app_id: int, oa_id: str) -> tuple[str, int, str]:
    """The storage key of an operation that locks only this Official Account's rows."""
    return ("oa", app_id, oa_id)


def oa_row(conn: Connection, app_id: int, oa_id: str, *, lock: bool = False) -> Row:
    """The Official Account, or RestError 130004; ``lock`` holds its row to the transaction's
    end."""
    row = row_by(conn, "official_accounts", "oa_id", app_id, oa_id, lock=lock)
    if row is None:
        raise RestError(RestCode.OA_NOT_FOUND, f"Official Account {oa_id!r} does not exist")
    return row


def require_oa_owner(conn: Connection, call: Call, oa_id: str, *, lock: bool = False) -> Row:
    """A client acting on an Official Account's messages must own it (130002 otherwise);
    ``lock`` as in ``oa_row``."""
    row = oa_row(conn, call.app_id, oa_id, lock=lock)
    if not call.rest and row["owner"] != call.operator:
        raise RestError(RestCode.OA_NO_PERMISSION, "only the Official Account's owner may do this")
    return row


def check_oa_id(oa_id: str) -> None:
    """Custom IDs: printable ASCII, at most 48 bytes, ``@TOA#_`` but not ``@TOA#_@TOA#``."""
    ok = (
        oa_id.startswith(OA_PREFIX)
        and not oa_id.startswith(OA_PREFIX + "@TOA#")
        and len(oa_id.encode()) <= 48
        and len(oa_id) > len(OA_PREFIX)
        and all(0x20 <= ord(c) <= 0x7E for c in oa_id)
    )
    if not ok:
        raise RestError(
            RestCode.OA_ID_INVALID,
            "Official Account ID must be printable ASCII of at most 48 bytes starting with"
            " @TOA#_ (and not @TOA#_@TOA#)",
        )


def check_create_oa(conn: Connection, call: Call, req: CreateOfficialAccount) -> None:
    """What create_official_account checks before asking the app (owner imported, ID free)."""
    require_account(conn, call.app_id, req.owner, RestCode.ACCOUNT_NOT_IMPORTED)
    if req.oa_id:
        check_oa_id(req.oa_id)
        taken = conn.execute(
            "SELECT 1 FROM official_accounts WHERE sdk_app_id = ? AND oa_id = ?",
            (call.app_id, req.oa_id),
        ).fetchone()
        if taken:
            raise RestError(RestCode.OA_ID_IN_USE, f"Official Account ID {req.oa_id!r} is in use")


def create_oa_tx(conn: Connection, call: Call, req: CreateOfficialAccount) -> str:
    """Create an Official Account; queue AfterCreateOfficialAccount; return its ID."""
    check_create_oa(conn, call, req)
    oa_id = req.oa_id or None
    while oa_id is None:
        candidate = OA_PREFIX + random_id(10)
        if not conn.execute(
            "SELECT 1 FROM official_accounts WHERE sdk_app_id = ? AND oa_id = ?",
            (call.app_id, candidate),
        ).fetchone():
            oa_id = candidate
    inserted = conn.execute(
        "INSERT INTO official_accounts (sdk_app_id, oa_id, owner, name, introduction, face_url,"
        " organization, custom_string, max_subscriber_num, create_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING oa_id",
        (
            call.app_id,
            oa_id,
            req.owner,
            req.name,
            req.introduction,
            req.face_url,
            req.organization,
            req.custom_string,
            req.max_subscriber_num,
            call.seconds,
        ),
    ).fetchone()
    if inserted is None:  # taken by a concurrent transaction since the check
        raise RestError(RestCode.OA_ID_IN_USE, f"Official Account ID {oa_id!r} is in use")
    emit(
        conn,
        call,
        ev.AfterCreateOfficialAccount,
        official_account=oa_id,
        operator_account=call.operator,
        owner_account=req.owner,
        name=req.name,
    )
    return oa_id


def destroy_oa_tx(conn: Connection, call: Call, oa_id: str) -> None:
    """Destroy an Official Account with its subscribers and messages."""
    row = oa_row(conn, call.app_id, oa_id, lock=True)
    for table in ("subscribers", "oa_messages", "official_accounts"):
        conn.execute(
            f"DELETE FROM {table} WHERE sdk_app_id = ? AND oa_id = ?", (call.app_id, oa_id)
        )
    emit(
        conn,
        call,
        ev.AfterOfficialAccountDestroyed,
        official_account=oa_id,
        owner_account=row["owner"],
        name=row["name"],
    )


# The columns modify_official_account_base_info may change, by wire name.
_EDITABLE = {
    "Name": "name",
    "Introduction": "introduction",
    "FaceUrl": "face_url",
    "Organization": "organization",
    "CustomString": "custom_string",
    "MaxSubscriberNum": "max_subscriber_num",
}


def modify_oa_tx(conn: Connection, call: Call, oa_id: str, changes: dict[str, Any]) -> None:
    """Change an Official Account's profile (wire names in ``changes``)."""
    oa_row(conn, call.app_id, oa_id, lock=True)
    if changes:
        sets = ", ".join(f"{_EDITABLE[k]} = ?" for k in changes)
        conn.execute(
            f"UPDATE official_accounts SET {sets} WHERE sdk_app_id = ? AND oa_id = ?",
            (*changes.values(), call.app_id, oa_id),
        )
    row = oa_row(conn, call.app_id, oa_id)
    emit(
        conn,
        call,
        ev.AfterOfficialAccountInfoChanged,
        official_account=oa_id,
        operator_account=call.operator,
        introduction=row["introduction"],
        name=row["name"],
        face_url=row["face_url"],
        organization=row["organization"],
    )


def oa_info(conn: Connection, app_id: int, oa_ids: Sequence[str]) -> list[dict[str, Any]]:
    """get_official_account_info items: the profile, or a per-item 130004."""
    return per_item(
        oa_ids,
        "Official_Account",
        lambda oa_id: oa_row(conn, app_id, oa_id),
        lambda row: {
            "Owner_Account": row["owner"],
            "Name": row["name"],
            "Introduction": row["introduction"],
            "FaceUrl": row["face_url"],
            "Organization": row["organization"],
            "CustomString": row["custom_string"],
            "MaxSubscriberNum": row["max_subscriber_num"],
            "SubscriberNum": row["subscriber_num"],
            "CreateTime": row["create_time"],
            "LastMsgTime": row["last_msg_time"],
        },
    )


def oa_listing(conn: Connection, app_id: int, limit: int) -> list[dict[str, Any]]:
    """The app's first ``limit`` Official Accounts by ID, with their subscriber counts."""
    return app_rows(
        conn,
        "SELECT oa_id, name, owner, subscriber_num, max_subscriber_num, create_time"
        " FROM official_accounts WHERE sdk_app_id = ? ORDER BY oa_id LIMIT ?",
        (app_id, limit),
    )


def oa_profile(conn: Connection, app_id: int, oa_id: str) -> dict[str, Any] | None:
    """One Official Account's profile and counts, or None."""
    found = app_rows(
        conn,
        "SELECT oa_id, name, owner, introduction, organization, subscriber_num,"
        " max_subscriber_num, create_time, last_msg_time FROM official_accounts"
        " WHERE sdk_app_id = ? AND oa_id = ?",
        (app_id, oa_id),
    )
    return found[0] if found else None


# --- commands ----------------------------------------------------------------------------------


@commands.admin(OA_SERVICE, "create_official_account", CreateOfficialAccount)
async def create_official_account(
    svc: ChatService, call: Call, body: CreateOfficialAccount
) -> dict[str, Any]:
    """Create an Official Account; BeforeCreateOfficialAccount may veto it (20006 or a custom
    code)."""
    await svc.read(lambda c: check_create_oa(c, call, body))
    await svc.ask(
        call,
        ev.BeforeCreateOfficialAccount,
        operator_account=call.operator,
        owner_account=body.owner,
        name=body.name,
    )
    oa_id = await svc.change(lambda c: create_oa_tx(c, call, body))
    return {"OfficialAccountUserID": oa_id}


@commands.admin(OA_SERVICE, "destroy_official_account", OfficialAccountRef)
async def destroy_official_account(
    svc: ChatService, call: Call, body: OfficialAccountRef
) -> dict[str, Any]:
    """Destroy an Official Account."""
    oa_id = body.official_account
    await svc.change(lambda c: destroy_oa_tx(c, call, oa_id), oa_key(call.app_id, oa_id))
    return {}


@commands.admin(OA_SERVICE, "modify_official_account_base_info", ModifyOfficialAccount)
async def modify_official_account_base_info(
    svc: ChatService, call: Call, body: ModifyOfficialAccount
) -> dict[str, Any]:
    """Change an Official Account's profile; AfterOfficialAccountInfoChanged carries the new
    values."""
    oa_id = body.official_account
    changes = {
        field.encode_name: value
        for field in msgspec.structs.fields(body)
        if field.encode_name in _EDITABLE and (value := getattr(body, field.name)) is not UNSET
    }
    await svc.change(lambda c: modify_oa_tx(c, call, oa_id, changes), oa_key(call.app_id, oa_id))
    return {}


@commands.admin(OA_SERVICE, "get_official_account_info", GetOfficialAccountInfo)
async def get_official_account_info(
    svc: ChatService, call: Call, body: GetOfficialAccountInfo
) -> dict[str, Any]:
    """Profiles of up to 50 Official Accounts."""
    ids = [ref.official_account for ref in body.accounts]
    items = await svc.read(lambda c: oa_info(c, call.app_id, ids))
    return {"OfficialAccountInfoList": items}
