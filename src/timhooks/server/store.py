"""The Chat backend's storage: apps, the outbox and its delivery attempts, and the domain tables.

Domain changes run as functions of a connection through ``run`` (see ``domain``); the outbox
operations the dispatcher and the CLI need are methods here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from timhooks.delivery.sender import Attempt
from timhooks.protocol.errors import ConfigError
from timhooks.server.config import CallbackConfig
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.storage import open_writer
from timhooks.storage.engine import Coalescer, skip_locked
from timhooks.storage.filters import LogFilter

__all__ = ["App", "Delivery", "DeliveryStatus", "ServerStore"]

T = TypeVar("T")


class DeliveryStatus(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"  # an after-webhook waiting for its first or next attempt
    DELIVERED = "delivered"  # answered 200 with a valid answer
    FAILED = "failed"  # an after-webhook out of attempts; replay it by hand
    # A before-webhook that failed: the failure policy answered it at the time (proceed or
    # deny, reference: Webhook Overview), so there is nothing to replay.
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class App:
    """An app: SDKAppID, secret key, admin identifiers and webhook settings."""

    sdk_app_id: int
    key: str
    admins: tuple[str, ...]
    callback: CallbackConfig


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


def _app(row: Any) -> App:
    return App(
        sdk_app_id=row["sdk_app_id"],
        key=row["secret_key"],
        admins=tuple(json.loads(row["admins"])),
        callback=CallbackConfig.from_wire(json.loads(row["callback"])),
    )


class ServerStore:
    """The server's database: SQLite or PostgreSQL, by URL."""

    def __init__(
        self,
        url: str | Path,
        *,
        synchronous: str = "FULL",
        upgrade: bool = True,
        create: bool = True,
    ) -> None:
        self._db = open_writer(
            url,
            component="server",
            migrations=SERVER_MIGRATIONS,
            upgrade=upgrade,
            synchronous=synchronous,
            create=create,
        )
        self._records: Coalescer[tuple[int, Attempt, float | None], None] = Coalescer(
            self._record_many
        )

    @property
    def path(self) -> str:
        """Which database this is, for people."""
        return self._db.describe

    async def run(self, op: Callable[[Any], T], *, key: Hashable | None = None) -> T:
        """Run a domain operation in a committed transaction; ``key`` (``domain.oa_key``,
        ``domain.group_key``): it locks only that Official Account's or group's rows, so on
        PostgreSQL it may share a transaction with other operations of the same key."""
        return await self._db.run(op, key=key)

    async def close(self) -> None:
        """Finish queued writes and close the database."""
        await asyncio.to_thread(self._db.close)

    # --- apps -------------------------------------------------------------------------------

    async def apps(self) -> dict[int, App]:
        """Every app by SDKAppID."""

        def op(conn: Any) -> dict[int, App]:
            return {r["sdk_app_id"]: _app(r) for r in conn.execute("SELECT * FROM apps")}

        return await self._db.run(op)

    async def put_app(self, app: App, *, now: float) -> None:
        """Create or update an app."""
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO apps (sdk_app_id, secret_key, admins, callback, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sdk_app_id) DO UPDATE SET"
                " secret_key = excluded.secret_key, admins = excluded.admins,"
                " callback = excluded.callback",
                (
                    app.sdk_app_id,
                    app.key,
                    json.dumps(list(app.admins)),
                    json.dumps(app.callback.to_store()),
                    now,
                ),
            )
        )

    async def set_callback(self, app_id: int, callback: CallbackConfig) -> None:
        """Store an app's webhook settings."""
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE apps SET callback = ? WHERE sdk_app_id = ?",
                (json.dumps(callback.to_store()), app_id),
            )
        )

    # --- outbox -----------------------------------------------------------------------------

    async def claim(self, *, now: float, limit: int, lease: float) -> list[Delivery]:
        """Take up to ``limit`` due pending rows for ``lease`` seconds; count an attempt."""

        def op(conn: Any) -> list[Delivery]:
            # As in the inbox: SKIP LOCKED plus the repeated condition claim each row once
            # however many dispatchers share a PostgreSQL database.
            rows = conn.execute(
                f"UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1"
                f" WHERE id IN (SELECT id FROM outbox WHERE status = 'pending'"
                f" AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"
                f"{skip_locked(conn)}) AND status = 'pending' AND next_attempt_at <= ?"
                f" RETURNING {_COLUMNS}",
                (now + lease, now, limit, now),
            ).fetchall()
            return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

        return await self._db.run(op, single=True)

    async def record(self, delivery_id: int, attempt: Attempt, *, retry_at: float | None) -> None:
        """Record an attempt: delivered, pending again at ``retry_at``, or failed.

        The attempts recorded in one turn of the event loop are written by one operation.
        """
        await self._records.add((delivery_id, attempt, retry_at))

    async def _record_many(self, items: list[tuple[int, Attempt, float | None]]) -> list[None]:
        # In id order, the lock order of outbox rows (see ``domain``): on PostgreSQL each
        # attempt's row locks its outbox row, and each UPDATE locks it further.
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

        def op(conn: Any) -> None:
            conn.executemany(_INSERT_ATTEMPT, [_attempt_row(i, a) for i, a, _ in ordered])
            conn.executemany(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, finished_at = ?,"
                " last_status = ?, last_error = ? WHERE id = ?",
                updates,
            )

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
        """Keep a before-webhook call in the delivery log (not awaited: it is a record).

        A failed call is recorded as ``fallback``: the failure policy answered in its place.
        """
        status = DeliveryStatus.DELIVERED if attempt.ok else DeliveryStatus.FALLBACK

        def op(conn: Any) -> None:
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

        self._db.submit(op)

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

        def op(conn: Any) -> list[Delivery]:
            rows = conn.execute(
                f"SELECT {_LISTED} FROM outbox {clause} ORDER BY id {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [_delivery(r, logged=True) for r in rows]

        return await self._db.run(op)

    async def replay_count(self, where: LogFilter) -> tuple[int, int]:
        """How many rows ``replay_many`` would take, and the newest one's id (0: none)."""
        conditions, params = where.where("created_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE])

        def op(conn: Any) -> tuple[int, int]:
            count, newest = conn.execute(
                f"SELECT COUNT(*), MAX(id) FROM outbox WHERE {clause}", params
            ).fetchone()
            return int(count), int(newest or 0)

        return await self._db.run(op)

    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]:
        """Make up to ``limit`` finished after-webhooks matching ``where`` pending again, oldest
        first, none newer than ``through_id``; return their ids (one statement)."""
        conditions, params = where.where("created_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE, "id <= ?"])

        def op(conn: Any) -> list[int]:
            rows = conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                f" finished_at = NULL WHERE id IN (SELECT id FROM outbox WHERE {clause}"
                " ORDER BY id LIMIT ?) RETURNING id",
                (now, *params, through_id, limit),
            ).fetchall()
            return sorted(int(r[0]) for r in rows)

        return await self._db.run(op, single=True)

    async def delivery(self, delivery_id: int) -> tuple[Delivery, list[dict[str, Any]]] | None:
        """One outbox row with its attempts, oldest first."""

        def op(conn: Any) -> tuple[Delivery, list[dict[str, Any]]] | None:
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

        return await self._db.run(op)

    async def prune(self, *, before: float) -> int:
        """Delete finished deliveries (delivered after-webhooks and before-webhook records)
        finished before ``before``, with their attempts; failed after-webhooks stay."""

        def op(conn: Any) -> int:
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

    async def backlog(self) -> tuple[int, float | None]:
        """How many after-webhooks wait for delivery, and when the oldest was created."""

        def op(conn: Any) -> tuple[int, float | None]:
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'"
            ).fetchone()
            return int(count), None if oldest is None else float(oldest)

        return await self._db.run(op)

    async def pending_count(self) -> int:
        """How many after-webhooks wait for delivery."""
        return await self._db.run(
            lambda conn: int(
                conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
            )
        )

    async def replay(self, delivery_id: int, *, now: float) -> bool:
        """Make an after-webhook pending again with a fresh attempt count."""

        def op(conn: Any) -> bool:
            row = conn.execute("SELECT phase FROM outbox WHERE id = ?", (delivery_id,)).fetchone()
            if row is None:
                return False
            if row[0] == "before":
                raise ConfigError(
                    f"delivery {delivery_id} is a before-webhook: it decided its action inline"
                    " and cannot be replayed"
                )
            conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                " finished_at = NULL WHERE id = ?",
                (now, delivery_id),
            )
            return True

        return await self._db.run(op)


_INSERT_ATTEMPT = (
    "INSERT INTO attempts (outbox_id, at, url, status_code, latency_ms, error, response)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


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
