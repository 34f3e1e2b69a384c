"""The writer both backends share: operations run on worker threads, in transactions.

Every operation is a function of a connection (``timhooks.storage.connection``); what differs
between the backends is their ``Dialect``. How operations are committed depends on it:

- SQLite (group commit): one worker thread, the only writer. Operations that arrive while a
  transaction is being written are batched into the next one, each inside its own SAVEPOINT,
  so one commit (one fsync) makes many writes durable and one failing operation rolls back
  alone. One writer takes no row locks, so a batch cannot deadlock.
- PostgreSQL: several worker threads, each with its own connection (the pool). An operation
  is a transaction of its own; PostgreSQL merges the WAL flushes of concurrent commits
  itself. Operations of unrelated callers are never put in one transaction: their row locks
  would be taken in request order and could form a cycle (two batches locking two groups in
  opposite orders). The one exception is operations given the same ``key``: the caller
  vouches that such an operation locks only the rows of its key (one Official Account or
  group, and the rows under it: see ``timhooks.server.sql``). Those run one transaction at
  a time per key in this writer, and the ones waiting meanwhile share the next transaction,
  each in its own SAVEPOINT: they would queue on the same row lock anyway, and one commit
  then covers them all. A transaction that locks under one key only cannot be part of a lock
  cycle (every transaction locks a key's row before the rows under it). A deadlock,
  serialization failure or lock timeout PostgreSQL still reports rolls the transaction back,
  and the operation runs again alone, a bounded number of times, before its error reaches
  the caller.

Reads (``BatchWriter.read``) run in read-only transactions: on SQLite on a connection of their
own beside the writer (``timhooks.storage.reader``), on PostgreSQL on the pool's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from timhooks.protocol.errors import StorageError
from timhooks.storage.coalescer import Coalescer
from timhooks.storage.connection import Connection, OwnedConnection, for_update, skip_locked
from timhooks.storage.dialect import Dialect
from timhooks.storage.queues import STOP, KeyedQueue, take_batch
from timhooks.storage.reader import Reader
from timhooks.storage.sinks import Outcome, Sink, settle

__all__ = [
    "BatchWriter",
    "Coalescer",
    "Connection",
    "Database",
    "Dialect",
    "for_update",
    "skip_locked",
]

T = TypeVar("T")

log = logging.getLogger("timhooks.storage")

_BATCH = 512
_ATTEMPTS = 5  # runs of an operation that meets a transient error (deadlock, serialization)


def _retry_pause(attempt: int) -> float:
    """Seconds to wait before running an operation again after its ``attempt``-th transient
    failure (1-based): 10, 20, 40, 80 ms, so five runs span at most 150 ms of pauses."""
    return 0.01 * 2.0 ** (attempt - 1)


@dataclass(frozen=True, slots=True)
class Database:
    """One database to open: its dialect, how to connect, and how to name it in messages."""

    dialect: Dialect
    connect: Callable[[], OwnedConnection]
    describe: str
    threads: int = 1  # the writer's connections (PostgreSQL's pool)
    # A connection for reads only, beside the writer's (SQLite in WAL mode); None: reads run
    # on the writer's connections (PostgreSQL's pool, a SQLite database in memory).
    connect_reader: Callable[[], OwnedConnection] | None = None


class Job(NamedTuple):
    """An operation waiting for a transaction."""

    op: Callable[[Any], Any]
    sink: Sink
    single: bool  # it writes with one statement (see BatchWriter.submit)
    read: bool  # it only reads: a read-only transaction where it runs alone


class BatchWriter:
    """Runs operations on the database's connections in worker threads: in batches with group
    commit, else one transaction per operation or per key's waiting operations; and reads."""

    def __init__(
        self, database: Database, *, setup: Callable[[Connection], None] | None = None
    ) -> None:
        self.database = database
        self.dialect = database.dialect
        self.describe = database.describe
        self._queue: queue.SimpleQueue[Job | object] = queue.SimpleQueue()  # group commit
        self._keyed: KeyedQueue[Job] = KeyedQueue(_BATCH)  # one transaction per op or key
        self._reader = (
            None
            if database.connect_reader is None
            else Reader(
                database.connect_reader,
                self.dialect,
                name=f"timhooks-{self.dialect.name}-reader",
                map_error=self.map_error,
            )
        )
        self._closed = False
        self._threads: list[threading.Thread] = []
        for n in range(database.threads):
            ready: Future[None] = Future()
            thread = threading.Thread(
                target=self._run,
                args=(setup if n == 0 else None, ready),
                name=f"timhooks-{self.dialect.name}-{n}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            try:
                ready.result()
            except StorageError:
                self.close()
                raise

    def _closed_error(self) -> StorageError:
        return StorageError(f"{self.describe} is closed")

    def map_error(self, exc: Exception) -> Exception:
        """A driver error as StorageError naming the database, the driver's error as its
        ``__cause__`` (as ``raise ... from exc`` would set it); others unchanged."""
        if isinstance(exc, self.dialect.driver_errors):
            return _caused(StorageError(f"{self.describe}: {exc}"), exc)
        return exc

    def submit(
        self, op: Callable[[Connection], T], *, single: bool = False, key: Hashable | None = None
    ) -> Future[T]:
        """Queue ``op`` for the next transaction; the future resolves once it is committed.

        ``single``: the op writes with one statement (where a failed statement leaves the
        transaction usable, it then needs no savepoint of its own). ``key``: the op locks only
        the rows of this key, so it may share a transaction with others of the same key.
        """
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(self._closed_error())
        else:
            self._put(Job(op, future, single, False), key)
        return future

    async def run(
        self, op: Callable[[Connection], T], *, single: bool = False, key: Hashable | None = None
    ) -> T:
        """Run ``op`` in a committed transaction and return its result (``single`` and
        ``key`` as in ``submit``).

        Every asyncio caller of a batch is settled with one wake-up of its loop.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed:
            raise self._closed_error()
        self._put(Job(op, (loop, future), single, False), key)
        return await future

    async def read(self, op: Callable[[Connection], T]) -> T:
        """Run ``op``, which only reads, in a read-only transaction and return its result.

        It sees every write whose future resolved before the call. On SQLite it runs on a
        reader connection of its own, beside the writer (WAL); on PostgreSQL on the pool's
        connections. A write inside ``op`` is an error (except on a SQLite database in memory,
        whose reads share the writer's transactions).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed:
            raise self._closed_error()
        if self._reader is None:
            self._put(Job(op, (loop, future), False, True), None)
        elif not self._reader.put(op, (loop, future)):
            raise self._closed_error()
        return await future

    def _put(self, job: Job, key: Hashable | None) -> None:
        if self.dialect.group_commit:
            self._queue.put(job)
        else:
            self._keyed.put(job, key)

    def close(self) -> None:
        """Finish what is queued, then close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.close()
        if self.dialect.group_commit:
            for _ in self._threads:
                self._queue.put(STOP)
        else:
            self._keyed.stop()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    # --- the worker threads -----------------------------------------------------------------

    def _run(self, setup: Callable[[Connection], None] | None, ready: Future[None]) -> None:
        conn = None
        try:
            conn = self.database.connect()
            if setup is not None:
                setup(conn)
        except Exception as exc:
            if conn is not None:
                with contextlib.suppress(*self.dialect.driver_errors):
                    conn.close()
            mapped = self.map_error(exc)
            if not isinstance(mapped, StorageError):
                mapped = _caused(StorageError(f"{self.describe}: {exc}"), exc)
            ready.set_exception(mapped)
            return
        ready.set_result(None)
        try:
            if not self.dialect.group_commit:
                self._run_keyed(conn)
                return
            while True:
                batch, stopping = take_batch(self._queue, _BATCH)
                if batch:
                    settle(self._commit(conn, batch))
                if stopping:
                    return
        finally:
            try:
                conn.close()
            except self.dialect.driver_errors:
                log.debug("closing %s failed", self.describe)

    def _run_keyed(self, conn: OwnedConnection) -> None:
        """Take an operation alone, or the waiting operations of one key, and commit them, until
        the writer closes."""
        while (work := self._keyed.take()) is not None:
            key, batch = work
            try:
                settle(self._commit(conn, batch))
            finally:
                if key is not None:
                    self._keyed.done(key)

    def _commit(self, conn: Connection, batch: list[Job]) -> list[Outcome]:
        """Run a batch in one transaction; return each sink with (ok, result or exception)."""
        live = [
            job
            for job in batch
            if not isinstance(job.sink, Future) or job.sink.set_running_or_notify_cancel()
        ]
        if len(live) == 1:
            return self._transaction(conn, live[0])
        if not live:
            return []
        errors = self.dialect.driver_errors
        transient = self.dialect.transient_errors
        try:
            conn.execute(self.dialect.begin)
        except errors as exc:
            _rollback(conn, errors)
            error = self.map_error(exc)
            return [(job.sink, False, error) for job in live]
        results: list[Outcome] = []
        for op, sink, single, _ in live:
            ok, value = self._one(conn, op, single and self.dialect.single_is_atomic)
            if not ok and isinstance(value, transient):
                _rollback(conn, errors)
                return self._each_alone(conn, live, value)
            results.append((sink, ok, value if ok else self.map_error(value)))
        try:
            conn.execute("COMMIT")
        except errors as exc:
            _rollback(conn, errors)
            if isinstance(exc, transient):
                return self._each_alone(conn, live, exc)
            error = self.map_error(exc)
            return [(sink, False, error if ok else value) for sink, ok, value in results]
        return results

    def _each_alone(self, conn: Connection, live: list[Job], exc: Exception) -> list[Outcome]:
        """After a transient error in a shared transaction (rolled back): each operation again,
        in a transaction of its own."""
        log.warning(
            "running %d operations on %s again, each alone, after: %s",
            len(live),
            self.describe,
            str(exc).partition("\n")[0],
        )
        results: list[Outcome] = []
        for job in live:
            results += self._transaction(conn, job)
        return results

    def _transaction(self, conn: Connection, job: Job) -> list[Outcome]:
        """One operation is its own transaction: no savepoint needed. A transient error
        (deadlock, serialization failure) rolls it back, and after a pause it runs again from
        the start, holding no lock meanwhile; after _ATTEMPTS runs the error goes to the caller."""
        errors = self.dialect.driver_errors
        begin = self.dialect.begin_read if job.read else self.dialect.begin
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                conn.execute(begin)
                value = job.op(conn)
                conn.execute("COMMIT")
                return [(job.sink, True, value)]
            except Exception as exc:
                _rollback(conn, errors)
                if not isinstance(exc, self.dialect.transient_errors):
                    return [(job.sink, False, self.map_error(exc))]
                first_line = str(exc).partition("\n")[0]
                if attempt == _ATTEMPTS:
                    log.error("an operation on %s failed %d times: %s", self.describe, attempt, exc)
                    error = StorageError(f"{self.describe}: {first_line} ({attempt} runs)")
                    return [(job.sink, False, _caused(error, exc))]
                log.warning(
                    "running an operation on %s again (run %d of %d) after: %s",
                    self.describe,
                    attempt + 1,
                    _ATTEMPTS,
                    first_line,
                )
                time.sleep(_retry_pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _one(self, conn: Connection, op: Callable[[Any], Any], bare: bool) -> tuple[bool, Any]:
        """Run one operation of a shared transaction, in its own savepoint unless ``bare``;
        (True, its result) or (False, the exception it raised).

        Not retried here: a savepoint run again inside the transaction would keep the locks of
        the operations before it (the caller runs each operation again alone instead).
        """
        try:
            if bare:
                return True, op(conn)
            conn.execute("SAVEPOINT op")
            value = op(conn)
            conn.execute("RELEASE SAVEPOINT op")
            return True, value
        except Exception as exc:  # the op's own error goes to its caller, the rest commit
            if not bare:
                try:
                    conn.execute("ROLLBACK TO SAVEPOINT op")
                    conn.execute("RELEASE SAVEPOINT op")
                except self.dialect.driver_errors:
                    log.exception("rolling back a failed operation on %s", self.describe)
            return False, exc


def _caused(error: StorageError, cause: BaseException) -> StorageError:
    """``error`` with ``cause`` attached as ``raise error from cause`` does."""
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _rollback(conn: Connection, errors: tuple[type[Exception], ...]) -> None:
    try:
        conn.execute("ROLLBACK")
    except errors:
        log.debug("rollback failed")
