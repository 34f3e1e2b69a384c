"""Friends: the relationship chain (``sns``) of admin commands and client requests, with the Sns
webhooks; the rows of ``friends``, ``friend_requests`` and ``blocklist`` (the blocklist's
commands are in ``timhooks.server.blocklist``).

Tencent's "Adding Friends" (https://trtc.io/document/34902), "Deleting Friends"
(https://trtc.io/document/34905), "Verifying Friends" (https://trtc.io/document/34907), "Pulling
Friends" (https://trtc.io/document/34908), and the webhooks "Before a Friend Is Added"
(https://trtc.io/document/43468), "Before a Friend Request Is Responded"
(https://trtc.io/document/43467), "After a Friend Is Added"
(https://www.tencentcloud.com/document/product/1047/34359) and "After a Friend Is Deleted"
(https://trtc.io/document/34360). A friendship is one row per direction: ``friend_id`` is on
``user_id``'s list (Add_Type_Single adds one, Add_Type_Both two). The target's
Tag_Profile_IM_AllowType decides a request that is not forced: AllowAny adds at once,
NeedConfirm (the default) leaves a pending request (30539) for the target to answer, DenyAny
refuses (30516). Per-user codes are in each item's ResultCode; the call itself succeeds. Every
change first locks the accounts of the users it involves (``accounts.lock_accounts``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported, lock_accounts
from timhooks.server.bodies import INT32, Body, NonEmpty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.outbox import emit
from timhooks.server.profiles import ALLOW_ANY, DENY_ANY, allow_types
from timhooks.server.service import ChatService
from timhooks.server.sql import placeholders
from timhooks.storage.engine import Connection

__all__ = [
    "AGREE_AND_ADD",
    "BOTH",
    "NO_ACCOUNT",
    "OK",
    "REJECT",
    "SNS",
    "SNS_BAD_PARAM",
    "AddType",
    "DeleteType",
    "Items",
    "Outcome",
    "Request",
    "Users",
    "answer",
    "befriend",
    "blocked",
    "check_requests",
    "check_responses",
    "commands",
    "delete_friends_tx",
    "drop_requests",
    "friend_added",
    "pending_requests",
    "requests_of",
    "require_owner",
    "unfriend_tx",
]

SNS = "sns"
SNS_BAD_PARAM = 30001  # a bad parameter; also "already friends", "already blocked" (FAQ 34457)
NO_ACCOUNT = 30003  # the account does not exist
IN_MY_BLOCKLIST = 30515  # the target is on the requester's blocklist
DENIES_ANY = 30516  # the target takes no friend requests (AllowType_Type_DenyAny)
IN_THEIR_BLOCKLIST = 30525  # the requester is on the target's blocklist
PENDING = 30539  # the request waits for the target's confirmation
NOT_FRIENDS = 31704  # friend_delete: no such friendship
SINGLE, BOTH = "Add_Type_Single", "Add_Type_Both"
AGREE, AGREE_AND_ADD, REJECT = (
    "Response_Action_Agree",
    "Response_Action_AgreeAndAdd",
    "Response_Action_Reject",
)

commands = CommandTable(bad_param=SNS_BAD_PARAM)

Outcome = tuple[int, str]  # a user's ResultCode and ResultInfo
OK: Outcome = (0, "")
Users = Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=1000)]


class AddFriendItem(Body, frozen=True, kw_only=True):
    """One user of AddFriendItem (Remark ≤ 96, GroupName ≤ 30, AddWording ≤ 256 bytes)."""

    to_account: NonEmpty = msgspec.field(name="To_Account")
    remark: Annotated[str, msgspec.Meta(max_length=96)] = msgspec.field(name="Remark", default="")
    group_name: Annotated[str, msgspec.Meta(max_length=30)] = msgspec.field(
        name="GroupName", default=""
    )
    add_source: str = msgspec.field(name="AddSource", default="")
    add_wording: Annotated[str, msgspec.Meta(max_length=256)] = msgspec.field(
        name="AddWording", default=""
    )


Items = Annotated[list[AddFriendItem], msgspec.Meta(min_length=1, max_length=1000)]
AddType = Annotated[str, one_of([SINGLE, BOTH])]


class FriendAdd(Body, frozen=True, kw_only=True):
    """sns/friend_add."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    items: Items = msgspec.field(name="AddFriendItem")
    add_type: AddType = msgspec.field(name="AddType", default=BOTH)
    force: Annotated[int, msgspec.Meta(ge=0, le=1)] = msgspec.field(name="ForceAddFlags", default=0)


DeleteType = Annotated[str, one_of(["Delete_Type_Single", "Delete_Type_Both"])]


class FriendDelete(Body, frozen=True, kw_only=True):
    """sns/friend_delete."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    users: Users = msgspec.field(name="To_Account")
    delete_type: DeleteType = msgspec.field(name="DeleteType", default="Delete_Type_Single")


class FriendCheck(Body, frozen=True, kw_only=True):
    """sns/friend_check."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    users: Users = msgspec.field(name="To_Account")
    check_type: Annotated[str, one_of(["CheckResult_Type_Both", "CheckResult_Type_Single"])] = (
        msgspec.field(name="CheckType", default="CheckResult_Type_Both")
    )


class FriendGet(Body, frozen=True, kw_only=True):
    """sns/friend_get: a page of 100 friends from StartIndex."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    start: Annotated[int, msgspec.Meta(ge=0, le=INT32)] = msgspec.field(
        name="StartIndex", default=0
    )
    standard_sequence: int = msgspec.field(name="StandardSequence", default=0)
    custom_sequence: int = msgspec.field(name="CustomSequence", default=0)


@dataclass(frozen=True, slots=True)
class Request:
    """A friend request to one user, with what the requester gave."""

    to: str
    remark: str = ""
    group_name: str = ""
    add_source: str = ""
    add_wording: str = ""

    def fields(self) -> tuple[str, str, str, str, str]:
        """To_Account, Remark, GroupName, AddSource, AddWording: a row's columns in order."""
        return (self.to, self.remark, self.group_name, self.add_source, self.add_wording)

    def event_item(self) -> ev.FriendItem:
        """The request as Sns.CallbackPrevFriendAdd lists it."""
        return ev.FriendItem(
            to_account=self.to,
            remark=self.remark,
            group_name=self.group_name,
            add_source=self.add_source,
            add_wording=self.add_wording,
        )


# --- rows --------------------------------------------------------------------------------------


def require_owner(conn: Connection, app_id: int, user: str) -> None:
    """Raise 30003 unless ``user`` (From_Account) is imported."""
    if not imported(conn, app_id, [user]):
        raise RestError(NO_ACCOUNT, f"From_Account {user!r} is not imported")


def _pairs(
    conn: Connection, table: str, other: str, app_id: int, owner: str, users: Sequence[str]
) -> set[tuple[str, str]]:
    """The rows of ``table`` (friends: ``friend_id``, blocklist: ``blocked_id`` is ``other``)
    between ``owner`` and ``users``, either way, as (user_id, other)."""
    marks = placeholders(len(users))
    rows = conn.execute(
        f"SELECT user_id, {other} FROM {table} WHERE sdk_app_id = ? AND ((user_id = ? AND"
        f" {other} IN ({marks})) OR ({other} = ? AND user_id IN ({marks})))",
        (app_id, owner, *users, owner, *users),
    )
    return {(r[0], r[1]) for r in rows}


def _edges(conn: Connection, app_id: int, owner: str, users: Sequence[str]) -> set[tuple[str, str]]:
    """The friend rows between ``owner`` and ``users``, either way, as (user_id, friend_id)."""
    return _pairs(conn, "friends", "friend_id", app_id, owner, users)


def blocked(
    conn: Connection, app_id: int, owner: str, users: Sequence[str]
) -> set[tuple[str, str]]:
    """The blocklist rows between ``owner`` and ``users``, either way, as (user_id, blocked)."""
    return _pairs(conn, "blocklist", "blocked_id", app_id, owner, users)


def check_requests(
    conn: Connection, app_id: int, owner: str, users: Sequence[str], add_type: str, force: bool
) -> dict[str, Outcome]:
    """Why each of ``users`` cannot be asked (those who can are left out)."""
    require_owner(conn, app_id, owner)
    users = list(dict.fromkeys(users))
    known = imported(conn, app_id, users)
    edges = _edges(conn, app_id, owner, users)
    blocks = blocked(conn, app_id, owner, users)
    allow = allow_types(conn, app_id, users)
    faults: dict[str, Outcome] = {}
    for user in users:
        if user == owner:
            faults[user] = (SNS_BAD_PARAM, "a user cannot add themselves as a friend")
        elif user not in known:
            faults[user] = (NO_ACCOUNT, f"account {user!r} is not imported")
        elif (owner, user) in blocks:
            faults[user] = (IN_MY_BLOCKLIST, f"{user!r} is on your blocklist")
        elif (user, owner) in blocks:
            faults[user] = (IN_THEIR_BLOCKLIST, f"you are on {user!r}'s blocklist")
        elif (owner, user) in edges and (add_type == SINGLE or (user, owner) in edges):
            faults[user] = (SNS_BAD_PARAM, f"{user!r} is already your friend")
        elif not force and allow[user] == DENY_ANY:
            faults[user] = (DENIES_ANY, f"{user!r} takes no friend requests")
    return faults


def befriend(conn: Connection, call: Call, user: str, req: Request) -> bool:
    """Put ``req.to`` on ``user``'s list; False if already there."""
    row = conn.execute(
        "INSERT INTO friends (sdk_app_id, user_id, friend_id, remark, group_name, add_source,"
        " add_wording, add_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        " RETURNING friend_id",
        (call.app_id, user, *req.fields(), call.seconds),
    ).fetchone()
    return row is not None


def drop_requests(conn: Connection, app_id: int, a: str, b: str) -> None:
    """Forget the pending requests between ``a`` and ``b``, either way."""
    conn.execute(
        "DELETE FROM friend_requests WHERE sdk_app_id = ? AND ((from_id = ? AND to_id = ?) OR"
        " (from_id = ? AND to_id = ?))",
        (app_id, a, b, b, a),
    )


def friend_added(
    conn: Connection, call: Call, pairs: list[ev.FriendPair], client_cmd: str, force: bool
) -> None:
    """Queue Sns.CallbackFriendAdd for the pairs added, if any (Admin_Account: the REST
    caller)."""
    if pairs:
        emit(
            conn,
            call,
            ev.FriendAdd,
            pair_list=tuple(pairs),
            client_cmd=client_cmd,
            admin_account=call.operator if call.rest else "",
            force_flag=int(force),
        )


def add_friends_tx(
    conn: Connection,
    call: Call,
    owner: str,
    requests: Sequence[Request],
    add_type: str,
    *,
    force: bool,
    refused: Mapping[str, Outcome],
) -> dict[str, Outcome]:
    """Add friends or leave requests (by the targets' AllowType, unless ``force``); queue
    Sns.CallbackFriendAdd with the pairs added. ``refused``: users the app refused."""
    users = [r.to for r in requests]
    lock_accounts(conn, call.app_id, [owner, *users])
    results = check_requests(conn, call.app_id, owner, users, add_type, force) | dict(refused)
    allow = allow_types(conn, call.app_id, users)
    pairs: list[ev.FriendPair] = []
    for req in requests:
        if req.to in results:
            continue
        if not force and allow[req.to] != ALLOW_ANY:
            conn.execute(
                "INSERT INTO friend_requests (sdk_app_id, from_id, to_id, remark, group_name,"
                " add_source, add_wording, add_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                " ?) ON CONFLICT (sdk_app_id, from_id, to_id) DO UPDATE SET remark ="
                " excluded.remark, group_name = excluded.group_name, add_source ="
                " excluded.add_source, add_wording = excluded.add_wording, add_type ="
                " excluded.add_type, created_at = excluded.created_at",
                (call.app_id, owner, *req.fields(), add_type, call.seconds),
            )
            results[req.to] = (PENDING, f"waiting for {req.to!r} to confirm")
            continue
        if befriend(conn, call, owner, req):
            pairs.append(
                ev.FriendPair(from_account=owner, to_account=req.to, initiator_account=owner)
            )
        back = Request(owner, add_source=req.add_source)
        if add_type == BOTH and befriend(conn, call, req.to, back):
            pairs.append(
                ev.FriendPair(from_account=req.to, to_account=owner, initiator_account=owner)
            )
        drop_requests(conn, call.app_id, owner, req.to)
        results[req.to] = OK
    friend_added(conn, call, pairs, "friend_add", force)
    return {r.to: results[r.to] for r in requests}


def pending_requests(
    conn: Connection, app_id: int, owner: str, users: Sequence[str]
) -> dict[str, Any]:
    """The pending requests of ``users`` to ``owner``, by requester."""
    rows = conn.execute(
        f"SELECT * FROM friend_requests WHERE sdk_app_id = ? AND to_id = ? AND from_id IN"
        f" ({placeholders(len(users))})",
        (app_id, owner, *users),
    )
    return {r["from_id"]: r for r in rows}


def check_responses(
    conn: Connection, app_id: int, owner: str, users: Sequence[str]
) -> dict[str, Outcome]:
    """Why each of ``users``' requests cannot be answered (there is none)."""
    found = pending_requests(conn, app_id, owner, users)
    return {
        u: (SNS_BAD_PARAM, f"no pending friend request from {u!r}") for u in users if u not in found
    }


def unfriend_tx(
    conn: Connection, call: Call, owner: str, users: Sequence[str], *, both: bool
) -> list[ev.FriendPair]:
    """Take ``users`` off ``owner``'s list (and ``owner`` off theirs if ``both``); the pairs
    removed."""
    removed: list[ev.FriendPair] = []
    for user in dict.fromkeys(users):
        ways = [(owner, user), (user, owner)] if both else [(owner, user)]
        for a, b in ways:
            gone = conn.execute(
                "DELETE FROM friends WHERE sdk_app_id = ? AND user_id = ? AND friend_id = ?"
                " RETURNING friend_id",
                (call.app_id, a, b),
            ).fetchone()
            if gone is not None:
                removed.append(ev.FriendPair(from_account=a, to_account=b))
    return removed


def delete_friends_tx(
    conn: Connection, call: Call, owner: str, users: Sequence[str], *, both: bool
) -> dict[str, Outcome]:
    """friend_delete: 31704 for a user who is not a friend; queue Sns.CallbackFriendDelete."""
    require_owner(conn, call.app_id, owner)
    lock_accounts(conn, call.app_id, [owner, *users])
    edges = _edges(conn, call.app_id, owner, users)
    results: dict[str, Outcome] = {}
    for user in users:
        if (owner, user) in edges or (both and (user, owner) in edges):
            results[user] = OK
        else:
            results[user] = (NOT_FRIENDS, f"{user!r} is not a friend of {owner!r}")
    removed = unfriend_tx(conn, call, owner, [u for u, r in results.items() if r == OK], both=both)
    if removed:
        emit(conn, call, ev.FriendDelete, pair_list=tuple(removed))
    return results


# friend_check's Relation by (To_Account on From_Account's list, From_Account on To_Account's).
_RELATIONS = {
    (True, True): "CheckResult_Type_BothWay",
    (True, False): "CheckResult_Type_AWithB",
    (False, True): "CheckResult_Type_BWithA",
    (False, False): "CheckResult_Type_NoRelation",
}


def relations(
    conn: Connection, app_id: int, owner: str, users: Sequence[str], both: bool
) -> list[dict[str, Any]]:
    """friend_check's InfoItem (CheckResult_Type_Single looks at From_Account's list only)."""
    require_owner(conn, app_id, owner)
    edges = _edges(conn, app_id, owner, users)
    return [
        {
            "To_Account": user,
            "Relation": _RELATIONS[(owner, user) in edges, both and (user, owner) in edges],
            "ResultCode": 0,
            "ResultInfo": "",
        }
        for user in users
    ]


_PAGE = 100


def friend_page(conn: Connection, app_id: int, owner: str, start: int) -> dict[str, Any]:
    """friend_get: 100 friends from ``start``, with their Tag_SNS_IM_* fields."""
    require_owner(conn, app_id, owner)
    total: int = conn.execute(
        "SELECT COUNT(*) FROM friends WHERE sdk_app_id = ? AND user_id = ?", (app_id, owner)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT * FROM friends WHERE sdk_app_id = ? AND user_id = ? ORDER BY add_time, friend_id"
        " LIMIT ? OFFSET ?",
        (app_id, owner, _PAGE, start),
    ).fetchall()
    items = []
    for row in rows:
        values: list[dict[str, Any]] = [
            {"Tag": "Tag_SNS_IM_AddSource", "Value": row["add_source"]},
        ]
        if row["remark"]:
            values.append({"Tag": "Tag_SNS_IM_Remark", "Value": row["remark"]})
        if row["group_name"]:
            values.append({"Tag": "Tag_SNS_IM_Group", "Value": [row["group_name"]]})
        if row["add_wording"]:
            values.append({"Tag": "Tag_SNS_IM_AddWording", "Value": row["add_wording"]})
        values.append({"Tag": "Tag_SNS_IM_AddTime", "Value": row["add_time"]})
        items.append({"To_Account": row["friend_id"], "ValueItem": values})
    complete = start + len(rows) >= total
    return {
        "UserDataItem": items,
        "StandardSequence": 0,
        "CustomSequence": 0,
        "FriendNum": total,
        "CompleteFlag": int(complete),
        "NextStartIndex": 0 if complete else start + len(rows),
    }


# --- commands ----------------------------------------------------------------------------------


def answer(results: Mapping[str, Outcome]) -> dict[str, Any]:
    """Per-user results as Tencent answers them: ResultItem, and Fail_Account listing the
    failed ones when there are any ("Unblocklisting Users", https://trtc.io/document/34912)."""
    found: dict[str, Any] = {
        "ResultItem": [
            {"To_Account": u, "ResultCode": code, "ResultInfo": info}
            for u, (code, info) in results.items()
        ]
    }
    failed = [u for u, (code, _) in results.items() if code != 0]
    if failed:
        found["Fail_Account"] = failed
    return found


def requests_of(items: Sequence[AddFriendItem]) -> list[Request]:
    return list(
        {
            i.to_account: Request(i.to_account, i.remark, i.group_name, i.add_source, i.add_wording)
            for i in items
        }.values()
    )


@commands.admin(SNS, "friend_add", FriendAdd)
async def friend_add(svc: ChatService, call: Call, body: FriendAdd) -> dict[str, Any]:
    """An admin adds friends (no Prev webhook); ForceAddFlags 1 passes the targets' AllowType."""
    reqs = requests_of(body.items)
    results = await svc.change(
        lambda c: add_friends_tx(
            c, call, body.from_account, reqs, body.add_type, force=body.force == 1, refused={}
        )
    )
    return answer(results)


@commands.admin(SNS, "friend_delete", FriendDelete)
async def friend_delete(svc: ChatService, call: Call, body: FriendDelete) -> dict[str, Any]:
    """Delete friends one way (Delete_Type_Single, the default) or both ways."""
    both = body.delete_type == "Delete_Type_Both"
    users = list(dict.fromkeys(body.users))
    results = await svc.change(
        lambda c: delete_friends_tx(c, call, body.from_account, users, both=both)
    )
    return answer(results)


@commands.admin(SNS, "friend_check", FriendCheck)
async def friend_check(svc: ChatService, call: Call, body: FriendCheck) -> dict[str, Any]:
    """The relation with each user (BothWay, AWithB, BWithA, NoRelation)."""
    both = body.check_type == "CheckResult_Type_Both"
    users = list(dict.fromkeys(body.users))
    items = await svc.read(lambda c: relations(c, call.app_id, body.from_account, users, both))
    return {"InfoItem": items}


@commands.admin(SNS, "friend_get", FriendGet)
async def friend_get(svc: ChatService, call: Call, body: FriendGet) -> dict[str, Any]:
    """A page of the user's friends."""
    return await svc.read(lambda c: friend_page(c, call.app_id, body.from_account, body.start))
