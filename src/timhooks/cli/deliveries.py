"""``timhooks deliveries list|show|replay``: the outbox of ``timhooks serve``."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from timhooks.cli.events import _summary
from timhooks.cli.logs import Log, add_log_commands, open_log
from timhooks.cli.output import not_found, print_json, printable, printable_json, when, with_store
from timhooks.cli.parser import add_command, show_help
from timhooks.server.config import ServerConfig
from timhooks.server.store import Delivery, DeliveryStatus, ServerStore
from timhooks.storage.filters import LogFilter

__all__ = ["DEFAULT_DB", "OUTBOX_LOG", "add_commands"]

DEFAULT_DB = ServerConfig().db
"""The server's database when ``--db`` is not given."""


def _line(d: Delivery) -> str:
    detail = f"HTTP {d.last_status}" if d.last_status is not None else ""
    if d.last_error:
        detail = f"{detail} {d.last_error}".strip()
    try:
        summary = _summary(msgspec.json.decode(d.body))
    except msgspec.DecodeError:
        summary = ""
    return printable(
        f"{d.id:>6}  {d.status.value:<9}  {d.phase:<6}  {when(d.created_at)}  "
        f"{d.command}  attempts={d.total_attempts}  {detail}  {summary}".rstrip()
    )


async def _deliveries(
    store: ServerStore, where: LogFilter, limit: int, oldest_first: bool
) -> list[Delivery]:
    return await store.deliveries(where=where, limit=limit, oldest_first=oldest_first)


OUTBOX_LOG: Log[ServerStore, Delivery] = Log(
    noun="delivery",
    plural="deliveries",
    default_db=DEFAULT_DB,
    creator="`timhooks serve`",
    statuses=tuple(s.value for s in DeliveryStatus),
    open=lambda db: ServerStore(db, create=False),
    rows=_deliveries,
    row_id=lambda d: d.id,
    line=_line,
    as_dict=lambda d: d.to_dict(),
    then="a running dispatcher will send them",
)


def run_deliveries_show(args: argparse.Namespace) -> int:
    """Print one outbox row with every attempt: when, HTTP status, latency, answer or error."""
    found = with_store(lambda: open_log(OUTBOX_LOG, args.db), lambda store: store.delivery(args.id))
    if found is None:
        return not_found("delivery", args.id, args.db)
    delivery, attempts = found
    data = delivery.to_dict()
    data["attempts_log"] = attempts
    if args.json:
        print_json(data)
        return 0
    print(_line(delivery))
    print(printable_json(data["payload"]))
    for n, a in enumerate(attempts, 1):
        status = "no answer" if a["status_code"] is None else f"HTTP {a['status_code']}"
        print(printable(f"  #{n}  {when(a['at'])}  {status}  {a['latency_ms']:.1f} ms  {a['url']}"))
        if a["error"]:
            print(printable(f"      error:  {a['error']}"))
        if a["response"]:
            print(printable(f"      answer: {a['response']}"))
    lost = delivery.total_attempts - len(attempts)
    if lost > 0:
        print(f"  ({lost} more: the process making it stopped before recording it)")
    return 0


def add_commands(commands: Any) -> None:
    """Register ``deliveries list|show|replay``."""
    deliveries = add_command(
        commands,
        "deliveries",
        summary="inspect and replay the webhooks timhooks serve sent (its outbox)",
        example="timhooks deliveries list --status failed\n"
        "timhooks deliveries replay --status failed --since 1h --yes",
    )
    sub = deliveries.add_subparsers(dest="deliveries_command", metavar="ACTION")
    deliveries.set_defaults(run=show_help(deliveries))
    add_log_commands(
        sub,
        OUTBOX_LOG,
        group="deliveries",
        run_show=run_deliveries_show,
        helps=(
            "webhooks in the outbox, newest first",
            "one webhook with every attempt and its answer",
            "deliver after-webhooks again: one, or every one the filters take",
        ),
    )
