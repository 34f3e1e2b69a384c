"""Claiming due work with a lease: the one statement the inbox and the outbox share.

A queue table has ``id``, ``status`` (``'pending'`` while work is due or waits for a retry),
``next_attempt_at`` and ``attempts``. A claim moves ``next_attempt_at`` past the lease and counts
an attempt, so a claimed row is not due again until its lease ends: if its claimer dies, the row
is taken again then, and nothing committed is lost.
"""

from __future__ import annotations

from typing import Any

from timhooks.workqueue.connection import QueueConnection

__all__ = ["QUEUE_STATISTICS", "claim_due", "release_claimed"]

# A queue table's storage parameters on PostgreSQL (its migrations set them). A claim's plan
# follows the table's statistics: with those of a small table it sorts a large backlog at every
# claim (milliseconds) instead of reading the due index in order (microseconds). A queue changes
# fast, so it is analyzed after every 1,000 changes plus 1%, not PostgreSQL's default 50 + 10%.
QUEUE_STATISTICS = "(autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)"


def claim_due(
    conn: QueueConnection,
    table: str,
    columns: str,
    *,
    now: float,
    limit: int,
    lease: float,
    stamp: str | None = None,
) -> list[Any]:
    """Take up to ``limit`` due pending rows of ``table`` for ``lease`` seconds and count an
    attempt on each; return their ``columns`` (which include ``id``), in id order.

    ``stamp`` names a column set to ``now`` as well (the inbox's ``updated_at``).
    """
    # The rows are picked once, in a CTE: on PostgreSQL a ``WHERE id IN (SELECT ... LIMIT n
    # FOR UPDATE SKIP LOCKED)`` subquery may be run again for the outer rows, each run skipping
    # the rows the last one locked, and so claim far more than ``limit`` rows (every due row);
    # a MATERIALIZED CTE runs once. The outer condition repeats the inner one: a row another
    # claimer took between the two is skipped once its lock is released (and SKIP LOCKED skips
    # rows locked right now), so however many processes share the database, no row is claimed
    # twice.
    locking = conn.dialect.skip_locked
    materialized = "MATERIALIZED " if locking else ""
    stamped = f", {stamp} = ?" if stamp else ""
    rows: list[Any] = conn.execute(
        f"WITH picked AS {materialized}(SELECT id FROM {table} WHERE status = 'pending'"
        f" AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?{locking})"
        f" UPDATE {table} SET next_attempt_at = ?, attempts = attempts + 1{stamped}"
        f" WHERE id IN (SELECT id FROM picked) AND status = 'pending' AND next_attempt_at <= ?"
        f" RETURNING {columns}",
        (now, limit, now + lease, *([now] if stamp else []), now),
    ).fetchall()
    return sorted(rows, key=lambda row: int(row["id"]))


def release_claimed(
    conn: QueueConnection, table: str, claims: list[tuple[int, float]], *, now: float
) -> int:
    """Give back claimed rows that were never processed, each ``(id, next_attempt_at)`` as its
    claim returned it: due again at ``now``, the claim's attempt uncounted. A row whose claim
    is no longer this one (its lease ended and another claimer took it) is left alone. Return
    how many were given back."""
    released = 0
    for row_id, leased_until in claims:
        cur = conn.execute(
            f"UPDATE {table} SET next_attempt_at = ?, attempts = attempts - 1"
            " WHERE id = ? AND status = 'pending' AND next_attempt_at = ? AND attempts > 0",
            (now, row_id, leased_until),
        )
        released += int(cur.rowcount)
    return released
