"""Replaying finished work by hand: rows made pending again, due now, with a fresh attempt count.

``timhooks deliveries replay`` (the server's outbox) and ``timhooks events replay`` (the
receiver's inbox) take one row by id, or every replayable row a filter matches, in id order. A
before-webhook is never replayed: it was answered inline, and its answer decided its action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from timhooks.protocol.errors import ConfigError
from timhooks.workqueue.connection import QueueConnection

__all__ = ["count_replayable", "replay_row", "replay_rows"]


def _sets(reset: Mapping[str, Any]) -> str:
    return "".join(f", {column} = ?" for column in reset)


def replay_row(
    conn: QueueConnection,
    table: str,
    row_id: int,
    *,
    now: float,
    reset: Mapping[str, Any],
    refusal: str,
) -> bool:
    """Make one row of ``table`` pending again (``reset``: more columns to set); False when
    there is no such row, ConfigError(``refusal``) when it is a before-webhook."""
    row = conn.execute(f"SELECT phase FROM {table} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return False
    if row[0] == "before":
        raise ConfigError(refusal)
    cur = conn.execute(
        f"UPDATE {table} SET status = 'pending', attempts = 0, next_attempt_at = ?"
        f"{_sets(reset)} WHERE id = ?",
        (now, *reset.values(), row_id),
    )
    return bool(cur.rowcount > 0)


def count_replayable(
    conn: QueueConnection, table: str, where: str, params: Sequence[Any]
) -> tuple[int, int]:
    """How many rows of ``table`` match ``where``, and the newest one's id (0: none)."""
    count, newest = conn.execute(
        f"SELECT COUNT(*), MAX(id) FROM {table} WHERE {where}", params
    ).fetchone()
    return int(count), int(newest or 0)


def replay_rows(
    conn: QueueConnection,
    table: str,
    where: str,
    params: Sequence[Any],
    *,
    through_id: int,
    limit: int,
    now: float,
    reset: Mapping[str, Any],
) -> list[int]:
    """Make up to ``limit`` rows of ``table`` matching ``where`` pending again, oldest first,
    none newer than ``through_id`` (``reset``: more columns to set); return their ids (one
    statement)."""
    rows = conn.execute(
        f"UPDATE {table} SET status = 'pending', attempts = 0, next_attempt_at = ?"
        f"{_sets(reset)} WHERE id IN (SELECT id FROM {table} WHERE {where} AND id <= ?"
        " ORDER BY id LIMIT ?) RETURNING id",
        (now, *reset.values(), *params, through_id, limit),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)
