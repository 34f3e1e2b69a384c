"""Many callers' small writes, written by one operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Gathers the items added in one turn of the event loop and writes them with one call.

    ``flush`` gets the items and returns one result per item, in order. ``add`` returns its
    item's result once that flush is done (or raises what it raised), so a caller still knows
    its write is committed while many callers share one operation; a caller that is cancelled
    meanwhile does not cancel the flush.

    ``in_flight`` bounds the flushes running at once: items added while that many run wait and
    go together into the next one (for writes nobody waits on, such as attempt records, this
    makes one operation of everything that arrived during a commit). None: no bound.
    """

    def __init__(
        self,
        flush: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        in_flight: int | None = None,
    ) -> None:
        self._flush = flush
        self._limit = in_flight
        self._items: list[Item] = []
        self._futures: list[asyncio.Future[Result]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, item: Item) -> asyncio.Future[Result]:
        """Queue ``item`` for a flush; the future is its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._items.append(item)
        self._futures.append(future)
        if not self._scheduled and (self._limit is None or len(self._running) < self._limit):
            self._scheduled = True
            loop.call_soon(self._start)
        return future

    async def add(self, item: Item) -> Result:
        """Queue ``item`` for a flush and return its result."""
        return await self.submit(item)

    def _start(self) -> None:
        self._scheduled = False
        if not self._items:
            return
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        task = asyncio.ensure_future(self._run(items, futures))
        self._running.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._items and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    async def _run(self, items: list[Item], futures: list[asyncio.Future[Result]]) -> None:
        try:
            results = await self._flush(items)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except BaseException as exc:
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, result in zip(futures, results, strict=True):
            if not future.done():
                future.set_result(result)
