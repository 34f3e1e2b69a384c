"""A claim loop: take due work from storage, run it with bounded concurrency, repeat.

The receiver's inbox worker and the server's outbox dispatcher are both this loop around their
own ``claim`` (``timhooks.workqueue.claims``) and ``process``. ``wake`` skips the poll wait when
new work was just stored.

Claims come in waves: a claim asks for every place free (running slots and, with ``prefetch``,
a queue of claimed work waiting for a slot), and the next claim waits until at least ``wave``
places are free, so one claim statement (one transaction) takes many rows rather than one per
finished item. A slot freed while the next wave is claimed takes waiting work at once, so with
``prefetch`` the slots stay busy meanwhile. At a stop, claimed work that never started is given
back with ``release`` (without one it stays claimed until its lease ends, then is taken again):
nothing claimed is lost either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from timhooks.protocol.errors import StorageError

__all__ = ["ClaimLoop"]

T = TypeVar("T")

log = logging.getLogger("timhooks.workqueue")


class ClaimLoop(Generic[T]):
    """Runs ``process(item)`` for every item ``claim(limit)`` hands out, at most
    ``concurrency`` at once."""

    def __init__(
        self,
        claim: Callable[[int], Awaitable[Sequence[T]]],
        process: Callable[[T], Coroutine[Any, Any, None]],
        *,
        concurrency: int,
        poll_interval: float,
        name: str,
        prefetch: int = 0,
        wave: int = 1,
        release: Callable[[list[T]], Awaitable[None]] | None = None,
    ) -> None:
        self._claim = claim
        self._process = process
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.name = name
        self.prefetch = prefetch
        self.wave = max(1, min(wave, concurrency + prefetch))
        self._release = release
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._room: asyncio.Event | None = None
        self._stopping = False
        self._active: set[asyncio.Task[None]] = set()
        self._waiting: deque[T] = deque()

    @property
    def running(self) -> bool:
        """True between start and stop."""
        return self._task is not None

    def start(self) -> None:
        """Start the loop on the running event loop (idempotent)."""
        if self._task is None:
            self._stopping = False
            self._wake = asyncio.Event()
            self._room = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """New work was stored: claim now instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running work finish for ``grace`` seconds, then cancel it.

        Cancelled work stays claimed until its lease ends and is then taken again; claimed work
        that never started is released.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake()
        if self._room is not None:
            self._room.set()
        try:
            await asyncio.wait_for(task, grace)
        except TimeoutError:
            log.warning("%s: work still running after %.1f s was cancelled", self.name, grace)
        unstarted = list(self._waiting)
        self._waiting.clear()
        if unstarted and self._release is not None:
            try:
                await self._release(unstarted)
            except StorageError as exc:
                log.error(
                    "%s: releasing %d claimed items failed: %s", self.name, len(unstarted), exc
                )

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: processing failed", self.name, exc_info=task.exception())

    def _free(self) -> int:
        """Places a claim may fill now: free slots, and free room in the waiting queue."""
        return self.concurrency + self.prefetch - len(self._active) - len(self._waiting)

    def _start_waiting(self) -> None:
        """Give free slots to claimed work waiting for one."""
        waiting, active = self._waiting, self._active
        while waiting and len(active) < self.concurrency and not self._stopping:
            task = asyncio.create_task(self._process(waiting.popleft()))
            active.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        self._report(task)
        self._start_waiting()
        if self._room is not None and self._free() >= self.wave:
            self._room.set()

    async def _run(self) -> None:
        wake = self._wake if self._wake is not None else asyncio.Event()
        room = self._room if self._room is not None else asyncio.Event()
        try:
            while not self._stopping:
                free = self._free()
                if free < self.wave:
                    room.clear()
                    await room.wait()
                    continue
                wake.clear()
                try:
                    items = await self._claim(free)
                except StorageError as exc:
                    log.error("%s: claiming work failed: %s", self.name, exc)
                    items = []
                self._waiting.extend(items)
                self._start_waiting()
                if not items:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_interval)
            if self._active:
                await asyncio.wait(self._active)
        except asyncio.CancelledError:
            for task in self._active:
                task.cancel()
            raise
