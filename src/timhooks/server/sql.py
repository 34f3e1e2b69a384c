"""SQL the concept modules share: placeholders, one row by key (locked or not), per-item results.

Every change of the Chat backend is a function of a connection, run in one transaction by the
storage writer (``ChatService.change``); the after-webhooks it queues (``outbox.emit``) commit
with it.

Lock order (PostgreSQL, where several transactions run at once; SQLite has one writer): a
transaction that changes an Official Account or a group, or rows under it (subscribers,
messages, members, applications), first locks that one account's or group's row (``lock=True``),
and only then reads and changes the rows under it; no transaction locks two of them. Writers of
the same account or group thus queue on its row, and rows under it are never locked before it.
Accounts are written in UserID order: what changes rows between users (one-to-one messages,
friendships, blocklists, profiles, online state) first locks the accounts involved in that order
(``accounts.lock_accounts``). Outbox rows are written in id order (``timhooks.server.outbox``);
new outbox rows lock nothing another transaction waits for. With every transaction taking its
locks in this one order, no two can wait for each other.

An operation that changes one account or group only is run with its key (``oa_key``,
``group_key``): on PostgreSQL the writer then lets the operations of one key share a
transaction (``timhooks.storage.engine``), which still locks under one account or group only.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from typing import Any

from timhooks.protocol.errors import RestError
from timhooks.storage.engine import Connection, for_update

__all__ = [
    "Row",
    "app_rows",
    "count_rows",
    "lock_row",
    "per_item",
    "placeholders",
    "random_id",
    "row_by",
]

Row = Any  # a row of either backend: read by column name or by index


def placeholders(n: int) -> str:
    """``?,?,…`` for ``n`` parameters (an ``IN`` list)."""
    return ",".join("?" * n)


_ID_ALPHABET = string.ascii_uppercase + string.digits


def random_id(length: int) -> str:
    """Upper-case letters and digits: the random part of a new Official Account's or group's
    ID. One draw from the system's random source for the whole ID, its digits in base 36 (each
    of the 36**length IDs as likely)."""
    base = len(_ID_ALPHABET)
    n = secrets.randbelow(base**length)
    chars = []
    for _ in range(length):
        n, digit = divmod(n, base)
        chars.append(_ID_ALPHABET[digit])
    return "".join(chars)


def row_by(
    conn: Connection, table: str, key: str, app_id: int, ident: str, *, lock: bool = False
) -> Row | None:
    """One row of ``table`` by app and ``key``; ``lock`` holds it to the transaction's end."""
    row: Row | None = conn.execute(
        f"SELECT * FROM {table} WHERE sdk_app_id = ? AND {key} = ?"
        + (for_update(conn) if lock else ""),
        (app_id, ident),
    ).fetchone()
    return row


def lock_row(conn: Connection, table: str, key: str, app_id: int, ident: str) -> None:
    """Hold a row of ``table`` to the transaction's end, if it exists (PostgreSQL only: SQLite's
    one writer holds the whole database)."""
    clause = for_update(conn)
    if clause:
        conn.execute(
            f"SELECT 1 FROM {table} WHERE sdk_app_id = ? AND {key} = ?{clause}", (app_id, ident)
        )


def per_item(
    ids: Sequence[str],
    key: str,
    fetch: Callable[[str], Row],
    render: Callable[[Row], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One result per id: its fields with ErrorCode 0, or its own ErrorCode and ErrorInfo (the
    ``get_*_info`` commands answer each item apart)."""
    items: list[dict[str, Any]] = []
    for item_id in ids:
        try:
            fields = render(fetch(item_id))
        except RestError as exc:
            items.append({key: item_id, "ErrorCode": exc.code, "ErrorInfo": exc.info})
        else:
            items.append({key: item_id, "ErrorCode": 0, "ErrorInfo": "", **fields})
    return items


def count_rows(conn: Connection, table: str, app_id: int) -> int:
    """How many rows of ``table`` the app has."""
    return int(
        conn.execute(f"SELECT COUNT(*) FROM {table} WHERE sdk_app_id = ?", (app_id,)).fetchone()[0]
    )


def app_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of a read as dicts by column name (for listings and the console)."""
    return [dict(row) for row in conn.execute(sql, params).fetchall()]
