"""Subscribers of Official Accounts: adding, removing and listing them, with their webhooks.

Tencent's add_subscriber (https://cloud.tencent.com/document/product/269/102308), delete
(https://tencentcloud.com/zh/document/product/1047/60761) and subscriber info
(https://tencentcloud.com/zh/document/product/1047/60759) pages; users subscribe and unsubscribe
themselves through the client API. Subscriptions never pass the account's MaxSubscriberNum: the
account's row is locked first (``timhooks.server.sql``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.decisions import ALLOW
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported
from timhooks.server.bodies import Body, NonEmpty, Shapes
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable, user_results
from timhooks.server.official_accounts import OA_SERVICE, OfficialAccountRef, oa_key, oa_row
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import app_rows, placeholders
from timhooks.storage.engine import Connection

__all__ = ["commands", "subscribe_tx", "subscribers_of", "unsubscribe_tx"]

commands = CommandTable(bad_param=RestCode.OA_BAD_PARAM)


class Subscriber(Body, frozen=True, kw_only=True):
    """A user in a subscriber list (``{"Subscriber_Account": …}``)."""

    user: NonEmpty = msgspec.field(name="Subscriber_Account")


Subscribers = Annotated[list[Subscriber], msgspec.Meta(min_length=1, max_length=100)]


class AddSubscriber(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/add_subscriber: up to 100 users."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    subscribers: Subscribers = msgspec.field(name="SubscriberList")


class DeleteSubscriberIds(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/delete_subscriber as its sample writes it."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    users: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=100)] = msgspec.field(
        name="SubscriberToDel_Account"
    )


class DeleteSubscriberList(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/delete_subscriber as its field table writes it."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    subscribers: Subscribers = msgspec.field(name="SubscriberList")


def _delete_shape(data: Mapping[str, Any]) -> type[Body]:
    return DeleteSubscriberIds if "SubscriberToDel_Account" in data else DeleteSubscriberList


# The page's sample body says ``SubscriberToDel_Account: [ids]`` while its field table says
# ``SubscriberList: [{Subscriber_Account}]``: both are read (the sample's when both come).
DELETE_SUBSCRIBER = Shapes((DeleteSubscriberIds, DeleteSubscriberList), _delete_shape)


class GetSubscriberInfo(Body, frozen=True, kw_only=True):
    """official_account_open_http_svc/get_subscriber_info: a page of subscribers."""

    official_account: NonEmpty = msgspec.field(name="Official_Account")
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = msgspec.field(name="Limit", default=200)
    next: str = msgspec.field(name="Next", default="")


# --- rows --------------------------------------------------------------------------------------


def subscriber_list(ids: Iterable[str]) -> tuple[ev.Subscriber, ...]:
    """Users as a webhook's SubscribeAccountList."""
    return tuple(ev.Subscriber(subscriber_account=u) for u in ids)


@dataclass(slots=True)
class SubscribePlan:
    """Who of a subscription request is new, already in, or cannot subscribe."""

    candidates: list[str] = field(default_factory=list)
    already: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)


def plan_subscribe(
    conn: Connection, app_id: int, oa_id: str, users: Sequence[str], *, locked: bool = False
) -> SubscribePlan:
    """Sort requested subscribers: the account must exist (``locked``: the caller holds its row,
    so it does); users must be imported."""
    if not locked:
        oa_row(conn, app_id, oa_id)
    plan = SubscribePlan()
    known = imported(conn, app_id, users)
    rows = conn.execute(
        f"SELECT user_id FROM subscribers WHERE sdk_app_id = ? AND oa_id = ? AND user_id IN"
        f" ({placeholders(len(users))})",
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
    conn: Connection, call: Call, oa_id: str, users: Sequence[str], refused: frozenset[str]
) -> dict[str, int]:
    """Subscribe users; Result 1 added, 2 already subscribed, 0 failed.

    Queues AfterAddSubscriber for those added, and AfterOfficialAccountFull when this call
    brings the count to MaxSubscriberNum (https://trtc.io/document/60801).
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


def unsubscribe_tx(
    conn: Connection, call: Call, oa_id: str, users: Sequence[str]
) -> dict[str, int]:
    """Remove subscribers; Result 1 removed, 2 not subscribed; queues AfterDeleteSubscriber."""
    oa_row(conn, call.app_id, oa_id, lock=True)  # before the subscriber rows: the lock order
    wanted = list(dict.fromkeys(users))
    removed = [
        r[0]
        for r in conn.execute(
            f"DELETE FROM subscribers WHERE sdk_app_id = ? AND oa_id = ? AND user_id IN"
            f" ({placeholders(len(wanted))}) RETURNING user_id",
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
    conn: Connection, app_id: int, oa_id: str, limit: int, after: int
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


def subscribers_of(conn: Connection, app_id: int, oa_id: str, limit: int) -> list[dict[str, Any]]:
    """An Official Account's first ``limit`` subscribers: user_id, subscribe_time."""
    return app_rows(
        conn,
        "SELECT user_id, subscribe_time FROM subscribers WHERE sdk_app_id = ? AND oa_id = ?"
        " ORDER BY id LIMIT ?",
        (app_id, oa_id, limit),
    )


# --- commands ----------------------------------------------------------------------------------


async def subscribe(svc: ChatService, call: Call, oa_id: str, users: list[str]) -> dict[str, int]:
    """Subscribe ``users``, after asking the app through BeforeAddSubscriber, which may refuse
    the call (10016) or some of them."""
    decision = ALLOW
    # Who the before-webhook would ask about is planned only when it is on: the transaction
    # plans again anyway, under its lock.
    if call.callback.enabled(ev.BeforeAddSubscriber.command):
        plan = await svc.read(lambda c: plan_subscribe(c, call.app_id, oa_id, users))
        if plan.candidates:
            decision = await svc.ask(
                call,
                ev.BeforeAddSubscriber,
                official_account=oa_id,
                operator_account=call.operator,
                subscribe_account_list=subscriber_list(plan.candidates),
            )
    refused = frozenset(decision.refused)
    return await svc.change(
        lambda c: subscribe_tx(c, call, oa_id, users, refused), oa_key(call.app_id, oa_id)
    )


@commands.admin(OA_SERVICE, "add_subscriber", AddSubscriber)
async def add_subscriber(svc: ChatService, call: Call, body: AddSubscriber) -> dict[str, Any]:
    """Subscribe up to 100 users: Result 1 added, 2 already, 0 failed."""
    users = [s.user for s in body.subscribers]
    results = await subscribe(svc, call, body.official_account, users)
    return {"SubscriberList": user_results(results, "Subscriber_Account")}


@commands.admin(OA_SERVICE, "delete_subscriber", DELETE_SUBSCRIBER)
async def delete_subscriber(
    svc: ChatService, call: Call, body: DeleteSubscriberIds | DeleteSubscriberList
) -> dict[str, Any]:
    """Unsubscribe up to 100 users: Result 1 removed, 2 not subscribed."""
    oa_id = body.official_account
    if isinstance(body, DeleteSubscriberIds):
        users = body.users
    else:
        users = [s.user for s in body.subscribers]
    results = await svc.change(
        lambda c: unsubscribe_tx(c, call, oa_id, users), oa_key(call.app_id, oa_id)
    )
    return {"SubscriberList": user_results(results, "Subscriber_Account")}


@commands.admin(OA_SERVICE, "get_subscriber_info", GetSubscriberInfo)
async def get_subscriber_info(
    svc: ChatService, call: Call, body: GetSubscriberInfo
) -> dict[str, Any]:
    """A page of subscribers; pass the returned ``Next`` to get the next page."""
    cursor = body.next
    if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise RestError(commands.bad_param, "Next must be the value a previous call returned")
    after = int(cursor or 0)
    items, nxt, total = await svc.read(
        lambda c: subscriber_page(c, call.app_id, body.official_account, body.limit, after)
    )
    return {"Next": str(nxt) if nxt else "", "SubscriberNum": total, "SubscriberList": items}


@commands.client("subscribe_official_account", OfficialAccountRef)
async def client_subscribe(
    svc: ChatService, call: Call, body: OfficialAccountRef
) -> dict[str, Any]:
    """The user subscribes: Result 1 subscribed, 2 already, 0 refused or full."""
    results = await subscribe(svc, call, body.official_account, [call.operator])
    return {"Result": results[call.operator]}


@commands.client("unsubscribe_official_account", OfficialAccountRef)
async def client_unsubscribe(
    svc: ChatService, call: Call, body: OfficialAccountRef
) -> dict[str, Any]:
    """The user unsubscribes: Result 1 removed, 2 was not subscribed."""
    oa_id = body.official_account
    results = await svc.change(
        lambda c: unsubscribe_tx(c, call, oa_id, [call.operator]), oa_key(call.app_id, oa_id)
    )
    return {"Result": results[call.operator]}
