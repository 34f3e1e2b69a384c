"""Reads on a connection of their own, beside the writer (SQLite in WAL mode).

A read is a function of a connection run in a read-only transaction: every statement of it
sees one committed state, the latest when it began, so a caller reads every write whose future
resolved before it asked. WAL lets it run while the writer writes (SQLite: "Write-Ahead
Logging"), so listings and lookups neither wait behind a batch of writes nor hold one up.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from timhooks.storage.connection import OwnedConnection
from timhooks.storage.dialect import Dialect
from timhooks.storage.queues import STOP, take_batch
from timhooks.storage.sinks import Outcome, Sink, settle

__all__ = ["Reader"]

log = logging.getLogger("timhooks.storage")

_BATCH = 64  # reads taken from the queue at once; each is still a transaction of its own

ReadJob = tuple[Callable[[Any], Any], Sink]


class Reader:
    """One thread with one read-only connection, opened at the first read."""

    def __init__(
        self,
        connect: Callable[[], OwnedConnection],
        dialect: Dialect,
        *,
        name: str,
        map_error: Callable[[Exception], Exception],
    ) -> None:
        self._connect = connect
        self._dialect = dialect
        self._name = name
        self._map_error = map_error
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def put(self, op: Callable[[Any], Any], sink: Sink) -> bool:
        """Queue a read; its outcome goes to ``sink``. False once the reader is closed."""
        with self._lock:
            if self._closed:
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put((op, sink))
        return True

    def close(self) -> None:
        """Finish the queued reads, then close the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is None:
                return
            self._queue.put(STOP)
        if thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        conn: OwnedConnection | None = None
        try:
            while True:
                jobs: list[ReadJob]
                jobs, stopping = take_batch(self._queue, _BATCH)
                outcomes: list[Outcome] = []
                for op, sink in jobs:
                    conn, outcome = self._one(conn, op, sink)
                    outcomes.append(outcome)
                settle(outcomes)
                if stopping:
                    return
        finally:
            if conn is not None:
                with contextlib.suppress(*self._dialect.driver_errors):
                    conn.close()

    def _one(
        self, conn: OwnedConnection | None, op: Callable[[Any], Any], sink: Sink
    ) -> tuple[OwnedConnection | None, Outcome]:
        """Run one read in a transaction of its own, opening the connection if need be."""
        try:
            if conn is None:
                conn = self._connect()
            conn.execute(self._dialect.begin_read)
        except Exception as exc:
            return conn, (sink, False, self._map_error(exc))
        try:
            value = op(conn)
        except Exception as exc:
            ok, value = False, self._map_error(exc)
        else:
            ok = True
        try:
            conn.execute("ROLLBACK")  # a read changed nothing: ending it is all it needs
        except self._dialect.driver_errors:
            log.exception("ending a read failed; the connection is opened again")
            with contextlib.suppress(*self._dialect.driver_errors):
                conn.close()
            conn = None
        return conn, (sink, ok, value)
