"""A claim loop: take due work from storage, run it with bounded concurrency, repeat.

The receiver's inbox worker and the server's outbox dispatcher are both this loop around their
own ``claim`` (``timhooks.workqueue.claims``) and ``process``. Work is claimed only when a slot
is free, so a stop never leaves claimed-but-unstarted work behind; ``wake`` skips the poll wait
when new work was just stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from timhooks.protocol.errors import StorageError

__all__ = ["ClaimLoop"]

T = TypeVar("T")

log = logging.getLogger("timhooks.workqueue")


class ClaimLoop(Generic[T]):
    """Runs ``process(item)`` for every item ``claim(limit)`` hands out."""

    def __init__(
        self,
        claim: Callable[[int], Awaitable[Sequence[T]]],
        process: Callable[[T], Coroutine[Any, Any, None]],
        *,
        concurrency: int,
        poll_interval: float,
        name: str,
    ) -> None:
        self._claim = claim
        self._process = process
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """True between start and stop."""
        return self._task is not None

    def start(self) -> None:
        """Start the loop on the running event loop (idempotent)."""
        if self._task is None:
            self._stopping = False
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """New work was stored: claim now instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running work finish for ``grace`` seconds, then cancel it.

        Cancelled work stays claimed until its lease ends and is then taken again.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(task, grace)
        except TimeoutError:
            log.warning("%s: work still running after %.1f s was cancelled", self.name, grace)

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: processing failed", self.name, exc_info=task.exception())

    async def _run(self) -> None:
        active: set[asyncio.Task[None]] = set()
        wake = self._wake if self._wake is not None else asyncio.Event()
        try:
            while not self._stopping:
                free = self.concurrency - len(active)
                if free <= 0:
                    await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                    continue
                wake.clear()
                try:
                    items = await self._claim(free)
                except StorageError as exc:
                    log.error("%s: claiming work failed: %s", self.name, exc)
                    items = []
                for item in items:
                    task = asyncio.create_task(self._process(item))
                    active.add(task)
                    task.add_done_callback(active.discard)
                    task.add_done_callback(self._report)
                if not items:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_interval)
            if active:
                await asyncio.wait(active)
        except asyncio.CancelledError:
            for task in active:
                task.cancel()
            raise
