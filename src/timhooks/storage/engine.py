"""The writer both backends share: operations run on worker threads, in transactions.

Every operation is a function of a connection. How they are committed depends on the backend:

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
  group, and the rows under it: see ``timhooks.server.domain``). Those run one transaction at
  a time per key in this writer, and the ones waiting meanwhile share the next transaction,
  each in its own SAVEPOINT: they would queue on the same row lock anyway, and one commit
  then covers them all. A transaction that locks under one key only cannot be part of a lock
  cycle (every transaction locks a key's row before the rows under it). A deadlock,
  serialization failure or lock timeout PostgreSQL still reports rolls the transaction back,
  and the operation runs again alone, a bounded number of times, before its error reaches
  the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from timhooks.protocol.errors import StorageError

__all__ = ["BatchWriter", "Coalescer", "Connection", "Dialect", "for_update", "skip_locked"]

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger("timhooks.storage")

_BATCH = 512
_STOP = object()
_ATTEMPTS = 5  # runs of an operation that meets a transient error (deadlock, serialization)


def _retry_pause(attempt: int) -> float:
    """Seconds to wait before running an operation again after its ``attempt``-th transient
    failure (1-based): 10, 20, 40, 80 ms, so five runs span at most 150 ms of pauses."""
    return 0.01 * 2.0 ** (attempt - 1)


class Cursor(Protocol):
    """The part of a DB-API cursor the storage code uses."""

    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """What an operation gets: ``?`` placeholders on both backends, rows by name or index."""

    dialect: str

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...


Operation = Callable[[Any], Any]
# Where an operation's outcome goes: a thread future, or an asyncio future on its loop.
Sink = Future[Any] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
Queued = tuple[Operation, Sink, bool]


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one backend opens connections, starts transactions and names its errors."""

    name: str
    connect: Callable[[], Any]
    begin: str
    driver_errors: tuple[type[Exception], ...]
    transient_errors: tuple[type[Exception], ...]
    describe: str
    # True: operations that arrive together share one transaction, each in a savepoint (SQLite:
    # one writer, so no row locks and no deadlock). False: an operation is a transaction of its
    # own, except operations of one key (PostgreSQL).
    group_commit: bool
    # True where a failed statement leaves the transaction usable (SQLite), so a one-statement
    # operation needs no savepoint; PostgreSQL aborts the transaction unless a savepoint holds.
    single_is_atomic: bool
    threads: int = 1


def for_update(conn: Connection) -> str:
    """`` FOR UPDATE`` where the backend locks rows (SQLite's writer lock covers it)."""
    return " FOR UPDATE" if conn.dialect == "postgresql" else ""


def skip_locked(conn: Connection) -> str:
    """`` FOR UPDATE SKIP LOCKED`` for claims shared by many processes (PostgreSQL)."""
    return " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""


class BatchWriter:
    """Runs operations on the dialect's connections in worker threads: in batches with group
    commit, else one transaction per operation or per key's waiting operations."""

    def __init__(self, dialect: Dialect, *, setup: Callable[[Any], None] | None = None) -> None:
        self.dialect = dialect
        self.describe = dialect.describe
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()  # group commit
        self._keyed = _KeyedQueue()  # one transaction per operation or key
        self._closed = False
        self._threads: list[threading.Thread] = []
        for n in range(dialect.threads):
            ready: Future[None] = Future()
            thread = threading.Thread(
                target=self._run,
                args=(setup if n == 0 else None, ready),
                name=f"timhooks-{dialect.name}-{n}",
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
        """A driver error as StorageError naming the database; others unchanged."""
        if isinstance(exc, self.dialect.driver_errors):
            return StorageError(f"{self.describe}: {exc}")
        return exc

    def submit(
        self, op: Callable[[Any], T], *, single: bool = False, key: Hashable | None = None
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
            self._put((op, future, single), key)
        return future

    async def run(
        self, op: Callable[[Any], T], *, single: bool = False, key: Hashable | None = None
    ) -> T:
        """Run ``op`` in a committed transaction and return its result (``single`` and
        ``key`` as in ``submit``).

        Every asyncio caller of a batch is settled with one wake-up of its loop.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed:
            raise self._closed_error()
        self._put((op, (loop, future), single), key)
        return await future

    def _put(self, item: Queued, key: Hashable | None) -> None:
        if self.dialect.group_commit:
            self._queue.put(item)
        else:
            self._keyed.put(item, key)

    def close(self) -> None:
        """Finish what is queued, then close the connections."""
        if self._closed:
            return
        self._closed = True
        if self.dialect.group_commit:
            for _ in self._threads:
                self._queue.put(_STOP)
        else:
            self._keyed.stop()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()

    # --- the worker threads -----------------------------------------------------------------

    def _run(self, setup: Callable[[Any], None] | None, ready: Future[None]) -> None:
        conn = None
        try:
            conn = self.dialect.connect()
            if setup is not None:
                setup(conn)
        except Exception as exc:
            if conn is not None:
                with contextlib.suppress(*self.dialect.driver_errors):
                    conn.close()
            mapped = self.map_error(exc)
            if not isinstance(mapped, StorageError):
                mapped = StorageError(f"{self.describe}: {exc}")
            ready.set_exception(mapped)
            return
        ready.set_result(None)
        try:
            if not self.dialect.group_commit:
                self._run_keyed(conn)
                return
            while True:
                batch: list[Queued] = []
                item = self._queue.get()
                stopping = False
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
                if stopping:
                    return
        finally:
            try:
                conn.close()
            except self.dialect.driver_errors:
                log.debug("closing %s failed", self.describe)

    def _run_keyed(self, conn: Any) -> None:
        """Take an operation alone, or the waiting operations of one key, and commit them, until
        the writer closes."""
        while (work := self._keyed.take()) is not None:
            key, batch = work
            try:
                _settle(self._commit(conn, batch))
            finally:
                if key is not None:
                    self._keyed.done(key)

    def _commit(self, conn: Any, batch: list[Queued]) -> list[tuple[Sink, bool, Any]]:
        """Run a batch in one transaction; return each sink with (ok, result or exception)."""
        live = [
            (op, sink, single)
            for op, sink, single in batch
            if not isinstance(sink, Future) or sink.set_running_or_notify_cancel()
        ]
        if len(live) == 1:
            op, sink, _ = live[0]
            return self._transaction(conn, op, sink)
        if not live:
            return []
        errors = self.dialect.driver_errors
        transient = self.dialect.transient_errors
        try:
            conn.execute(self.dialect.begin)
        except errors as exc:
            _rollback(conn, errors)
            error = self.map_error(exc)
            return [(sink, False, error) for _, sink, _ in live]
        results: list[tuple[Sink, bool, Any]] = []
        for op, sink, single in live:
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

    def _each_alone(
        self, conn: Any, live: list[Queued], exc: Exception
    ) -> list[tuple[Sink, bool, Any]]:
        """After a transient error in a shared transaction (rolled back): each operation again,
        in a transaction of its own."""
        log.warning(
            "running %d operations on %s again, each alone, after: %s",
            len(live),
            self.describe,
            str(exc).partition("\n")[0],
        )
        results: list[tuple[Sink, bool, Any]] = []
        for op, sink, _ in live:
            results += self._transaction(conn, op, sink)
        return results

    def _transaction(self, conn: Any, op: Operation, sink: Sink) -> list[tuple[Sink, bool, Any]]:
        """One operation is its own transaction: no savepoint needed. A transient error
        (deadlock, serialization failure) rolls it back, and after a pause it runs again from
        the start, holding no lock meanwhile; after _ATTEMPTS runs the error goes to the caller."""
        errors = self.dialect.driver_errors
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                conn.execute(self.dialect.begin)
                value = op(conn)
                conn.execute("COMMIT")
                return [(sink, True, value)]
            except Exception as exc:
                _rollback(conn, errors)
                if not isinstance(exc, self.dialect.transient_errors):
                    return [(sink, False, self.map_error(exc))]
                first_line = str(exc).partition("\n")[0]
                if attempt == _ATTEMPTS:
                    log.error("an operation on %s failed %d times: %s", self.describe, attempt, exc)
                    error = StorageError(f"{self.describe}: {first_line} ({attempt} runs)")
                    error.__cause__ = exc
                    return [(sink, False, error)]
                log.warning(
                    "running an operation on %s again (run %d of %d) after: %s",
                    self.describe,
                    attempt + 1,
                    _ATTEMPTS,
                    first_line,
                )
                time.sleep(_retry_pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _one(self, conn: Any, op: Operation, bare: bool) -> tuple[bool, Any]:
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


class _KeyedQueue:
    """Operations waiting for a PostgreSQL writer's threads, first come first served.

    An operation without a key is taken alone. The operations of one key are taken together
    (up to _BATCH), and by one thread at a time: while a thread runs a key's transaction, the
    key's new operations wait and go into its next one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # What to take next: (None, an operation) or (a key, None) for a key's waiting ones.
        self._ready: deque[tuple[Hashable | None, Queued | None]] = deque()
        self._waiting: dict[Hashable, list[Queued]] = {}
        self._busy: set[Hashable] = set()
        self._stopping = False

    def put(self, item: Queued, key: Hashable | None) -> None:
        """Queue one operation."""
        with self._cond:
            if key is None:
                self._ready.append((None, item))
            else:
                waiting = self._waiting.setdefault(key, [])
                waiting.append(item)
                # A key is in _ready once while it has waiting operations and no thread runs
                # it; a busy key is put back by done().
                if len(waiting) == 1 and key not in self._busy:
                    self._ready.append((key, None))
            self._cond.notify()

    def take(self) -> tuple[Hashable | None, list[Queued]] | None:
        """The next work: (None, [an operation]) or (a key, its operations); None once the
        queue is stopped and everything queued is done."""
        with self._cond:
            while not self._ready:
                if self._stopping and not self._busy:
                    return None
                self._cond.wait()
            key, item = self._ready.popleft()
            if key is None:
                assert item is not None
                return None, [item]
            waiting = self._waiting.pop(key)
            if len(waiting) > _BATCH:
                self._waiting[key] = waiting[_BATCH:]
                waiting = waiting[:_BATCH]
            self._busy.add(key)
            return key, waiting

    def done(self, key: Hashable) -> None:
        """A thread finished a key's transaction: its next operations may be taken."""
        with self._cond:
            self._busy.discard(key)
            if key in self._waiting:
                self._ready.append((key, None))
            self._cond.notify_all()  # also wakes threads waiting to stop

    def stop(self) -> None:
        """Let the threads end once everything queued is done."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()


def _rollback(conn: Any, errors: tuple[type[Exception], ...]) -> None:
    try:
        conn.execute("ROLLBACK")
    except errors:
        log.debug("rollback failed")


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


class Coalescer(Generic[Item, Result]):
    """Gathers the items added in one turn of the event loop and writes them with one call.

    ``flush`` gets the turn's items and returns one result per item, in order. ``add`` returns
    its item's result once that flush is done (or raises what it raised), so a caller still
    knows its write is committed while many callers share one operation.
    """

    def __init__(self, flush: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._flush = flush
        self._items: list[Item] = []
        self._pending: asyncio.Future[list[Result]] | None = None

    async def add(self, item: Item) -> Result:
        """Queue ``item`` for this turn's flush and return its result."""
        if self._pending is None:
            self._items = []
            self._pending = asyncio.ensure_future(self._run(self._items))
        index = len(self._items)
        self._items.append(item)
        results = await asyncio.shield(self._pending)
        return results[index]

    async def _run(self, items: list[Item]) -> list[Result]:
        await asyncio.sleep(0)  # let this turn's other items join
        self._pending = None
        return await self._flush(items)
