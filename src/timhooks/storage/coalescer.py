"""Many callers' small writes of one event-loop turn, written by one operation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

Item = TypeVar("Item")
Result = TypeVar("Result")


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
