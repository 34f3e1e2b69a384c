"""Accounts: importing UserIDs (``im_open_login_svc``), and the users client actions bring in.

A UserID is at most 32 bytes; a bad field of these commands is 70402 (the README's "Protocol
choices"). Other commands take only imported accounts as owners, members and subscribers. A user
who acts through the client API exists from then on, as after an SDK login.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.protocol.query import Platform
from timhooks.server.apps import App
from timhooks.server.bodies import Body
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.service import ChatService
from timhooks.server.sql import app_rows, placeholders
from timhooks.storage.engine import Connection, for_update

__all__ = [
    "account_listing",
    "commands",
    "ensure_user",
    "import_accounts_tx",
    "imported",
    "lock_accounts",
    "require_account",
]

USER_ID_MAX = 32  # bytes
_SERVICE = "im_open_login_svc"

commands = CommandTable(bad_param=RestCode.ACCOUNT_BAD_PARAM)


class AccountImport(Body, frozen=True, kw_only=True):
    """im_open_login_svc/account_import (``Identifier`` is the older name of ``UserID``)."""

    wire_aliases: ClassVar[Mapping[str, str]] = {"UserID": "Identifier"}

    user_id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=USER_ID_MAX,
            extra={"invalid": "must be a non-empty string"},
        ),
    ] = msgspec.field(name="UserID")
    nick: Annotated[str, msgspec.Meta(max_length=500)] = msgspec.field(name="Nick", default="")
    face_url: Annotated[str, msgspec.Meta(max_length=500)] = msgspec.field(
        name="FaceUrl", default=""
    )


class MultiAccountImport(Body, frozen=True, kw_only=True):
    """im_open_login_svc/multiaccount_import: up to 100 UserIDs."""

    accounts: Annotated[
        list[
            Annotated[Any, msgspec.Meta(description="a UserID; others come back in FailAccounts")]
        ],
        msgspec.Meta(min_length=1, max_length=100),
    ] = msgspec.field(name="AccountList")


def import_accounts_tx(
    conn: Connection, call: Call, accounts: Sequence[tuple[str, str, str]]
) -> None:
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


def login_tx(conn: Connection, call: Call) -> None:
    """The acting user exists from now on (an account with no profile, if it had none)."""
    conn.execute(
        "INSERT INTO accounts (sdk_app_id, user_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (call.app_id, call.operator, call.now),
    )


def imported(conn: Connection, app_id: int, users: Sequence[str]) -> set[str]:
    """Which of ``users`` are imported accounts of the app."""
    found: set[str] = set()
    for start in range(0, len(users), 500):
        chunk = list(users[start : start + 500])
        rows = conn.execute(
            f"SELECT user_id FROM accounts WHERE sdk_app_id = ? AND user_id IN"
            f" ({placeholders(len(chunk))})",
            (app_id, *chunk),
        )
        found.update(r[0] for r in rows)
    return found


def lock_accounts(conn: Connection, app_id: int, users: Sequence[str]) -> None:
    """Hold the accounts of ``users`` to the transaction's end, in UserID order (the lock order
    of ``timhooks.server.sql``; PostgreSQL only): what changes rows between users (friends,
    blocklists, profiles) is then serialised per user, never crosswise."""
    clause = for_update(conn)
    if not clause:
        return
    people = sorted(set(users))
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        conn.execute(
            f"SELECT 1 FROM accounts WHERE sdk_app_id = ? AND user_id IN"
            f" ({placeholders(len(chunk))}) ORDER BY user_id{clause}",
            (app_id, *chunk),
        ).fetchall()


def require_account(conn: Connection, app_id: int, user: str, code: int) -> None:
    """Raise RestError(code) unless ``user`` is imported."""
    if not imported(conn, app_id, [user]):
        raise RestError(code, f"account {user!r} is not imported")


async def ensure_user(svc: ChatService, app: App, user: str) -> None:
    """A user acting through the client exists from then on, as after an SDK login."""
    if (app.sdk_app_id, user) in svc.users:
        return
    if len(user.encode()) > USER_ID_MAX:
        raise RestError(RestCode.ACCOUNT_BAD_PARAM, f"UserID is longer than {USER_ID_MAX} bytes")
    call = svc.call(app, user, "", Platform.UNKNOWN, rest=False)
    await svc.change(lambda c: login_tx(c, call))
    svc.users.add((app.sdk_app_id, user))


@commands.admin(_SERVICE, "account_import", AccountImport)
async def account_import(svc: ChatService, call: Call, body: AccountImport) -> dict[str, Any]:
    """One account (UserID, Nick, FaceUrl)."""
    account = (body.user_id, body.nick, body.face_url)
    await svc.change(lambda c: import_accounts_tx(c, call, [account]))
    return {}


@commands.admin(_SERVICE, "multiaccount_import", MultiAccountImport)
async def multiaccount_import(
    svc: ChatService, call: Call, body: MultiAccountImport
) -> dict[str, Any]:
    """Up to 100 UserIDs; the ones that are not valid UserIDs are listed in FailAccounts."""
    good = [a for a in body.accounts if isinstance(a, str) and a and len(a.encode()) <= USER_ID_MAX]
    failed = [a for a in body.accounts if a not in good]
    await svc.change(lambda c: import_accounts_tx(c, call, [(u, "", "") for u in good]))
    return {"FailAccounts": failed}


def account_listing(conn: Connection, app_id: int, limit: int) -> list[dict[str, Any]]:
    """The app's first ``limit`` accounts by UserID: user_id, nick, created_at."""
    return app_rows(
        conn,
        "SELECT user_id, nick, created_at FROM accounts WHERE sdk_app_id = ?"
        " ORDER BY user_id LIMIT ?",
        (app_id, limit),
    )
