"""``list``, ``show`` and ``replay`` over a stored log: the inbox (``timhooks events``) and the
outbox (``timhooks deliveries``) share their flags, filters, following and bulk replay."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from timhooks.cli.output import Progress, not_found, print_json, run_async, with_store
from timhooks.cli.parser import add_command
from timhooks.protocol.errors import ConfigError
from timhooks.storage import DatabaseNotFound, describe_url
from timhooks.storage.filters import LogFilter

__all__ = ["Log", "add_log_commands", "open_log", "parse_when", "run_list", "run_replay"]

_BATCH = 500  # rows a bulk replay makes pending per statement
_FOLLOW_EVERY = 0.5  # seconds between polls of --follow
# --follow reads again this many ids below the newest it printed: on PostgreSQL a row can
# commit after one with a higher id (sequences hand ids out before commit).
_LOOKBACK = 1000

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class LogStore(Protocol):
    """What the shared commands need of a store (``SqlInbox``, ``ServerStore``)."""

    async def replay(self, entry_id: int, *, now: float) -> bool: ...
    async def replay_count(self, where: LogFilter) -> tuple[int, int]: ...
    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]: ...
    async def close(self) -> None: ...


St = TypeVar("St", bound=LogStore)
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Log(Generic[St, Row]):
    """One stored log, as the commands over it see it."""

    noun: str  # "inbox entry"
    plural: str  # "inbox entries"
    default_db: str
    creator: str  # which command creates the database, for the error when it is missing
    statuses: tuple[str, ...]
    open: Callable[[str], St]  # an existing database only
    rows: Callable[[St, LogFilter, int, bool], Awaitable[list[Row]]]  # filter, limit, oldest
    row_id: Callable[[Row], int]
    line: Callable[[Row], str]
    as_dict: Callable[[Row], dict[str, Any]]
    then: str  # what happens to a replayed row


def parse_when(text: str, *, now: float) -> float:
    """A point in time as epoch seconds: ``90s``, ``30m``, ``2h``, ``7d`` or ``1w`` ago, an ISO
    8601 date or date-time (UTC unless it has an offset), or epoch seconds."""
    value = text.strip()
    ago = _AGO.match(value)
    if ago:
        return now - float(ago.group(1)) * _UNITS[ago.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"cannot read the time {text!r}: give 30m, 2h, 7d (that long ago), 2024-05-01,"
            " 2024-05-01T10:00:00Z or epoch seconds"
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def log_filter(args: argparse.Namespace, *, now: float) -> LogFilter:
    """The filter the flags describe."""
    since = None if args.since is None else parse_when(args.since, now=now)
    until = None if args.until is None else parse_when(args.until, now=now)
    if since is not None and until is not None and since >= until:
        raise ConfigError("--since must be earlier than --until")
    return LogFilter(
        status=args.status, command=args.command, app_id=args.app_id, since=since, until=until
    )


def _add_filters(parser: argparse.ArgumentParser, log: Log[Any, Any]) -> None:
    group = parser.add_argument_group("filters (all must match)")
    group.add_argument(
        "--status", choices=log.statuses, help="only those in this status (default: any)"
    )
    group.add_argument(
        "--command",
        metavar="NAME",
        help="only this CallbackCommand, e.g. Group.CallbackAfterGroupFull (default: every one)",
    )
    group.add_argument(
        "--app-id",
        type=int,
        metavar="SDKAPPID",
        help="only this app's (default: every app)",
    )
    group.add_argument(
        "--since",
        metavar="WHEN",
        help="only those that arrived at or after WHEN: 30m, 2h, 7d (that long ago),"
        " 2024-05-01, 2024-05-01T10:00:00Z (UTC unless an offset is given) or epoch seconds"
        " (default: no limit)",
    )
    group.add_argument(
        "--until",
        metavar="WHEN",
        help="only those that arrived before WHEN (default: no limit)",
    )


def open_log(log: Log[St, Any], db: str) -> St:
    """Open an existing log's database; a missing one is an error that says who creates it."""
    try:
        return log.open(db)
    except DatabaseNotFound as exc:
        raise DatabaseNotFound(f"{exc}; {log.creator} creates it") from exc


def _add_db(parser: argparse.ArgumentParser, log: Log[Any, Any]) -> None:
    parser.add_argument(
        "--db",
        default=log.default_db,
        metavar="URL",
        help="the database: a path, sqlite:///path or postgresql://user@host/db; it must"
        " exist (never created here)",
    )


def add_log_commands(
    sub: Any,
    log: Log[Any, Any],
    *,
    group: str,
    run_show: Callable[[argparse.Namespace], int],
    helps: tuple[str, str, str],
) -> None:
    """``list``, ``show ID`` and ``replay [ID]`` of ``timhooks GROUP``."""
    lst = add_command(
        sub,
        "list",
        summary=helps[0],
        example=f"timhooks {group} list --status {log.statuses[-2]} --since 1h\n"
        f"timhooks {group} list --follow --json",
        json_help="a JSON array (with --follow: one JSON object per line)",
    )
    _add_db(lst, log)
    lst.add_argument(
        "--limit", type=int, default=100, help="show at most this many (the newest ones)"
    )
    lst.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="then keep printing new ones as they arrive, oldest first, until Ctrl-C",
    )
    _add_filters(lst, log)
    lst.set_defaults(run=lambda args: run_list(log, args))

    show = add_command(
        sub,
        "show",
        summary=helps[1],
        example=f"timhooks {group} show 42",
        json_help="one JSON object, exactly as stored",
    )
    show.add_argument("id", type=int, help=f"the {log.noun}'s id (as list prints it)")
    _add_db(show, log)
    show.set_defaults(run=run_show)

    rep = add_command(
        sub,
        "replay",
        summary=helps[2],
        description="Give an ID to replay one, or filters to replay every finished"
        " after-webhook that matches them (pending ones are on their way anyway; before-webhooks"
        f" were answered at the time). A bulk replay shows the count and asks first, unless"
        f" --yes; {log.then}.",
        example=f"timhooks {group} replay 42\n"
        f"timhooks {group} replay --status {log.statuses[-2]} --since 2h --yes",
        json_help="a JSON object: how many matched and the ids made pending",
    )
    rep.add_argument(
        "id", type=int, nargs="?", help=f"the {log.noun}'s id (default: every match of the filters)"
    )
    _add_db(rep, log)
    rep.add_argument(
        "--yes", "-y", action="store_true", help="replay without asking (needed off a terminal)"
    )
    _add_filters(rep, log)
    rep.set_defaults(run=lambda args: run_replay(log, args))


# --- list -----------------------------------------------------------------------------------


def _emit(log: Log[Any, Any], rows: list[Any], as_json: bool) -> None:
    for row in rows:
        if as_json:
            print_json(log.as_dict(row))
        else:
            print(log.line(row), flush=True)


def run_list(log: Log[Any, Any], args: argparse.Namespace) -> int:
    """Print the rows the filters take, newest first; with --follow, then the new ones."""
    where = log_filter(args, now=time.time())
    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    if args.follow:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends
            run_async(_follow(log, args, where))
        return 0
    rows = with_store(
        lambda: open_log(log, args.db), lambda s: log.rows(s, where, args.limit, False)
    )
    if args.json:
        print_json([log.as_dict(row) for row in rows])
    elif not rows:
        if not args.quiet:
            verb = "match" if where.narrows else "are stored"
            print(f"no {log.plural} {verb} in {describe_url(args.db)}", file=sys.stderr)
    else:
        _emit(log, rows, as_json=False)
    return 0


async def _follow(log: Log[Any, Any], args: argparse.Namespace, where: LogFilter) -> None:
    store = open_log(log, args.db)
    try:
        rows = list(reversed(await log.rows(store, where, args.limit, False)))
        _emit(log, rows, args.json)
        newest = start = max((log.row_id(row) for row in rows), default=0)
        seen = {log.row_id(row) for row in rows}
        if not args.quiet and not args.json:
            print(f"following {describe_url(args.db)} (Ctrl-C to stop)", file=sys.stderr)
        while True:
            await asyncio.sleep(_FOLLOW_EVERY)
            # Never below the rows listed first: older ones were left out on purpose (--limit).
            floor = max(start, newest - _LOOKBACK)
            found = await log.rows(store, replace(where, after_id=floor), 2 * _LOOKBACK, True)
            fresh = [row for row in found if log.row_id(row) not in seen]
            _emit(log, fresh, args.json)
            seen.update(log.row_id(row) for row in fresh)
            newest = max([newest, *(log.row_id(row) for row in fresh)])
            seen = {i for i in seen if i > newest - _LOOKBACK}
    finally:
        await store.close()


# --- replay ---------------------------------------------------------------------------------


def run_replay(log: Log[Any, Any], args: argparse.Namespace) -> int:
    """Replay one row by id, or every finished after-webhook the filters take."""
    now = time.time()
    where = log_filter(args, now=now)
    if args.id is not None:
        if where.narrows:
            raise ConfigError("give an ID or filters, not both")
        found: bool = with_store(
            lambda: open_log(log, args.db), lambda s: s.replay(args.id, now=time.time())
        )
        if not found:
            return not_found(log.noun, args.id, args.db)
        if args.json:
            print_json({"id": args.id, "status": "pending"})
        else:
            print(f"{log.noun} {args.id} is pending again; {log.then}")
        return 0
    if not where.narrows:
        raise ConfigError(
            f"give an ID, or filters for a bulk replay (e.g. --status {log.statuses[-2]}"
            " --since 1h)"
        )
    count, newest = with_store(lambda: open_log(log, args.db), lambda s: s.replay_count(where))
    if count == 0:
        if args.json:
            print_json({"matched": 0, "replayed": 0, "ids": []})
        elif not args.quiet:
            print(f"no finished after-webhook {log.plural} match", file=sys.stderr)
        return 0
    if not args.yes and not _confirm(f"Replay {count} {_plural(log, count)}?"):
        if not sys.stdin.isatty():
            raise ConfigError(
                f"{count} {_plural(log, count)} {'matches' if count == 1 else 'match'};"
                " add --yes to replay them"
                " (there is no terminal to ask on)"
            )
        print("nothing replayed", file=sys.stderr)
        return 1
    progress = Progress("replaying", count, sys.stderr, enabled=not args.quiet and not args.json)
    ids: list[int] = with_store(
        lambda: open_log(log, args.db), lambda s: _replay_batches(s, where, newest, progress)
    )
    progress.close()
    if args.json:
        print_json({"matched": count, "replayed": len(ids), "ids": ids})
    else:
        print(f"replayed {len(ids)} {_plural(log, len(ids))}; {log.then}")
    return 0


async def _replay_batches(
    store: LogStore, where: LogFilter, newest: int, progress: Progress
) -> list[int]:
    """One statement per batch of ``_BATCH`` rows, oldest first, up to the newest counted."""
    ids: list[int] = []
    after = 0
    while True:
        batch = await store.replay_many(
            replace(where, after_id=after), through_id=newest, limit=_BATCH, now=time.time()
        )
        if not batch:
            return ids
        ids.extend(batch)
        after = batch[-1]
        progress.advance(len(batch))


def _confirm(question: str) -> bool:
    """Ask on the terminal (on stderr: stdout is for results); False when there is none."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _plural(log: Log[Any, Any], count: int) -> str:
    return log.noun if count == 1 else log.plural
