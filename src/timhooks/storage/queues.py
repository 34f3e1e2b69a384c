"""The queues of the storage threads: a batch from a plain queue, and the keyed queue of a
PostgreSQL writer (one operation alone, or one key's together).

See ``timhooks.storage.engine`` for why operations of one key may share a transaction.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

__all__ = ["STOP", "KeyedQueue", "take_batch"]

Job = TypeVar("Job")

STOP = object()  # put in a plain queue: the thread taking from it ends after what came before


def take_batch(waiting: queue.SimpleQueue[Any], limit: int) -> tuple[list[Any], bool]:
    """Wait for the next item, then take what else is queued, up to ``limit`` items; and
    whether ``STOP`` came (the items before it are taken, nothing after it)."""
    batch: list[Any] = []
    item = waiting.get()
    while item is not STOP:
        batch.append(item)
        if len(batch) >= limit:
            return batch, False
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            return batch, False
    return batch, True


class KeyedQueue(Generic[Job]):
    """Jobs waiting for a writer's threads, first come first served.

    A job without a key is taken alone. The jobs of one key are taken together (up to
    ``batch``), and by one thread at a time: while a thread runs a key's transaction, the key's
    new jobs wait and go into its next one.
    """

    def __init__(self, batch: int) -> None:
        self._batch = batch
        self._cond = threading.Condition()
        # What to take next: (None, a job) or (a key, None) for a key's waiting jobs.
        self._ready: deque[tuple[Hashable | None, Job | None]] = deque()
        self._waiting: dict[Hashable, list[Job]] = {}
        self._busy: set[Hashable] = set()
        self._stopping = False

    def put(self, job: Job, key: Hashable | None) -> None:
        """Queue one job."""
        with self._cond:
            if key is None:
                self._ready.append((None, job))
            else:
                waiting = self._waiting.setdefault(key, [])
                waiting.append(job)
                # A key is in _ready once while it has waiting jobs and no thread runs it; a
                # busy key is put back by done().
                if len(waiting) == 1 and key not in self._busy:
                    self._ready.append((key, None))
            self._cond.notify()

    def take(self) -> tuple[Hashable | None, list[Job]] | None:
        """The next work: (None, [a job]) or (a key, its jobs); None once the queue is stopped
        and everything queued is done."""
        with self._cond:
            while not self._ready:
                if self._stopping and not self._busy:
                    return None
                self._cond.wait()
            key, job = self._ready.popleft()
            if key is None:
                assert job is not None
                return None, [job]
            waiting = self._waiting.pop(key)
            if len(waiting) > self._batch:
                self._waiting[key] = waiting[self._batch :]
                waiting = waiting[: self._batch]
            self._busy.add(key)
            return key, waiting

    def done(self, key: Hashable) -> None:
        """A thread finished a key's transaction: its next jobs may be taken."""
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
