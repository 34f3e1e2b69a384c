"""The Chat backend's state changes: accounts, Official Accounts, groups, and their webhooks.

Each ``*_tx`` function runs inside one database transaction (on the storage writer) and queues
its after-webhooks in the outbox in that same transaction, so a committed change always has its
webhook (and a rolled-back one never does). Checks of request shape live in ``rest.py``; the
checks here are the ones that need the database. Results and codes follow the REST reference
(reference 5.1, 5.2).

Lock order (PostgreSQL, where several transactions run at once; SQLite has one writer): a
transaction that changes an Official Account or a group, or rows under it (subscribers,
messages, members, applications), first locks that one account's or group's row
(``lock=True``), and only then reads and changes the rows under it; no transaction locks two
of them. Writers of the same account or group thus queue on its row, and rows under it are
never locked before it. Accounts are written in UserID order and outbox rows in id order
(``store.py``); new outbox rows lock nothing another transaction waits for. With every
transaction taking its locks in this one order, no two can wait for each other.

An operation that changes one account or group only is run with its key (``oa_key``,
``group_key``): on PostgreSQL the writer then lets the operations of one key share a
transaction (``timhooks.storage.engine``), which still locks under one account or group only.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.calls import Call
from timhooks.server.outbox import emit
from timhooks.storage.engine import for_update

__all__ = ["ApiError", "Call", "GroupType"]

Conn = Any  # a storage Connection: sqlite3's, or the PostgreSQL adapter
Row = Any  # Row or the PostgreSQL adapter's row: by name or by index

_encoder = msgspec.json.Encoder()

ApiError = RestError


def member_list(ids: Iterable[str]) -> tuple[ev.Member, ...]:
    return tuple(ev.Member(member_account=u) for u in ids)


def subscriber_list(ids: Iterable[str]) -> tuple[ev.Subscriber, ...]:
    return tuple(ev.Subscriber(subscriber_account=u) for u in ids)


def _random_id(length: int) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


# --- accounts -------------------------------------------------------------------------------


def import_accounts_tx(conn: Conn, call: Call, accounts: Sequence[tuple[str, str, str]]) -> None:
    """Import (UserID, Nick, FaceUrl) accounts; an existing one gets the new profile."""
    # In UserID order (the lock order): an upsert locks the existing row. The sort is stable,
    # so of two entries for one user the later still wins.
    conn.executemany(
        "INSERT INTO accounts (sdk_app_id, user_id, nick, face_url, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sdk_app_id, user_id) DO UPDATE SET"
        " nick = excluded.nick, face_url = excluded.face_url",
        [
            (call.app_id, u, nick, face, call.now)
            for u, nick, face in sorted(accounts, key=lambda a: a[0])
        ],
    )


def imported(conn: Conn, app_id: int, users: Sequence[str]) -> set[str]:
    """Which of ``users`` are imported accounts of the app."""
    found: set[str] = set()
    for start in range(0, len(users), 500):
        chunk = list(users[start : start + 500])
        rows = conn.execute(
            f"SELECT user_id FROM accounts WHERE sdk_app_id = ? AND user_id IN"
            f" ({_placeholders(len(chunk))})",
            (app_id, *chunk),
        )
        found.update(r[0] for r in rows)
    return found


def require_account(conn: Conn, app_id: int, user: str, code: int) -> None:
    """Raise ApiError(code) unless ``user`` is imported."""
    if not imported(conn, app_id, [user]):
        raise ApiError(code, f"account {user!r} is not imported")


# --- Official Accounts (reference 5.1) --------------------------------------------------------

OA_PREFIX = "@TOA#_"


def check_oa_id(oa_id: str) -> None:
    """Custom OA IDs: printable ASCII, at most 48 bytes, ``@TOA#_`` but not ``@TOA#_@TOA#``."""
    ok = (
        oa_id.startswith(OA_PREFIX)
        and not oa_id.startswith(OA_PREFIX + "@TOA#")
        and len(oa_id.encode()) <= 48
        and len(oa_id) > len(OA_PREFIX)
        and all(0x20 <= ord(c) <= 0x7E for c in oa_id)
    )
    if not ok:
        raise ApiError(
            RestCode.OA_ID_INVALID,
            "Official Account ID must be printable ASCII of at most 48 bytes starting with"
            " @TOA#_ (and not @TOA#_@TOA#)",
        )


def _row(conn: Conn, table: str, key: str, app_id: int, ident: str, lock: bool) -> Row | None:
    """One row of ``table`` by app and ``key``; ``lock`` holds it to the transaction's end."""
    row: Row | None = conn.execute(
        f"SELECT * FROM {table} WHERE sdk_app_id = ? AND {key} = ?"
        + (for_update(conn) if lock else ""),
        (app_id, ident),
    ).fetchone()
    return row


def oa_key(app_id: int, oa_id: str) -> tuple[str, int, str]:
    """The storage key of an operation that locks only this Official Account's rows."""
    return ("oa", app_id, oa_id)


def group_key(app_id: int, group_id: str) -> tuple[str, int, str]:
    """The storage key of an operation that locks only this group's rows."""
    return ("group", app_id, group_id)


def lock_row(conn: Conn, table: str, key: str, app_id: int, ident: str) -> None:
    """Hold a row of ``table`` to the transaction's end, if it exists (PostgreSQL only: SQLite's
    one writer holds the whole database)."""
    clause = for_update(conn)
    if clause:
        conn.execute(
            f"SELECT 1 FROM {table} WHERE sdk_app_id = ? AND {key} = ?{clause}", (app_id, ident)
        )


def oa_row(conn: Conn, app_id: int, oa_id: str, *, lock: bool = False) -> Row:
    """The Official Account, or ApiError 130004; ``lock`` holds its row to the transaction's end."""
    row = _row(conn, "official_accounts", "oa_id", app_id, oa_id, lock)
    if row is None:
        raise ApiError(RestCode.OA_NOT_FOUND, f"Official Account {oa_id!r} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class NewOfficialAccount:
    """The fields of create_official_account."""

    owner: str
    name: str
    oa_id: str | None = None
    introduction: str = ""
    face_url: str = ""
    organization: str = ""
    custom_string: str = ""
    max_subscriber_num: int = 100000


def check_create_oa(conn: Conn, call: Call, req: NewOfficialAccount) -> None:
    """What create_official_account checks before asking the app (owner imported, ID free)."""
    require_account(conn, call.app_id, req.owner, RestCode.ACCOUNT_NOT_IMPORTED)
    if req.oa_id is not None:
        check_oa_id(req.oa_id)
        taken = conn.execute(
            "SELECT 1 FROM official_accounts WHERE sdk_app_id = ? AND oa_id = ?",
            (call.app_id, req.oa_id),
        ).fetchone()
        if taken:
            raise ApiError(RestCode.OA_ID_IN_USE, f"Official Account ID {req.oa_id!r} is in use")


def create_oa_tx(conn: Conn, call: Call, req: NewOfficialAccount) -> str:
    """Create an Official Account; queue AfterCreateOfficialAccount; return its ID."""
    check_create_oa(conn, call, req)
    oa_id = req.oa_id
    while oa_id is None:
        candidate = OA_PREFIX + _random_id(10)
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
        raise ApiError(RestCode.OA_ID_IN_USE, f"Official Account ID {oa_id!r} is in use")
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


def destroy_oa_tx(conn: Conn, call: Call, oa_id: str) -> None:
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


_OA_EDITABLE = {
    "Name": "name",
    "Introduction": "introduction",
    "FaceUrl": "face_url",
    "Organization": "organization",
    "CustomString": "custom_string",
    "MaxSubscriberNum": "max_subscriber_num",
}


def modify_oa_tx(conn: Conn, call: Call, oa_id: str, changes: dict[str, Any]) -> None:
    """Change an Official Account's profile (wire names in ``changes``)."""
    oa_row(conn, call.app_id, oa_id, lock=True)
    if changes:
        sets = ", ".join(f"{_OA_EDITABLE[k]} = ?" for k in changes)
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


def _per_item(
    ids: Sequence[str],
    key: str,
    fetch: Callable[[str], Row],
    render: Callable[[Row], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One result per id: its fields with ErrorCode 0, or its own ErrorCode and ErrorInfo."""
    items: list[dict[str, Any]] = []
    for item_id in ids:
        try:
            fields = render(fetch(item_id))
        except ApiError as exc:
            items.append({key: item_id, "ErrorCode": exc.code, "ErrorInfo": exc.info})
        else:
            items.append({key: item_id, "ErrorCode": 0, "ErrorInfo": "", **fields})
    return items


def oa_info(conn: Conn, app_id: int, oa_ids: Sequence[str]) -> list[dict[str, Any]]:
    """get_official_account_info items: the profile, or a per-item 130004."""
    return _per_item(
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


@dataclass(slots=True)
class SubscribePlan:
    """Who of a subscription request is new, already in, or cannot subscribe."""

    candidates: list[str] = field(default_factory=list)
    already: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)


def plan_subscribe(
    conn: Conn, app_id: int, oa_id: str, users: Sequence[str], *, locked: bool = False
) -> SubscribePlan:
    """Sort requested subscribers: the OA must exist (``locked``: the caller holds its row, so
    it does); users must be imported."""
    if not locked:
        oa_row(conn, app_id, oa_id)
    plan = SubscribePlan()
    known = imported(conn, app_id, users)
    rows = conn.execute(
        f"SELECT user_id FROM subscribers WHERE sdk_app_id = ? AND oa_id = ? AND user_id IN"
        f" ({_placeholders(len(users))})",
        (app_id, oa_id, *users),
    )
    plan.already = {r[0] for r in rows}
    seen: set[str] = set()
    for user in users:
        if user in seen:
            continue
        seen.add(user)
        if user not in known:
            plan.unknown.add(user)
        elif user not in plan.already:
            plan.candidates.append(user)
    return plan


def subscribe_tx(
    conn: Conn, call: Call, oa_id: str, users: Sequence[str], refused: frozenset[str]
) -> dict[str, int]:
    """Subscribe users; Result 1 added, 2 already subscribed, 0 failed (reference 5.1).

    Queues AfterAddSubscriber for those added, and AfterOfficialAccountFull when this call
    brings the count to MaxSubscriberNum (reference 3.7).
    """
    # Lock the account first (the lock order): concurrent subscriptions (other processes on
    # PostgreSQL) then see each other's rows and count, and never pass MaxSubscriberNum.
    # The row read with its lock is current until this transaction ends.
    row = oa_row(conn, call.app_id, oa_id, lock=True)
    plan = plan_subscribe(conn, call.app_id, oa_id, users, locked=True)
    room = row["max_subscriber_num"] - row["subscriber_num"]
    added = [u for u in plan.candidates if u not in refused][: max(room, 0)]
    if added:
        conn.executemany(
            "INSERT INTO subscribers (sdk_app_id, oa_id, user_id, subscribe_time)"
            " VALUES (?, ?, ?, ?)",
            [(call.app_id, oa_id, u, call.seconds) for u in added],
        )
        conn.execute(
            "UPDATE official_accounts SET subscriber_num = subscriber_num + ?"
            " WHERE sdk_app_id = ? AND oa_id = ?",
            (len(added), call.app_id, oa_id),
        )
        emit(
            conn,
            call,
            ev.AfterAddSubscriber,
            official_account=oa_id,
            operator_account=call.operator,
            subscribe_account_list=subscriber_list(added),
        )
        if len(added) >= room:
            emit(conn, call, ev.AfterOfficialAccountFull, official_account=oa_id)
    done = set(added)
    return {u: 1 if u in done else 2 if u in plan.already else 0 for u in dict.fromkeys(users)}


def unsubscribe_tx(conn: Conn, call: Call, oa_id: str, users: Sequence[str]) -> dict[str, int]:
    """Remove subscribers; Result 1 removed, 2 not subscribed; queues AfterDeleteSubscriber."""
    oa_row(conn, call.app_id, oa_id, lock=True)  # before the subscriber rows: the lock order
    wanted = list(dict.fromkeys(users))
    removed = [
        r[0]
        for r in conn.execute(
            f"DELETE FROM subscribers WHERE sdk_app_id = ? AND oa_id = ? AND user_id IN"
            f" ({_placeholders(len(wanted))}) RETURNING user_id",
            (call.app_id, oa_id, *wanted),
        ).fetchall()
    ]
    if removed:
        conn.execute(
            "UPDATE official_accounts SET subscriber_num = subscriber_num - ?"
            " WHERE sdk_app_id = ? AND oa_id = ?",
            (len(removed), call.app_id, oa_id),
        )
        gone = set(removed)
        emit(
            conn,
            call,
            ev.AfterDeleteSubscriber,
            official_account=oa_id,
            operator_account=call.operator,
            subscribe_account_list=subscriber_list(u for u in wanted if u in gone),
        )
    gone = set(removed)
    return {u: 1 if u in gone else 2 for u in wanted}


def subscriber_page(
    conn: Conn, app_id: int, oa_id: str, limit: int, after: int
) -> tuple[list[dict[str, Any]], int, int]:
    """One page of subscribers after cursor ``after``: items, next cursor (0 = end), total."""
    row = oa_row(conn, app_id, oa_id)
    rows = conn.execute(
        "SELECT id, user_id, subscribe_time FROM subscribers WHERE sdk_app_id = ? AND oa_id = ?"
        " AND id > ? ORDER BY id LIMIT ?",
        (app_id, oa_id, after, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {"Subscriber_Account": r["user_id"], "SubscribeTime": r["subscribe_time"]} for r in rows
    ]
    return items, (rows[-1]["id"] if more and rows else 0), row["subscriber_num"]


def require_oa_owner(conn: Conn, call: Call, oa_id: str, *, lock: bool = False) -> Row:
    """A client acting on an OA's messages must own it (130002 otherwise); ``lock`` as in
    ``oa_row``."""
    row = oa_row(conn, call.app_id, oa_id, lock=lock)
    if not call.rest and row["owner"] != call.operator:
        raise ApiError(RestCode.OA_NO_PERMISSION, "only the Official Account's owner may do this")
    return row


@dataclass(frozen=True, slots=True)
class OAMessage:
    """A message to send from an Official Account."""

    oa_id: str
    random: int
    msg_body: tuple[dict[str, Any], ...]
    cloud_custom_data: str = ""
    online_only: int = 0
    after_callback: bool = True


def send_msg_tx(conn: Conn, call: Call, msg: OAMessage) -> tuple[str, int]:
    """Store an OA message; queue AfterSendMsg; return (MsgKey, MsgTime)."""
    require_oa_owner(conn, call, msg.oa_id, lock=True)
    seq = conn.execute(
        "UPDATE official_accounts SET msg_seq = msg_seq + 1, last_msg_time = ?"
        " WHERE sdk_app_id = ? AND oa_id = ? RETURNING msg_seq",
        (call.seconds, call.app_id, msg.oa_id),
    ).fetchone()[0]
    # The documented sample MsgKey "71_1_1698741698" reads as seq_random_time (reference 5.1).
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
            _encoder.encode(list(msg.msg_body)).decode(),
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


def recall_tx(conn: Conn, call: Call, oa_id: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Recall OA messages: RetCode 0 recalled, 10030 no such message; queues AfterMsgWithDraw."""
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


# --- Groups (reference 5.2) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupType:
    """A group type: REST name, default and largest MaxMemberCount (0 = unlimited)."""

    name: str
    default_max: int
    cap: int
    default_apply: str


# Defaults from the Web SDK doc (Work 200, Public 2000, Meeting 10000, AVChatRoom unlimited);
# Work/Public may be raised to 6000, Community holds up to 100000 (reference 5.2); Meeting keeps
# its documented default of 10000 as its limit.
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


def group_row(conn: Conn, app_id: int, group_id: str, *, lock: bool = False) -> Row:
    """The group, or ApiError 10010; ``lock`` holds its row to the transaction's end."""
    row = _row(conn, "groups", "group_id", app_id, group_id, lock)
    if row is None:
        raise ApiError(RestCode.GROUP_NOT_FOUND, f"group {group_id!r} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class NewGroup:
    """The fields of create_group."""

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


def check_group_id(group_id: str, group_type: str) -> None:
    """Custom group IDs: printable ASCII, at most 48 bytes; ``@TGS#`` is reserved except for
    Community groups, whose IDs must start with ``@TGS#_``."""
    ok = 0 < len(group_id.encode()) <= 48 and all(0x20 < ord(c) <= 0x7E for c in group_id)
    if group_type == "Community":
        ok = ok and group_id.startswith("@TGS#_")
    else:
        ok = ok and not group_id.startswith("@TGS#")
    if not ok:
        raise ApiError(
            RestCode.GROUP_ID_INVALID,
            "GroupId must be printable ASCII of at most 48 bytes; @TGS# is reserved (Community"
            " IDs must start with @TGS#_)",
        )


def check_create_group(conn: Conn, call: Call, req: NewGroup) -> int:
    """What create_group checks before asking the app; returns CreateGroupNum."""
    people = ([req.owner] if req.owner else []) + list(req.members)
    missing = sorted(set(people) - imported(conn, call.app_id, people))
    if missing:
        raise ApiError(
            RestCode.ACCOUNT_NOT_FOUND, f"accounts not imported: {', '.join(missing[:10])}"
        )
    if req.group_id is not None:
        check_group_id(req.group_id, req.type)
        if conn.execute(
            "SELECT 1 FROM groups WHERE sdk_app_id = ? AND group_id = ?",
            (call.app_id, req.group_id),
        ).fetchone():
            raise ApiError(RestCode.GROUP_ID_IN_USE, f"GroupId {req.group_id!r} is in use")
    if not req.owner:
        return 0
    count: int = conn.execute(
        "SELECT COUNT(*) FROM groups WHERE sdk_app_id = ? AND owner = ? AND type = ?",
        (call.app_id, req.owner, req.type),
    ).fetchone()[0]
    return count


def create_group_tx(conn: Conn, call: Call, req: NewGroup) -> str:
    """Create a group with its initial members; queue AfterCreateGroup; return the GroupId."""
    check_create_group(conn, call, req)
    group_id = req.group_id
    prefix = "@TGS#_" if req.type == "Community" else "@TGS#"
    while group_id is None:
        candidate = prefix + _random_id(9)
        if not conn.execute(
            "SELECT 1 FROM groups WHERE sdk_app_id = ? AND group_id = ?", (call.app_id, candidate)
        ).fetchone():
            group_id = candidate
    members = [m for m in dict.fromkeys(req.members) if m != req.owner]
    roster = ([(req.owner, "Owner")] if req.owner else []) + [(m, "Member") for m in members]
    inserted = conn.execute(
        "INSERT INTO groups (sdk_app_id, group_id, type, name, owner, introduction, notification,"
        " face_url, max_member_count, member_num, apply_join_option, create_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING group_id",
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
        ),
    ).fetchone()
    if inserted is None:  # taken by a concurrent transaction since the check
        raise ApiError(RestCode.GROUP_ID_IN_USE, f"GroupId {group_id!r} is in use")
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


def destroy_group_tx(conn: Conn, call: Call, group_id: str) -> None:
    """Dismiss a group."""
    row = group_row(conn, call.app_id, group_id, lock=True)
    if not call.rest and row["owner"] != call.operator:
        raise ApiError(RestCode.NO_PERMISSION, "only the group owner may dismiss the group")
    for table in ("group_members", "group_applications", "groups"):
        conn.execute(
            f"DELETE FROM {table} WHERE sdk_app_id = ? AND group_id = ?", (call.app_id, group_id)
        )


def role_of(conn: Conn, app_id: int, group_id: str, user: str) -> str | None:
    """The user's role in the group (Owner, Admin, Member), or None."""
    row = conn.execute(
        "SELECT role FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (app_id, group_id, user),
    ).fetchone()
    return None if row is None else str(row[0])


@dataclass(slots=True)
class JoinPlan:
    """Who of a join request is new, already a member, or unknown, and the group's state."""

    group: Row
    candidates: list[str] = field(default_factory=list)
    already: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)

    @property
    def room(self) -> int | None:
        """Free places, or None when the group has no limit."""
        limit = int(self.group["max_member_count"])
        return None if limit == 0 else max(limit - int(self.group["member_num"]), 0)


def plan_join(
    conn: Conn, call: Call, group_id: str, users: Sequence[str], *, group: Row | None = None
) -> JoinPlan:
    """Sort users asking or asked to join a group (``group``: its row, already read)."""
    plan = JoinPlan(group if group is not None else group_row(conn, call.app_id, group_id))
    known = imported(conn, call.app_id, users)
    rows = conn.execute(
        f"SELECT user_id FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
        f" ({_placeholders(len(users))})",
        (call.app_id, group_id, *users),
    )
    plan.already = {r[0] for r in rows}
    for user in dict.fromkeys(users):
        if user not in known:
            plan.unknown.add(user)
        elif user not in plan.already:
            plan.candidates.append(user)
    return plan


def group_full_tx(conn: Conn, call: Call, group_id: str) -> None:
    """Queue AfterGroupFull: a join failed because the group is full (reference 4.7)."""
    emit(conn, call, ev.AfterGroupFull, group_id=group_id)


def join_tx(
    conn: Conn,
    call: Call,
    group_id: str,
    users: Sequence[str],
    refused: frozenset[str],
    join_type: str,
) -> dict[str, int]:
    """Add members: Result 1 added, 2 already a member, 0 failed.

    A group with no room at all fails the whole call with 10014 after queueing AfterGroupFull
    (the caller's ApiError rolls back everything but that webhook: see ``service``). Otherwise
    as many as fit join, AfterNewMemberJoin is queued, and AfterGroupFull too when the group
    is now full (reference 4.5, 4.7).
    """
    group = group_row(conn, call.app_id, group_id, lock=True)  # the lock order, as in subscribe_tx
    plan = plan_join(conn, call, group_id, users, group=group)
    wanted = [u for u in plan.candidates if u not in refused]
    room = plan.room
    if wanted and room == 0:
        raise ApiError(RestCode.GROUP_FULL, f"group {group_id!r} is full")
    added = wanted if room is None else wanted[:room]
    if added:
        conn.executemany(
            "INSERT INTO group_members (sdk_app_id, group_id, user_id, role, join_time)"
            " VALUES (?, ?, ?, 'Member', ?)",
            [(call.app_id, group_id, u, call.seconds) for u in added],
        )
        conn.execute(
            "DELETE FROM group_applications WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
            f" ({_placeholders(len(added))})",
            (call.app_id, group_id, *added),
        )
        conn.execute(
            "UPDATE groups SET member_num = member_num + ? WHERE sdk_app_id = ? AND group_id = ?",
            (len(added), call.app_id, group_id),
        )
        emit(
            conn,
            call,
            ev.AfterNewMemberJoin,
            group_id=group_id,
            type=plan.group["type"],
            join_type=join_type,
            operator_account=call.operator,
            new_member_list=member_list(added),
        )
        if room is not None and len(added) >= room:
            group_full_tx(conn, call, group_id)
    done = set(added)
    return {u: 1 if u in done else 2 if u in plan.already else 0 for u in dict.fromkeys(users)}


def leave_tx(
    conn: Conn, call: Call, group_id: str, users: Sequence[str], exit_type: str
) -> list[str]:
    """Remove members (never the owner); queue AfterMemberExit; return who left."""
    row = group_row(conn, call.app_id, group_id, lock=True)  # before the members: the lock order
    wanted = [u for u in dict.fromkeys(users) if u != row["owner"]]
    if not wanted:
        return []
    removed = [
        r[0]
        for r in conn.execute(
            f"DELETE FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
            f" ({_placeholders(len(wanted))}) RETURNING user_id",
            (call.app_id, group_id, *wanted),
        ).fetchall()
    ]
    if removed:
        conn.execute(
            "UPDATE groups SET member_num = member_num - ? WHERE sdk_app_id = ? AND group_id = ?",
            (len(removed), call.app_id, group_id),
        )
        gone = set(removed)
        emit(
            conn,
            call,
            ev.AfterMemberExit,
            group_id=group_id,
            type=row["type"],
            exit_type=exit_type,
            operator_account=call.operator,
            exit_member_list=member_list(u for u in wanted if u in gone),
        )
    return removed


def apply_tx(conn: Conn, call: Call, group_id: str) -> None:
    """Record a pending application to a NeedPermission group."""
    lock_row(conn, "groups", "group_id", call.app_id, group_id)
    conn.execute(
        "INSERT INTO group_applications (sdk_app_id, group_id, user_id, applied_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (call.app_id, group_id, call.operator, call.now),
    )


def take_application_tx(conn: Conn, call: Call, group_id: str, applicant: str) -> None:
    """Remove a pending application (approved or refused); 10004 if there is none."""
    lock_row(conn, "groups", "group_id", call.app_id, group_id)
    role = role_of(conn, call.app_id, group_id, call.operator)
    if role not in ("Owner", "Admin"):
        raise ApiError(RestCode.NO_PERMISSION, "only the group owner or an admin may do this")
    cur = conn.execute(
        "DELETE FROM group_applications WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (call.app_id, group_id, applicant),
    )
    if not cur.rowcount:
        raise ApiError(RestCode.BAD_PARAM, f"{applicant!r} has no pending application")


def group_info(conn: Conn, app_id: int, group_ids: Sequence[str]) -> list[dict[str, Any]]:
    """get_group_info items: the profile, or a per-item 10010."""
    return _per_item(
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
        },
    )


def member_page(
    conn: Conn, app_id: int, group_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """get_group_member_info: a page of members (owner first) and the member count."""
    row = group_row(conn, app_id, group_id)
    rows = conn.execute(
        "SELECT user_id, role, join_time FROM group_members WHERE sdk_app_id = ? AND group_id = ?"
        " ORDER BY role = 'Owner' DESC, join_time, user_id LIMIT ? OFFSET ?",
        (app_id, group_id, limit, offset),
    ).fetchall()
    items = [
        {"Member_Account": r["user_id"], "Role": r["role"], "JoinTime": r["join_time"]}
        for r in rows
    ]
    return items, int(row["member_num"])
