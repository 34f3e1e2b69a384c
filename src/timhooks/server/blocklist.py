"""Blocklists: ``sns/black_list_add``, ``black_list_delete`` and ``black_list_get``, with
Sns.CallbackBlackListAdd and Sns.CallbackBlackListDelete.

Tencent's "Blocklisting Users" (https://trtc.io/document/34911), "Unblocklisting Users"
(https://trtc.io/document/34912), "Pulling a Blacklist" (https://trtc.io/document/34914), "After a
User Is Added to Blocklist" (https://trtc.io/document/34361) and "After a User Is Removed from
Blocklist" (https://trtc.io/document/34362). Blocking a user ends the friendship both ways (no
Sns.CallbackFriendDelete: Tencent names only friend deletes as its triggers). The rows and the
per-user answers are ``timhooks.server.friends``'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.server.accounts import imported, lock_accounts
from timhooks.server.bodies import INT32, Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.friends import (
    NO_ACCOUNT,
    OK,
    SNS,
    SNS_BAD_PARAM,
    Outcome,
    Users,
    answer,
    blocked,
    drop_requests,
    require_owner,
    unfriend_tx,
)
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.storage.engine import Connection

__all__ = ["commands"]

Tx = Callable[[Connection, Call, str, Sequence[str]], dict[str, Outcome]]

commands = CommandTable(bad_param=SNS_BAD_PARAM)


class BlackList(Body, frozen=True, kw_only=True):
    """sns/black_list_add and black_list_delete: up to 1000 users."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    users: Users = msgspec.field(name="To_Account")


class MyBlackList(Body, frozen=True, kw_only=True):
    """timhooks_client/black_list_add and black_list_delete: the user's own blocklist."""

    users: Users = msgspec.field(name="To_Account")


class BlackListGet(Body, frozen=True, kw_only=True):
    """sns/black_list_get: a page of ``MaxLimited`` from StartIndex."""

    from_account: NonEmpty = msgspec.field(name="From_Account")
    start: Annotated[int, msgspec.Meta(ge=0, le=INT32)] = msgspec.field(
        name="StartIndex", default=0
    )
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = msgspec.field(
        name="MaxLimited", default=30
    )
    last_sequence: int = msgspec.field(name="LastSequence", default=0)


def block_tx(conn: Connection, call: Call, owner: str, users: Sequence[str]) -> dict[str, Outcome]:
    """Block users (30001 if already blocked, 30003 if unknown); end their friendships; queue
    Sns.CallbackBlackListAdd."""
    require_owner(conn, call.app_id, owner)
    lock_accounts(conn, call.app_id, [owner, *users])
    known = imported(conn, call.app_id, users)
    mine = {b for a, b in blocked(conn, call.app_id, owner, users) if a == owner}
    results: dict[str, Outcome] = {}
    for user in users:
        if user == owner:
            results[user] = (SNS_BAD_PARAM, "a user cannot block themselves")
        elif user not in known:
            results[user] = (NO_ACCOUNT, f"account {user!r} is not imported")
        elif user in mine:
            results[user] = (SNS_BAD_PARAM, f"{user!r} is already on the blocklist")
        else:
            results[user] = OK
    added = [u for u, r in results.items() if r == OK]
    if added:
        conn.executemany(
            "INSERT INTO blocklist (sdk_app_id, user_id, blocked_id, added_at) VALUES (?, ?, ?, ?)",
            [(call.app_id, owner, u, call.seconds) for u in added],
        )
        unfriend_tx(conn, call, owner, added, both=True)
        for user in added:  # neither may ask the other any more
            drop_requests(conn, call.app_id, owner, user)
        pairs = tuple(ev.FriendPair(from_account=owner, to_account=u) for u in added)
        emit(conn, call, ev.BlackListAdd, pair_list=pairs)
    return results


def unblock_tx(
    conn: Connection, call: Call, owner: str, users: Sequence[str]
) -> dict[str, Outcome]:
    """Unblock users (30001 if not blocked); queue Sns.CallbackBlackListDelete."""
    require_owner(conn, call.app_id, owner)
    lock_accounts(conn, call.app_id, [owner, *users])
    removed: list[str] = []
    results: dict[str, Outcome] = {}
    for user in users:
        gone = conn.execute(
            "DELETE FROM blocklist WHERE sdk_app_id = ? AND user_id = ? AND blocked_id = ?"
            " RETURNING blocked_id",
            (call.app_id, owner, user),
        ).fetchone()
        if gone is None:
            results[user] = (SNS_BAD_PARAM, f"{user!r} is not on the blocklist")
        else:
            results[user] = OK
            removed.append(user)
    if removed:
        pairs = tuple(ev.FriendPair(from_account=owner, to_account=u) for u in removed)
        emit(conn, call, ev.BlackListDelete, pair_list=pairs)
    return results


def block_page(conn: Connection, app_id: int, owner: str, start: int, limit: int) -> dict[str, Any]:
    """black_list_get: BlackListItem from ``start``; StartIndex is the next page's (0: done)."""
    require_owner(conn, app_id, owner)
    rows = conn.execute(
        "SELECT blocked_id, added_at FROM blocklist WHERE sdk_app_id = ? AND user_id = ?"
        " ORDER BY added_at, blocked_id LIMIT ? OFFSET ?",
        (app_id, owner, limit + 1, start),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "BlackListItem": [{"To_Account": r[0], "AddBlackTimeStamp": r[1]} for r in rows],
        "StartIndex": start + len(rows) if more else 0,
        # The English page spells it CurruentSequence, the Chinese one CurrentSequence.
        "CurruentSequence": 0,
        "CurrentSequence": 0,
    }


async def _change(
    svc: ChatService, call: Call, owner: str, users: list[str], tx: Tx
) -> dict[str, Any]:
    unique = list(dict.fromkeys(users))
    return answer(await svc.change(lambda c: tx(c, call, owner, unique)))


@commands.admin(SNS, "black_list_add", BlackList)
async def black_list_add(svc: ChatService, call: Call, body: BlackList) -> dict[str, Any]:
    """Add users to From_Account's blocklist."""
    return await _change(svc, call, body.from_account, body.users, block_tx)


@commands.admin(SNS, "black_list_delete", BlackList)
async def black_list_delete(svc: ChatService, call: Call, body: BlackList) -> dict[str, Any]:
    """Remove users from From_Account's blocklist."""
    return await _change(svc, call, body.from_account, body.users, unblock_tx)


@commands.client("black_list_add", MyBlackList)
async def client_black_list_add(svc: ChatService, call: Call, body: MyBlackList) -> dict[str, Any]:
    """The user blocks users."""
    return await _change(svc, call, call.operator, body.users, block_tx)


@commands.client("black_list_delete", MyBlackList)
async def client_black_list_delete(
    svc: ChatService, call: Call, body: MyBlackList
) -> dict[str, Any]:
    """The user unblocks users."""
    return await _change(svc, call, call.operator, body.users, unblock_tx)


@commands.admin(SNS, "black_list_get", BlackListGet)
async def black_list_get(svc: ChatService, call: Call, body: BlackListGet) -> dict[str, Any]:
    """A page of From_Account's blocklist."""
    return await svc.read(
        lambda c: block_page(c, call.app_id, body.from_account, body.start, body.limit)
    )
