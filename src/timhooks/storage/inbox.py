"""The receiver's inbox in SQL, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from timhooks.storage.base import InboxEntry, InboxStatus, NewInboxEntry, webhook_digest
from timhooks.storage.engine import BatchWriter, Coalescer
from timhooks.storage.filters import LogFilter
from timhooks.storage.migrations import Migration
from timhooks.workqueue.claims import QUEUE_STATISTICS, claim_due
from timhooks.workqueue.replays import count_replayable, replay_row, replay_rows

__all__ = ["INBOX_MIGRATIONS", "SqlInbox"]

_INBOX_COLUMNS_DDL = """(
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL{unique},
    sdk_app_id INTEGER NOT NULL,
    command TEXT NOT NULL,
    phase TEXT NOT NULL,
    status TEXT NOT NULL,
    body BLOB NOT NULL,
    client_ip TEXT NOT NULL DEFAULT '',
    opt_platform TEXT NOT NULL DEFAULT '',
    received_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_error TEXT,
    answer BLOB,
    updated_at REAL
)"""

_DUE_INDEX = "inbox_due ON inbox (next_attempt_at) WHERE status = 'pending'"
_COMMAND_INDEX = "inbox_command ON inbox (command, id)"
_HANDLED_INDEX = (
    "CREATE INDEX IF NOT EXISTS inbox_handled ON inbox (received_at)"
    " WHERE status IN ('done', 'answered')"
)

_INBOX_V1 = (
    "CREATE TABLE IF NOT EXISTS inbox " + _INBOX_COLUMNS_DDL.format(unique=" UNIQUE"),
    f"CREATE INDEX IF NOT EXISTS {_DUE_INDEX}",
    f"CREATE INDEX IF NOT EXISTS {_COMMAND_INDEX}",
)

# Version 3: the dedup key is (digest, sdk_app_id), no longer the digest alone, so that one app's
# webhook never passes for another app's repeat. The digest itself is unchanged, so every stored
# row keeps its id and its key stays valid: a repeat of a webhook stored before the upgrade is
# still found. SQLite cannot drop a column's UNIQUE constraint, so it copies the table (ids
# included) into one without it; PostgreSQL drops the constraint in place.
_INBOX_V3_SQLITE = (
    "CREATE TABLE inbox_v3 " + _INBOX_COLUMNS_DDL.format(unique=""),
    "INSERT INTO inbox_v3 SELECT id, digest, sdk_app_id, command, phase, status, body,"
    " client_ip, opt_platform, received_at, attempts, next_attempt_at, last_error, answer,"
    " updated_at FROM inbox",
    "DROP TABLE inbox",
    "ALTER TABLE inbox_v3 RENAME TO inbox",
    "CREATE UNIQUE INDEX inbox_key ON inbox (digest, sdk_app_id)",
    f"CREATE INDEX {_DUE_INDEX}",
    f"CREATE INDEX {_COMMAND_INDEX}",
    _HANDLED_INDEX,
)
_INBOX_V3_POSTGRES = (
    "ALTER TABLE inbox DROP CONSTRAINT inbox_digest_key",
    "CREATE UNIQUE INDEX inbox_key ON inbox (digest, sdk_app_id)",
)

# Version 4: the due index in the order a claim takes entries (``workqueue.claims``):
# next_attempt_at, then id (PostgreSQL sorted every due entry at each claim without it).
_INBOX_V4 = (
    "DROP INDEX IF EXISTS inbox_due",
    "CREATE INDEX inbox_due ON inbox (next_attempt_at, id) WHERE status = 'pending'",
)
_INBOX_V4_POSTGRES = (*_INBOX_V4, f"ALTER TABLE inbox SET {QUEUE_STATISTICS}")

INBOX_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the inbox", _INBOX_V1),
    Migration(2, "an index for pruning handled entries", (_HANDLED_INDEX,)),
    Migration(
        3,
        "the dedup key includes the SdkAppid",
        _INBOX_V3_SQLITE,
        by_dialect={"postgresql": _INBOX_V3_POSTGRES},
    ),
    Migration(
        4,
        "due entries indexed in claim order (next_attempt_at, id)",
        _INBOX_V4,
        by_dialect={"postgresql": _INBOX_V4_POSTGRES},
    ),
)

# What a bulk replay takes: after-webhooks whose handling ended (a before-webhook was answered
# inline; a pending entry is about to be handled anyway).
_REPLAYABLE = "phase = 'after' AND status IN ('done', 'dead')"

_INBOX_COLUMNS = (
    "id, sdk_app_id, command, phase, status, body, client_ip, opt_platform, received_at, "
    "attempts, next_attempt_at, last_error, answer"
)


def _inbox_entry(row: Any) -> InboxEntry:
    return InboxEntry(
        id=row["id"],
        sdk_app_id=row["sdk_app_id"],
        command=row["command"],
        phase=row["phase"],
        status=InboxStatus(row["status"]),
        body=bytes(row["body"]),
        client_ip=row["client_ip"],
        opt_platform=row["opt_platform"],
        received_at=row["received_at"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        answer=None if row["answer"] is None else bytes(row["answer"]),
    )


_INSERT_COLUMNS = (
    "digest, sdk_app_id, command, phase, status, body, client_ip, opt_platform, received_at,"
    " next_attempt_at, answer, attempts"
)
_ROW_SLOTS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_CHUNK = 500  # rows per statement: 6,000 parameters, well inside both backends' limits


def _insert_row(entry: NewInboxEntry) -> tuple[Any, ...]:
    pending = entry.status is InboxStatus.PENDING
    claimed = pending and entry.claimed_until is not None
    due = (entry.claimed_until if claimed else entry.received_at) if pending else None
    return (
        webhook_digest(entry.command, entry.body),
        entry.sdk_app_id,
        entry.command,
        entry.phase,
        entry.status.value,
        entry.body,
        entry.client_ip,
        entry.opt_platform,
        entry.received_at,
        due,
        entry.answer,
        1 if claimed else 0,
    )


class SqlInbox:
    """The receiver's inbox over a BatchWriter."""

    def __init__(self, db: BatchWriter) -> None:
        self._db = db
        self._completions: Coalescer[tuple[int, float], None] = Coalescer(
            self._complete_many, in_flight=1
        )
        self._puts: Coalescer[NewInboxEntry, tuple[int, bool]] = Coalescer(self._put_many)

    @property
    def describe(self) -> str:
        """Which database this is, for messages."""
        return self._db.describe

    async def put(self, entry: NewInboxEntry) -> tuple[int, bool]:
        """Store a webhook once; return its id and whether it was new.

        The webhooks stored in one turn of the event loop go in with one INSERT.
        """
        return await self._puts.add(entry)

    async def _put_many(self, entries: list[NewInboxEntry]) -> list[tuple[int, bool]]:
        rows = [_insert_row(e) for e in entries]

        def op(conn: Any) -> list[tuple[int, bool]]:
            # The dedup key: the digest of command and body, and the SdkAppid.
            new: dict[tuple[bytes, int], int] = {}
            for start in range(0, len(rows), _INSERT_CHUNK):
                chunk = rows[start : start + _INSERT_CHUNK]
                values = ", ".join([_ROW_SLOTS] * len(chunk))
                params = [value for row in chunk for value in row]
                for entry_id, digest, app in conn.execute(
                    f"INSERT INTO inbox ({_INSERT_COLUMNS}) VALUES {values}"
                    " ON CONFLICT (digest, sdk_app_id) DO NOTHING"
                    " RETURNING id, digest, sdk_app_id",
                    params,
                ).fetchall():
                    new[bytes(digest), int(app)] = int(entry_id)
            old = list({row[0] for row in rows if (row[0], row[1]) not in new})
            existing: dict[tuple[bytes, int], int] = {}
            for start in range(0, len(old), _INSERT_CHUNK):
                chunk = old[start : start + _INSERT_CHUNK]
                for entry_id, digest, app in conn.execute(
                    "SELECT id, digest, sdk_app_id FROM inbox"
                    f" WHERE digest IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall():
                    existing[bytes(digest), int(app)] = int(entry_id)
            # The first of two equal webhooks in one batch is the new one.
            results: list[tuple[int, bool]] = []
            for row in rows:
                key = (row[0], row[1])
                if key in new:
                    results.append((new.pop(key), True))
                    existing[key] = results[-1][0]
                else:
                    results.append((existing[key], False))
            return results

        return await self._db.run(op, single=True)

    async def claim(self, *, now: float, limit: int, lease: float) -> list[InboxEntry]:
        """Take up to ``limit`` due pending entries for ``lease`` seconds."""

        def op(conn: Any) -> list[InboxEntry]:
            rows = claim_due(
                conn, "inbox", _INBOX_COLUMNS, now=now, limit=limit, lease=lease, stamp="updated_at"
            )
            return [_inbox_entry(r) for r in rows]

        return await self._db.run(op, single=True)

    async def complete(self, entry_id: int, *, now: float) -> None:
        """Mark an entry done (completions made while the previous ones commit share one
        statement)."""
        await self._completions.add((entry_id, now))

    async def _complete_many(self, items: list[tuple[int, float]]) -> list[None]:
        now = max(at for _, at in items)
        ids = [entry_id for entry_id, _ in items]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = (
                "UPDATE inbox SET status = 'done', next_attempt_at = NULL, updated_at = ?"
                f" WHERE id IN ({','.join('?' * len(chunk))})"
            )
            params = (now, *chunk)
            # Each chunk's operation runs (and is awaited) before the next is built.
            await self._db.run(lambda conn: conn.execute(sql, params), single=True)  # noqa: B023
        return [None] * len(items)

    async def fail(self, entry_id: int, error: str, *, retry_at: float | None, now: float) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or dead."""
        status = InboxStatus.PENDING if retry_at is not None else InboxStatus.DEAD
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE inbox SET status = ?, next_attempt_at = ?, last_error = ?, updated_at = ?"
                " WHERE id = ?",
                (status.value, retry_at, error[:2000], now, entry_id),
            )
        )

    async def record_answer(self, entry_id: int, answer: bytes) -> None:
        """Keep a JSON ``answer`` with an entry (the last run's outcome)."""
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE inbox SET answer = ? WHERE id = ?", (answer[:4000], entry_id)
            ),
            single=True,
        )

    async def get(self, entry_id: int) -> InboxEntry | None:
        """One entry by id."""

        def op(conn: Any) -> InboxEntry | None:
            row = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE id = ?", (entry_id,)
            ).fetchone()
            return None if row is None else _inbox_entry(row)

        return await self._db.read(op)

    async def status_counts(self) -> dict[InboxStatus, int]:
        """How many entries are in each status (for metrics and the console)."""

        def op(conn: Any) -> dict[InboxStatus, int]:
            rows = conn.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall()
            counts = dict.fromkeys(InboxStatus, 0)
            counts.update({InboxStatus(status): int(n) for status, n in rows})
            return counts

        return await self._db.run(op)

    async def replay_count(self, where: LogFilter) -> tuple[int, int]:
        """How many entries ``replay_many`` would take, and the newest one's id (0: none)."""
        conditions, params = where.where("received_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE])

        return await self._db.read(lambda conn: count_replayable(conn, "inbox", clause, params))

    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]:
        """Make up to ``limit`` handled after-webhook entries matching ``where`` pending again,
        oldest first, none newer than ``through_id``; return their ids (one statement)."""
        conditions, params = where.where("received_at", self._db.dialect.name)
        clause = " AND ".join([*conditions, _REPLAYABLE])
        reset = {"last_error": None, "updated_at": now}
        return await self._db.run(
            lambda conn: replay_rows(
                conn,
                "inbox",
                clause,
                params,
                through_id=through_id,
                limit=limit,
                now=now,
                reset=reset,
            ),
            single=True,
        )

    async def list(
        self,
        *,
        command: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        where: LogFilter | None = None,
        oldest_first: bool = False,
    ) -> list[InboxEntry]:
        """The newest entries first (or the oldest), filtered by command, status and ``where``."""
        conditions, params = (where or LogFilter()).where("received_at", self._db.dialect.name)
        if command is not None:
            conditions.append("command = ?")
            params.append(command)
        if status is not None:
            conditions.append("status = ?")
            params.append(status.value)
        clause = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        order = "ASC" if oldest_first else "DESC"

        def op(conn: Any) -> list[InboxEntry]:
            rows = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox {clause} ORDER BY id {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [_inbox_entry(r) for r in rows]

        return await self._db.read(op)

    async def replay(self, entry_id: int, *, now: float) -> bool:
        """Make an entry pending again with a fresh attempt count."""

        refusal = (
            f"inbox entry {entry_id} is a before-webhook: it was answered inline and cannot be"
            " replayed"
        )
        reset = {"last_error": None, "updated_at": now}
        return await self._db.run(
            lambda conn: replay_row(conn, "inbox", entry_id, now=now, reset=reset, refusal=refusal)
        )

    async def prune(self, *, before: float) -> int:
        """Delete handled entries (done, answered) received before ``before``; dead ones stay."""
        return await self._db.run(
            lambda conn: (
                conn.execute(
                    "DELETE FROM inbox WHERE status IN ('done', 'answered') AND received_at < ?",
                    (before,),
                ).rowcount
            ),
            single=True,
        )

    async def close(self) -> None:
        """Finish pending writes and close the database."""
        await asyncio.to_thread(self._db.close)
