"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

__all__ = ["print_json", "when", "with_store"]

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

    return asyncio.run(session())
