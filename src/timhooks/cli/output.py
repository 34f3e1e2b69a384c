"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

__all__ = [
    "add_log_commands",
    "not_found",
    "print_json",
    "printable",
    "replayed",
    "run_async",
    "when",
    "with_store",
]

T = TypeVar("T")
S = TypeVar("S", bound="Closable")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters shown escaped (``\\x1b``, ``\\n``).

    Anything taken from the wire goes through this before it is printed, so that a webhook can
    neither forge a line of output nor send the terminal escape sequences. Escaped: C0 and C1
    controls and DEL, the line and paragraph separators, and the bidirectional controls that
    reorder what is shown.
    """
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif (
            code in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029)
            or 0x202A <= code <= 0x202E
            or (0x2066 <= code <= 0x2069)
        ):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


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


def replayed(found: bool, *, what: str, ident: int, db: str, as_json: bool, then: str) -> int:
    """Report a replay: pending again (and who will act on it), or not found."""
    if not found:
        return not_found(what, ident, db)
    if as_json:
        print_json({"id": ident, "status": "pending"})
    else:
        print(f"{what} {ident} is pending again; {then}")
    return 0


def add_log_commands(
    sub: Any,
    *,
    db: str,
    statuses: list[str],
    runners: tuple[Callable[[argparse.Namespace], int], ...],
    helps: tuple[str, str, str],
) -> argparse.ArgumentParser:
    """``list``, ``show ID`` and ``replay ID`` over a stored log (the inbox, the outbox).

    Returns the ``list`` parser for command-specific filters.
    """
    run_list, run_show, run_replay = runners
    lst: argparse.ArgumentParser = sub.add_parser("list", help=helps[0])
    lst.add_argument("--db", default=db)
    lst.add_argument("--command", help="only this CallbackCommand")
    lst.add_argument("--status", choices=statuses, help="only entries in this status")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--json", action="store_true", help="a JSON array for programs")
    lst.set_defaults(run=run_list)
    for name, help_text, run in (("show", helps[1], run_show), ("replay", helps[2], run_replay)):
        one = sub.add_parser(name, help=help_text)
        one.add_argument("id", type=int)
        one.add_argument("--db", default=db)
        one.add_argument("--json", action="store_true")
        one.set_defaults(run=run)
    return lst
