"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO, TypeVar

from timhooks.text import printable  # re-exported: the CLI's commands import it from here

__all__ = [
    "Progress",
    "not_found",
    "print_json",
    "printable",
    "printable_json",
    "run_async",
    "when",
    "with_store",
]


def printable_json(value: Any) -> str:
    """Indented JSON for people: JSON escapes C0 controls in strings itself, ``printable`` the
    rest of each line (its line breaks are the indentation's)."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return "\n".join(printable(line) for line in text.split("\n"))


T = TypeVar("T")
S = TypeVar("S", bound="Closable")


class Closable(Protocol):
    """A store with an async close."""

    async def close(self) -> None:
        """Release it."""


def when(epoch: float) -> str:
    """An epoch time as UTC ISO 8601 with milliseconds."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def print_json(value: Any) -> None:
    """One JSON document on one line, flushed (for programs reading the output)."""
    print(json.dumps(value, ensure_ascii=False), flush=True)


def with_store(open_store: Callable[[], S], work: Callable[[S], Awaitable[T]]) -> T:
    """Open a store, run ``work`` on it, close it: one command's database session."""

    async def session() -> T:
        store = open_store()
        try:
            return await work(store)
        finally:
            await store.close()

    return run_async(session())


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on uvloop where it is installed (as uvicorn does), else on
    asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def not_found(what: str, ident: int, db: str) -> int:
    """Say that ``what`` number ``ident`` is not in ``db``; the exit status 1."""
    from timhooks.storage import describe_url

    print(f"timhooks: no {what} {ident} in {describe_url(db)}", file=sys.stderr)
    return 1


class Progress:
    """A one-line progress bar on a terminal (``stream`` a TTY), nothing elsewhere."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: TextIO, *, enabled: bool) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = enabled and stream.isatty() and total > 0
        self.done = 0

    def advance(self, count: int) -> None:
        """``count`` more items are done; redraw the bar."""
        self.done += count
        if self.enabled:
            filled = self.WIDTH * self.done // self.total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
