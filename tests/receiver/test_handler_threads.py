"""HandlerThreads: a set number of threads, a hung call's thread replaced up to a limit."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable

import pytest
from receiver_support import eventually

from timhooks.protocol import ConfigError
from timhooks.receiver.threads import HandlerThreads

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


class Blocker:
    """A plain function that says when it started and blocks until released."""

    def __init__(self, result: str) -> None:
        self.result = result
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        self.release.wait()
        return self.result


def when(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    """``check`` as the coroutine function ``eventually`` polls."""

    async def wrapped() -> bool:
        return check()

    return wrapped


async def test_results_exceptions_and_context_come_back() -> None:
    """A call returns its function's result or raises its exception, with the caller's
    context variables visible in the thread."""
    pool = HandlerThreads(2, name="t")

    def boom() -> None:
        raise ValueError("bad")

    try:
        who.set("caller")
        assert await pool.run(lambda a, b: a + b, 2, 3) == 5
        assert await pool.run(who.get) == "caller"
        with pytest.raises(ValueError, match="bad"):
            await pool.run(boom)
    finally:
        pool.shutdown()


async def test_at_most_size_calls_run_at_once() -> None:
    """With two threads the third call waits until one of the first two returns."""
    pool = HandlerThreads(2, name="t")
    calls = [Blocker(f"r{n}") for n in range(3)]
    tasks = [asyncio.ensure_future(pool.run(c)) for c in calls]
    try:
        await eventually(when(lambda: calls[0].started.is_set() and calls[1].started.is_set()))
        assert pool.threads == 2
        assert not calls[2].started.is_set()
        calls[0].release.set()
        assert await tasks[0] == "r0"
        await eventually(when(calls[2].started.is_set))
        calls[1].release.set()
        calls[2].release.set()
        assert await asyncio.gather(*tasks[1:]) == ["r1", "r2"]
    finally:
        for c in calls:
            c.release.set()
        pool.shutdown()


async def test_a_call_given_up_before_it_started_never_runs() -> None:
    """Cancelling a call still waiting for a thread drops it."""
    pool = HandlerThreads(1, name="t")
    first, second = Blocker("a"), Blocker("b")
    running = asyncio.ensure_future(pool.run(first))
    waiting = asyncio.ensure_future(pool.run(second))
    try:
        await eventually(when(first.started.is_set))
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        first.release.set()
        assert await running == "a"
        assert await pool.run(lambda: "next") == "next"
        assert not second.started.is_set()
        assert pool.stuck == 0
    finally:
        first.release.set()
        second.release.set()
        pool.shutdown()


async def test_stuck_threads_are_replaced_up_to_the_pool_size(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call given up while running leaves its thread stuck and a new thread takes its place;
    once as many threads are stuck as the pool has, none is replaced and new calls wait (an
    error says so); a stuck thread that returns takes work again."""
    pool = HandlerThreads(1, name="t")
    a, b, c = Blocker("a"), Blocker("b"), Blocker("c")
    try:
        with caplog.at_level(logging.INFO, logger="timhooks.receiver"):
            first = asyncio.ensure_future(pool.run(a))
            await eventually(when(a.started.is_set))
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            assert (pool.stuck, pool.threads) == (1, 0)

            second = asyncio.ensure_future(pool.run(b))  # runs in a new thread
            await eventually(when(b.started.is_set))
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second
            assert (pool.stuck, pool.threads) == (2, 0)
            assert any(r.levelno == logging.ERROR for r in caplog.records)

            third = asyncio.ensure_future(pool.run(c))  # no thread for it: two are stuck
            for _ in range(20):
                await asyncio.sleep(0)
            assert pool.threads == 0
            assert not c.started.is_set()

            a.release.set()  # the stuck thread returns, rejoins the pool and takes c
            await eventually(when(c.started.is_set))
            c.release.set()
            assert await third == "c"
            assert (pool.stuck, pool.threads) == (1, 1)

            b.release.set()  # the pool has its one thread: this one ends
            await eventually(when(lambda: pool.stuck == 0))
            assert pool.threads == 1
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("still running" in m and "new thread takes its place" in m for m in warned)
        assert any("returned" in r.getMessage() for r in caplog.records)
    finally:
        for blocker in (a, b, c):
            blocker.release.set()
        pool.shutdown()


def test_a_pool_needs_a_thread() -> None:
    """Zero threads is a configuration error."""
    with pytest.raises(ConfigError):
        HandlerThreads(0, name="t")
