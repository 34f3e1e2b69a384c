"""Threads for plain-function handlers: a set number of them, and a hung one replaced.

The receiver runs before-handlers and after-handlers in two pools of their own, so a slow
after-handler never holds a thread a before-webhook needs (a before-webhook must be answered
within Tencent's 2 s: "Webhook Overview", https://trtc.io/document/34354).

A Python thread cannot be stopped from outside. When the caller of ``run`` gives up (its time
limit passed, or it was cancelled), the call is left to finish in its thread, which stops
counting as one of the pool's threads: a new thread takes its place, so a hung handler costs a
thread, not capacity. The pool has at most ``2 * size`` threads in all: up to ``size`` stuck
threads are replaced; past that the pool runs with fewer threads until stuck ones return (and
says so in the log). A stuck thread that returns rejoins the pool if the pool is short of
threads, and ends otherwise. Threads are daemons: one that never returns does not keep the
process from exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from timhooks.protocol.errors import ConfigError

__all__ = ["HandlerThreads"]

log = logging.getLogger("timhooks.receiver")


class _State(enum.Enum):
    QUEUED = enum.auto()
    RUNNING = enum.auto()
    DONE = enum.auto()
    ABANDONED = enum.auto()  # running, but its caller gave up
    CANCELLED = enum.auto()  # its caller gave up before it started


class _Job:
    __slots__ = ("args", "context", "func", "future", "loop", "started", "state")

    def __init__(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.func = func
        self.args = args
        self.context = contextvars.copy_context()  # as asyncio.to_thread does
        self.loop = loop
        self.future = future
        self.state = _State.QUEUED
        self.started = 0.0


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _name_of(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


class HandlerThreads:
    """``size`` threads that run plain functions for coroutines; a hung one is replaced."""

    def __init__(self, size: int, *, name: str) -> None:
        if size < 1:
            raise ConfigError(f"{name} needs at least one thread")
        self.size = size
        self.name = name
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._jobs: deque[_Job] = deque()
        self._serving = 0  # the pool's threads: running a job, waiting for one, or starting
        self._starting = 0  # of those, started but not yet looking for a job
        self._idle = 0  # of those, waiting for a job
        self._stuck = 0  # threads whose caller gave up on their job, still running it
        self._closing = False
        self._started = 0

    @property
    def stuck(self) -> int:
        """Threads still running a call whose caller gave up on it."""
        return self._stuck

    @property
    def threads(self) -> int:
        """Threads that count as the pool's (at most ``size``)."""
        return self._serving

    async def run(self, func: Callable[..., Any], /, *args: Any) -> Any:
        """``func(*args)`` in one of the pool's threads; its result, or what it raised.

        If the caller is cancelled (a time limit), the call is abandoned: dropped if it has not
        started, else left to finish in a thread that no longer counts as the pool's.
        """
        loop = asyncio.get_running_loop()
        job = _Job(func, args, loop, loop.create_future())
        with self._lock:
            self._closing = False
            self._jobs.append(job)
            self._grow()
            self._ready.notify()
        try:
            return await job.future
        except asyncio.CancelledError:
            self._abandon(job)
            raise

    def shutdown(self) -> None:
        """Let idle threads end (stuck ones end when they return); ``run`` starts new ones."""
        with self._lock:
            self._closing = True
            self._ready.notify_all()

    # --- inside the lock --------------------------------------------------------------------

    def _grow(self) -> None:
        """Start threads for queued jobs no thread will take, within the limits."""
        while (
            len(self._jobs) > self._idle + self._starting
            and self._serving < self.size
            and self._serving + self._stuck < 2 * self.size
        ):
            self._serving += 1
            self._starting += 1
            self._started += 1
            threading.Thread(
                target=self._work, name=f"{self.name}-{self._started}", daemon=True
            ).start()

    # --- the event loop's side --------------------------------------------------------------

    def _abandon(self, job: _Job) -> None:
        with self._lock:
            if job.state is _State.QUEUED:
                self._jobs.remove(job)
                job.state = _State.CANCELLED
                return
            if job.state is not _State.RUNNING:
                return
            job.state = _State.ABANDONED
            self._serving -= 1
            self._stuck += 1
            stuck = self._stuck
            self._grow()
            short = self.size - self._serving if self._serving + stuck >= 2 * self.size else 0
        running = time.monotonic() - job.started
        if short:
            log.error(
                "%s: %s is still running after %.1f s; %d threads are stuck, so no new one"
                " takes its place: handlers wait for a thread until a stuck one returns",
                self.name,
                _name_of(job.func),
                running,
                stuck,
            )
        else:
            log.warning(
                "%s: %s is still running after %.1f s; it is left to finish and a new thread"
                " takes its place (%d stuck)",
                self.name,
                _name_of(job.func),
                running,
                stuck,
            )

    # --- the threads ------------------------------------------------------------------------

    def _work(self) -> None:
        with self._lock:
            self._starting -= 1
        while True:
            with self._lock:
                while not self._jobs:
                    if self._closing:
                        self._serving -= 1
                        return
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                job = self._jobs.popleft()
                job.state = _State.RUNNING
                job.started = time.monotonic()
            ok = True
            try:
                value = job.context.run(job.func, *job.args)
            except BaseException as exc:  # the caller gets whatever the handler raised
                ok, value = False, exc
            with self._lock:
                abandoned = job.state is _State.ABANDONED
                job.state = _State.DONE
                rejoin = False
                if abandoned:
                    self._stuck -= 1
                    rejoin = not self._closing and self._serving < self.size
                    if rejoin:
                        self._serving += 1
            if abandoned:
                log.info(
                    "%s: %s returned after %.1f s, long after its caller gave up",
                    self.name,
                    _name_of(job.func),
                    time.monotonic() - job.started,
                )
                if not rejoin:
                    return
                continue
            # RuntimeError: the caller's event loop is closed, nobody is waiting.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_settle, job.future, ok, value)
