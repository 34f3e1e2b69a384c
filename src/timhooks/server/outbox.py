"""The outbox: every webhook the Chat backend sends, the one owner of its rows and attempts.

An after-webhook is queued by ``emit`` inside the transaction of the change it reports, so a
committed change always has its webhook and a rolled-back one never does. The dispatcher claims
due rows with a lease (``timhooks.workqueue.claim_due``) and records each attempt; a
before-webhook, answered inline, is kept here as a record of its one attempt. The CLI lists,
shows, replays and prunes the rows.

Lock order (PostgreSQL): outbox rows are written in id order (``record``); new rows lock
nothing another transaction waits for (the order of the rest: ``timhooks.server.sql``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, NamedTuple

import msgspec

from timhooks.delivery.dispatcher import OutboxRow
from timhooks.delivery.sender import Attempt
from timhooks.protocol import events as ev
from timhooks.protocol.encoding import encode_json
from timhooks.server.calls import Call, new_event
from timhooks.storage.engine import BatchWriter, Coalescer, Connection
from timhooks.storage.filters import LogFilter
from timhooks.workqueue.claims import QUEUE_STATISTICS, claim_due, release_claimed
from timhooks.workqueue.replays import count_replayable, replay_row, replay_rows

__all__ = [
    "OUTBOX_V1",
    "OUTBOX_V2",
    "OUTBOX_V3",
    "OUTBOX_V9",
    "OUTBOX_V9_POSTGRES",
    "ClaimedWebhook",
    "Delivery",
    "DeliveryStatus",
    "Outbox",
    "emit",
]

log = logging.getLogger("timhooks.server")

# The outbox's tables, one statement each (SQLite-flavoured portable DDL: see
# ``timhooks.storage.migrations``), as the server's migrations 1 to 3 and 9 create them.
OUTBOX_V1 = (
    """CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    sdk_app_id INTEGER NOT NULL,
    command TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'after',
    body BLOB NOT NULL,
    client_ip TEXT NOT NULL DEFAULT '',
    opt_platform TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    created_at REAL NOT NULL,
    finished_at REAL,
    last_status INTEGER,
    last_error TEXT
)""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at) WHERE status = 'pending'",
    """CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    url TEXT NOT NULL,
    status_code INTEGER,
    latency_ms REAL NOT NULL,
    error TEXT,
    response TEXT
)""",
    "CREATE INDEX IF NOT EXISTS attempts_outbox ON attempts (outbox_id)",
)
# Indexes for pruning finished deliveries and listing by command.
OUTBOX_V2 = (
    "CREATE INDEX IF NOT EXISTS outbox_finished ON outbox (finished_at) WHERE status <> 'pending'",
    "CREATE INDEX IF NOT EXISTS outbox_command ON outbox (command, id)",
)
# Failed before-webhook records become 'fallback' (the failure policy answered them).
OUTBOX_V3 = ("UPDATE outbox SET status = 'fallback' WHERE phase = 'before' AND status = 'failed'",)
# The due index in the order a claim takes rows (``workqueue.claims``): next_attempt_at, then
# id. SQLite's index held the rowid (the id) anyway; PostgreSQL's did not, and sorted every due
# row at each claim.
OUTBOX_V9 = (
    "DROP INDEX IF EXISTS outbox_due",
    "CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending'",
)
OUTBOX_V9_POSTGRES = (*OUTBOX_V9, f"ALTER TABLE outbox SET {QUEUE_STATISTICS}")


class DeliveryStatus(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"  # an after-webhook waiting for its first or next attempt
    DELIVERED = "delivered"  # answered 200 with a valid answer
    FAILED = "failed"  # an after-webhook out of attempts; replay it by hand
    # A before-webhook that failed: the failure policy answered it at the time (proceed or
    # deny, "Webhook Overview", https://trtc.io/document/34354), so there is nothing to replay.
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: one webhook and the state of its delivery."""

    id: int
    sdk_app_id: int
    command: str
    phase: str
    status: DeliveryStatus
    body: bytes
    client_ip: str
    opt_platform: str
    attempts: int
    next_attempt_at: float | None
    created_at: float
    finished_at: float | None
    last_status: int | None
    last_error: str | None
    # Every attempt in the log, replays included (``attempts`` restarts at a replay, for the
    # retry policy); None where the listing did not count them.
    logged_attempts: int | None = None

    @property
    def total_attempts(self) -> int:
        """Every attempt made: those logged, replays included, or more where an attempt ended
        with its process before it was logged (its claim counted it)."""
        return max(self.attempts, self.logged_attempts or 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``timhooks deliveries list --json``); ``attempts`` is
        ``total_attempts``."""
        return {
            "id": self.id,
            "sdk_app_id": self.sdk_app_id,
            "command": self.command,
            "phase": self.phase,
            "status": self.status.value,
            "attempts": self.total_attempts,
            "created_at": self.created_at,
            "next_attempt_at": self.next_attempt_at,
            "finished_at": self.finished_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "client_ip": self.client_ip,
            "opt_platform": self.opt_platform,
            "payload": msgspec.json.decode(self.body),
        }


def emit(conn: Connection, call: Call, model: type[ev.Event], **fields: Any) -> None:
    """Queue an after-webhook of ``model`` in the outbox, if the app has it switched on (in the
    transaction of ``conn``: the change it reports commits with it)."""
    if not call.callback.enabled(model.command):
        return
    event = new_event(call, model, **fields)
    conn.execute(
        "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip, opt_platform, status,"
        " next_attempt_at, created_at) VALUES (?, ?, 'after', ?, ?, ?, 'pending', ?, ?)",
        (
            call.app_id,
            event.callback_command,
            encode_json(event.to_wire()),
            call.client_ip,
            call.platform,
            call.now,
            call.now,
        ),
    )


class ClaimedWebhook(NamedTuple):
    """A claimed outbox row, as the dispatcher reads it (``OutboxRow``): only what a delivery
    needs, built straight from the claim's columns (``_CLAIMED``, in this order)."""

    id: int
    sdk_app_id: int
    command: str
    body: bytes
    client_ip: str
    opt_platform: str
    attempts: int
    next_attempt_at: float | None


_CLAIMED = "id, sdk_app_id, command, body, client_ip, opt_platform, attempts, next_attempt_at"

_COLUMNS = (
    "id, sdk_app_id, command, phase, status, body, client_ip, opt_platform, attempts,"
    " next_attempt_at, created_at, finished_at, last_status, last_error"
)

# The listing's columns: the row and how many attempts its log holds.
_LISTED = (
    f"{_COLUMNS}, (SELECT COUNT(*) FROM attempts a WHERE a.outbox_id = outbox.id)"
    " AS logged_attempts"
)

# What a bulk replay takes: after-webhooks whose delivery ended (a before-webhook was answered
# inline; a pending row is about to be sent anyway).
_REPLAYABLE = "phase = 'after' AND status IN ('delivered', 'failed')"

# What a replay resets besides status, attempts and next_attempt_at.
_REOPENED = {"finished_at": None}

_INSERT_ATTEMPT = (
    "INSERT INTO attempts (outbox_id, at, url, status_code, latency_ms, error, response)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _delivery(row: Any, logged: bool = False) -> Delivery:
    return Delivery(
        id=row["id"],
        sdk_app_id=row["sdk_app_id"],
        command=row["command"],
        phase=row["phase"],
        status=DeliveryStatus(row["status"]),
        body=bytes(row["body"]),
        client_ip=row["client_ip"],
        opt_platform=row["opt_platform"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        logged_attempts=int(row["logged_attempts"]) if logged else None,
    )


_RECORD_OUTCOME = (
    "UPDATE outbox SET status = ?, next_attempt_at = ?, finished_at = ?, last_status = ?,"
    " last_error = ? WHERE id = ?"
)

# The same two writes for many rows, each one statement over arrays (``Dialect.arrays``).
_LOCK_IN_ORDER = "SELECT id FROM outbox WHERE id = ANY(?::bigint[]) ORDER BY id FOR UPDATE"
_INSERT_ATTEMPTS = (
    "INSERT INTO attempts (outbox_id, at, url, status_code, latency_ms, error, response)"
    " SELECT * FROM unnest(?::bigint[], ?::float8[], ?::text[], ?::bigint[], ?::float8[],"
    " ?::text[], ?::text[])"
)
_RECORD_OUTCOMES = (
    "UPDATE outbox AS o SET status = u.status, next_attempt_at = u.next_at,"
    " finished_at = u.finished, last_status = u.code, last_error = u.error"
    " FROM unnest(?::text[], ?::float8[], ?::float8[], ?::bigint[], ?::text[], ?::bigint[])"
    " AS u (status, next_at, finished, code, error, id) WHERE o.id = u.id"
)


def _record_arrays(
    conn: Connection, attempts: list[tuple[Any, ...]], updates: list[tuple[Any, ...]]
) -> None:
    """Write attempts and outcomes (rows in id order) with one statement each: the outbox rows
    are locked first, in id order (the lock order of every writer), then written."""
    # Two records of one row in a batch: the later one is its outcome, as one UPDATE each
    # would leave it.
    outcomes = list({row[-1]: row for row in updates}.values())
    conn.execute(_LOCK_IN_ORDER, ([row[-1] for row in outcomes],)).fetchall()
    conn.execute(_INSERT_ATTEMPTS, [list(column) for column in zip(*attempts, strict=True)])
    conn.execute(_RECORD_OUTCOMES, [list(column) for column in zip(*outcomes, strict=True)])


def _attempt_row(delivery_id: int, attempt: Attempt) -> tuple[Any, ...]:
    response = None
    if attempt.response is not None:
        response = attempt.response[:2000].decode("utf-8", "replace")
    return (
        delivery_id,
        attempt.at,
        attempt.url,
        attempt.status_code,
        attempt.latency_ms,
        attempt.error,
        response,
    )


def _report_record(future: Future[None]) -> None:
    """A before-webhook record that could not be written: said in the log (the call it records
    was answered already)."""
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("a before-webhook was answered but its record could not be kept: %s", exc)


class Outbox:
    """The outbox operations of the dispatcher and the CLI, over the server's database."""

    def __init__(self, db: BatchWriter) -> None:
        self._db = db
        # Nobody waits on a record to answer a call: everything recorded while one record
        # operation commits goes into the next one.
        self._records: Coalescer[tuple[int, Attempt, float | None], None] = Coalescer(
            self._record_many, in_flight=1
        )

    async def claim(self, *, now: float, limit: int, lease: float) -> list[ClaimedWebhook]:
        """Take up to ``limit`` due pending rows for ``lease`` seconds; count an attempt."""

        def op(conn: Connection) -> list[ClaimedWebhook]:
            rows = claim_due(conn, "outbox", _CLAIMED, now=now, limit=limit, lease=lease)
            # Both drivers give a BLOB (bytea) as bytes, and rows that iterate in column order.
            return [ClaimedWebhook._make(r) for r in rows]

        return await self._db.run(op, single=True)

    async def release(self, rows: Sequence[OutboxRow], *, now: float) -> None:
        """Give back claimed rows never attempted: due again at ``now``, the claim uncounted."""
        claims = [(r.id, r.next_attempt_at) for r in rows if r.next_attempt_at is not None]
        if claims:
            await self._db.run(lambda conn: release_claimed(conn, "outbox", claims, now=now))

    async def record(self, delivery_id: int, attempt: Attempt, *, retry_at: float | None) -> None:
        """Record an attempt: delivered, pending again at ``retry_at``, or failed.

        The attempts recorded while the previous record operation commits are written by one
        operation.
        """
        await self.record_soon(delivery_id, attempt, retry_at=retry_at)

    def record_soon(
        self, delivery_id: int, attempt: Attempt, *, retry_at: float | None
    ) -> asyncio.Future[None]:
        """``record`` as a future of the running loop (no task of its own: the dispatcher)."""
        return self._records.submit((delivery_id, attempt, retry_at))

    async def _record_many(self, items: list[tuple[int, Attempt, float | None]]) -> list[None]:
        # In id order, the lock order of outbox rows: on PostgreSQL each attempt's row locks
        # its outbox row, and each UPDATE locks it further.
        ordered = sorted(items, key=lambda item: item[0])
        updates = []
        for delivery_id, attempt, retry_at in ordered:
            if attempt.ok:
                status, next_at = DeliveryStatus.DELIVERED, None
            elif retry_at is not None:
                status, next_at = DeliveryStatus.PENDING, retry_at
            else:
                status, next_at = DeliveryStatus.FAILED, None
            finished = None if status is DeliveryStatus.PENDING else attempt.at
            updates.append(
                (status.value, next_at, finished, attempt.status_code, attempt.error, delivery_id)
            )

        def op(conn: Connection) -> None:
            attempts = [_attempt_row(i, a) for i, a, _ in ordered]
            if conn.dialect.arrays:
                _record_arrays(conn, attempts, updates)
                return
            conn.executemany(_INSERT_ATTEMPT, attempts)
            conn.executemany(_RECORD_OUTCOME, updates)

        await self._db.run(op)
        return [None] * len(items)

    def record_before(
        self,
        *,
        sdk_app_id: int,
        command: str,
        body: bytes,
        client_ip: str,
        platform: str,
        attempt: Attempt,
    ) -> None:
        """Keep a before-webhook call in the delivery log, with its one attempt.

        The call's answer does not wait for its record: the write is queued, and one that fails
        is logged. A failed call is recorded as ``fallback``: the failure policy answered in its
        place.
        """
        status = DeliveryStatus.DELIVERED if attempt.ok else DeliveryStatus.FALLBACK

        def op(conn: Connection) -> None:
            row = conn.execute(
                "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip, opt_platform,"
                " status, attempts, created_at, finished_at, last_status, last_error)"
                " VALUES (?, ?, 'before', ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id",
                (
                    sdk_app_id,
                    command,
                    body,
                    client_ip,
                    platform,
                    status.value,
                    attempt.at,
                    attempt.at,
                    attempt.status_code,
                    attempt.error,
                ),
            ).fetchone()
            conn.execute(_INSERT_ATTEMPT, _attempt_row(int(row[0]), attempt))

        self._db.submit(op).add_done_callback(_report_record)

    async def deliveries(
        self,
        *,
        status: DeliveryStatus | None = None,
        command: str | None = None,
        app_id: int | None = None,
        limit: int = 100,
        where: LogFilter | None = None,
        oldest_first: bool = False,
    ) -> list[Delivery]:
        """Outbox rows, newest first (or the oldest), with their logged attempts counted."""
        conditions, params = (where or LogFilter()).where("created_at", self._db.dialect.name)
        for column, value in (("status", status), ("command", command), ("sdk_app_id", app_id)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value.value if isinstance(value, StrEnum) else value)
        clause = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        order = "ASC" if oldest_first else "DESC"

        def op(conn: Connection) -> list[Delivery]:
            rows = conn.execute(
                f"SELECT {_LISTED} FROM outbox {clause} ORDER BY id {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [_delivery(r, logged=True) for r in rows]

        return await self._db.read(op)

    async def delivery(self, delivery_id: int) -> tuple[Delivery, list[dict[str, Any]]] | None:
        """One outbox row with its attempts, oldest first."""

        def op(conn: Connection) -> tuple[Delivery, list[dict[str, Any]]] | None:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                return None
            attempts = [
                dict(a)
                for a in conn.execute(
                    "SELECT at, url, status_code, latency_ms, error, response FROM attempts"
                    " WHERE outbox_id = ? ORDER BY id",
                    (delivery_id,),
                )
            ]
            delivery = _delivery(row)
            return replace(delivery, logged_attempts=len(attempts)), attempts

        return await self._db.read(op)

    async def pending_count(self) -> int:
        """How many after-webhooks wait for delivery."""
        return (await self.backlog())[0]

    async def backlog(self) -> tuple[int, float | None]:
        """How many after-webhooks wait for delivery, and when the oldest was created."""

        def op(conn: Connection) -> tuple[int, float | None]:
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'"
            ).fetchone()
            return int(count), None if oldest is None else float(oldest)

        return await self._db.read(op)

    async def replay(self, delivery_id: int, *, now: float) -> bool:
        """Make an after-webhook pending again with a fresh attempt count."""
        refusal = (
            f"delivery {delivery_id} is a before-webhook: it decided its action inline and cannot"
            " be replayed"
        )
        return await self._db.run(
            lambda conn: replay_row(
                conn, "outbox", delivery_id, now=now, reset=_REOPENED, refusal=refusal
            )
        )

    async def replay_count(self, where: LogFilter) -> tuple[int, int]:
        """How many rows ``replay_many`` would take, and the newest one's id (0: none)."""
        conditions, params = where.where("created_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE])
        return await self._db.read(lambda conn: count_replayable(conn, "outbox", clause, params))

    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]:
        """Make up to ``limit`` finished after-webhooks matching ``where`` pending again, oldest
        first, none newer than ``through_id``; return their ids (one statement)."""
        conditions, params = where.where("created_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE])
        return await self._db.run(
            lambda conn: replay_rows(
                conn,
                "outbox",
                clause,
                params,
                through_id=through_id,
                limit=limit,
                now=now,
                reset=_REOPENED,
            ),
            single=True,
        )

    async def prune(self, *, before: float) -> int:
        """Delete finished deliveries (delivered after-webhooks and before-webhook records)
        finished before ``before``, with their attempts; failed after-webhooks stay."""

        def op(conn: Connection) -> int:
            conn.execute(
                "DELETE FROM attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE"
                " finished_at < ? AND (status = 'delivered' OR phase = 'before'))",
                (before,),
            )
            cur = conn.execute(
                "DELETE FROM outbox WHERE finished_at < ?"
                " AND (status = 'delivered' OR phase = 'before')",
                (before,),
            )
            return int(cur.rowcount)

        return await self._db.run(op)
