"""SQLite, the embedded default: one writer thread with group commit.

Every operation is a function of a ``sqlite3.Connection`` run on the writer thread. Operations
that arrive while a transaction is being written are batched into the next one, each inside its
own SAVEPOINT, so one fsync makes many writes durable and one failing operation rolls back alone.
WAL mode with ``synchronous=FULL``: a write is on disk when its future resolves.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from timhooks.protocol.errors import ConfigError, StorageError
from timhooks.storage.base import InboxEntry, InboxStatus, NewInboxEntry, webhook_digest

__all__ = ["SQLiteInbox", "SQLiteWriter"]

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("timhooks.storage")

_BATCH = 512
_STOP = object()


def storage_error(exc: sqlite3.Error, path: str) -> StorageError:
    """A StorageError that says what SQLite said and which file it was."""
    return StorageError(f"SQLite database {path}: {exc}")


class SQLiteWriter:
    """Runs operations on one SQLite connection in a thread, committing them in batches."""

    def __init__(
        self,
        path: str | Path,
        *,
        schema: str = "",
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = str(path)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise StorageError(f"unknown SQLite synchronous mode {synchronous!r}")
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run,
            args=(schema, synchronous.upper(), busy_timeout_ms, ready),
            name=f"timhooks-sqlite:{Path(self.path).name}",
            daemon=True,
        )
        self._closed = False
        self._thread.start()
        ready.result()

    def _closed_error(self) -> StorageError:
        return StorageError(f"SQLite database {self.path} is closed")

    def submit(self, op: Callable[[sqlite3.Connection], T], *, single: bool = False) -> Future[T]:
        """Queue ``op`` for the next transaction; the future resolves once it is committed.

        ``single``: the op runs one statement, which SQLite makes atomic without a savepoint.
        """
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(self._closed_error())
        else:
            self._queue.put((op, future, single))
        return future

    async def run(self, op: Callable[[sqlite3.Connection], T], *, single: bool = False) -> T:
        """Run ``op`` in a committed transaction and return its result.

        The writer settles every asyncio caller of a batch with one wake-up of their loop.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed:
            raise self._closed_error()
        self._queue.put((op, (loop, future), single))
        return await future

    def call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Blocking form of ``run`` for synchronous callers."""
        return self.submit(op).result()

    def close(self) -> None:
        """Finish what is queued, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    # --- the writer thread ------------------------------------------------------------------

    def _connect(self, schema: str, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        if schema:
            conn.executescript(f"BEGIN IMMEDIATE;\n{schema}\nCOMMIT;")
        return conn

    def _run(
        self, schema: str, synchronous: str, busy_timeout_ms: int, ready: Future[None]
    ) -> None:
        try:
            conn = self._connect(schema, synchronous, busy_timeout_ms)
        except sqlite3.Error as exc:
            self._closed = True
            ready.set_exception(storage_error(exc, self.path))
            return
        ready.set_result(None)
        stopping = False
        while not stopping:
            batch: list[tuple[Operation, Sink, bool]] = []
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                _settle(self._commit(conn, batch))
        conn.close()

    def _commit(
        self, conn: sqlite3.Connection, batch: list[tuple[Operation, Sink, bool]]
    ) -> list[tuple[Sink, bool, Any]]:
        """Run a batch in one transaction; return each sink with (ok, result or exception)."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = storage_error(exc, self.path)
            return [(sink, False, error) for _, sink, _ in batch]
        results: list[tuple[Sink, bool, Any]] = []
        for op, sink, single in batch:
            if isinstance(sink, Future) and not sink.set_running_or_notify_cancel():
                continue
            try:
                if single:
                    value = op(conn)
                else:
                    conn.execute("SAVEPOINT op")
                    value = op(conn)
                    conn.execute("RELEASE op")
                results.append((sink, True, value))
            except Exception as exc:  # the op's own error goes to its caller, the rest commit
                if not single:
                    try:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                    except sqlite3.Error:
                        log.exception("rolling back a failed operation on %s", self.path)
                mapped = storage_error(exc, self.path) if isinstance(exc, sqlite3.Error) else exc
                results.append((sink, False, mapped))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.debug("rollback after a failed commit on %s also failed", self.path)
            error = storage_error(exc, self.path)
            return [(sink, False, error if ok else value) for sink, ok, value in results]
        return results


# Where an operation's outcome goes: a thread future, or an asyncio future on its loop.
Sink = Future[Any] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(results: list[tuple[Sink, bool, Any]]) -> None:
    """Hand out a batch's outcomes: thread futures directly, asyncio ones once per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for sink, ok, value in results:
        if isinstance(sink, Future):
            if ok:
                sink.set_result(value)
            else:
                sink.set_exception(value)
        else:
            loop, future = sink
            by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, outcomes in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_async, outcomes)
        except RuntimeError:
            log.debug("an event loop closed before its database results arrived")


def _settle_async(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


_INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE,
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
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS inbox_command ON inbox (command, id);
"""

_INBOX_COLUMNS = (
    "id, sdk_app_id, command, phase, status, body, client_ip, opt_platform, received_at, "
    "attempts, next_attempt_at, last_error, answer"
)


def _inbox_entry(row: sqlite3.Row) -> InboxEntry:
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


class SQLiteInbox:
    """The receiver's inbox in one SQLite file."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self._db = SQLiteWriter(path, schema=_INBOX_SCHEMA, synchronous=synchronous)

    @property
    def path(self) -> str:
        """The database file."""
        return self._db.path

    async def put(self, entry: NewInboxEntry) -> tuple[int, bool]:
        """Store a webhook once; return its id and whether it was new."""
        digest = webhook_digest(entry.command, entry.body)
        pending = entry.status is InboxStatus.PENDING

        def op(conn: sqlite3.Connection) -> tuple[int, bool]:
            row = conn.execute(
                "INSERT INTO inbox (digest, sdk_app_id, command, phase, status, body, client_ip,"
                " opt_platform, received_at, next_attempt_at, answer)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (digest) DO NOTHING RETURNING id",
                (
                    digest,
                    entry.sdk_app_id,
                    entry.command,
                    entry.phase,
                    entry.status.value,
                    entry.body,
                    entry.client_ip,
                    entry.opt_platform,
                    entry.received_at,
                    entry.received_at if pending else None,
                    entry.answer,
                ),
            ).fetchone()
            if row is not None:
                return int(row[0]), True
            existing = conn.execute("SELECT id FROM inbox WHERE digest = ?", (digest,)).fetchone()
            return int(existing[0]), False

        return await self._db.run(op, single=True)

    async def claim(self, *, now: float, limit: int, lease: float) -> list[InboxEntry]:
        """Take up to ``limit`` due pending entries for ``lease`` seconds."""

        def op(conn: sqlite3.Connection) -> list[InboxEntry]:
            rows = conn.execute(
                f"UPDATE inbox SET next_attempt_at = ?, attempts = attempts + 1, updated_at = ?"
                f" WHERE id IN (SELECT id FROM inbox WHERE status = 'pending'"
                f" AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?)"
                f" RETURNING {_INBOX_COLUMNS}",
                (now + lease, now, now, limit),
            ).fetchall()
            return sorted((_inbox_entry(r) for r in rows), key=lambda e: e.id)

        return await self._db.run(op, single=True)

    async def complete(self, entry_id: int, *, now: float) -> None:
        """Mark an entry done."""
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE inbox SET status = 'done', next_attempt_at = NULL, updated_at = ?"
                " WHERE id = ?",
                (now, entry_id),
            ),
            single=True,
        )

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

    async def get(self, entry_id: int) -> InboxEntry | None:
        """One entry by id."""

        def op(conn: sqlite3.Connection) -> InboxEntry | None:
            row = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE id = ?", (entry_id,)
            ).fetchone()
            return None if row is None else _inbox_entry(row)

        return await self._db.run(op)

    async def list(
        self,
        *,
        command: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
    ) -> list[InboxEntry]:
        """The newest entries first, filtered by command and status."""
        where, params = [], []
        if command is not None:
            where.append("command = ?")
            params.append(command)
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""

        def op(conn: sqlite3.Connection) -> list[InboxEntry]:
            rows = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox {clause} ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            return [_inbox_entry(r) for r in rows]

        return await self._db.run(op)

    async def replay(self, entry_id: int, *, now: float) -> bool:
        """Make an entry pending again with a fresh attempt count."""

        def op(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT phase FROM inbox WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return False
            if row[0] == "before":
                raise ConfigError(
                    f"inbox entry {entry_id} is a before-webhook: it was answered inline and"
                    " cannot be replayed"
                )
            cur = conn.execute(
                "UPDATE inbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                " last_error = NULL, updated_at = ? WHERE id = ?",
                (now, now, entry_id),
            )
            return cur.rowcount > 0

        return await self._db.run(op)

    async def close(self) -> None:
        """Finish pending writes and close the file."""
        await asyncio.to_thread(self._db.close)
