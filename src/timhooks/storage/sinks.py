"""Where an operation's outcome goes, and handing a batch's outcomes out.

A caller waits on a thread future (``BatchWriter.submit``) or on an asyncio future of its own
loop (``run``, ``read``). A batch's asyncio outcomes are settled with one wake-up per loop.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any

__all__ = ["Outcome", "Sink", "settle"]

log = logging.getLogger("timhooks.storage")

# A thread future, or an asyncio future with its loop.
Sink = Future[Any] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
# A sink, whether its operation succeeded, and its result or exception.
Outcome = tuple[Sink, bool, Any]


def settle(outcomes: list[Outcome]) -> None:
    """Hand out outcomes: thread futures directly, asyncio ones once per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for sink, ok, value in outcomes:
        if isinstance(sink, Future):
            if ok:
                sink.set_result(value)
            else:
                sink.set_exception(value)
        else:
            loop, future = sink
            by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, waiting in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_async, waiting)
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
