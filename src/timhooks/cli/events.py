"""``timhooks listen`` and ``timhooks events list|show|replay``: the receiver side of the CLI."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from timhooks.cli.output import (
    add_log_commands,
    not_found,
    print_json,
    replayed,
    when,
    with_store,
)
from timhooks.protocol.events import Event
from timhooks.receiver.core import Receiver, WebhookMeta
from timhooks.storage import InboxEntry, InboxStatus, describe_url, open_inbox

__all__ = ["add_commands"]

DEFAULT_INBOX = "timhooks-inbox.db"

# The fields that identify what an event is about, shown in one-line summaries.
_KEY_FIELDS = (
    "Official_Account",
    "GroupId",
    "Operator_Account",
    "Owner_Account",
    "Requestor_Account",
    "Name",
    "MsgKey",
    "JoinType",
    "ExitType",
)


def add_commands(commands: Any) -> None:
    """Register ``listen`` and ``events`` on the top-level subparsers."""
    listen = commands.add_parser(
        "listen",
        help="receive webhooks: store each valid one, answer OK, print a line per event",
    )
    listen.add_argument("--app-id", type=int, required=True, help="the SDKAppID to accept")
    listen.add_argument("--token", help="webhook token: require and check Sign/RequestTime")
    listen.add_argument("--host", default="127.0.0.1")
    listen.add_argument("--port", type=int, default=8080)
    listen.add_argument("--db", default=DEFAULT_INBOX, help="inbox database (path or sqlite:///)")
    listen.add_argument("--json", action="store_true", help="print one JSON object per event")
    listen.add_argument(
        "--retention-days",
        type=float,
        default=7.0,
        help="prune handled events older than this, hourly (default 7; 0 keeps all)",
    )
    listen.add_argument(
        "--max-connections",
        type=int,
        default=1024,
        help="open HTTP connections at most (default 1024); at the cap the longest idle one"
        " is closed, or a new one answered 503 when all are in a request",
    )
    listen.set_defaults(run=run_listen)

    ev = commands.add_parser("events", help="inspect and replay the webhooks in an inbox")
    sub = ev.add_subparsers(dest="events_command", required=True, metavar="ACTION")

    add_log_commands(
        sub,
        db=DEFAULT_INBOX,
        statuses=[s.value for s in InboxStatus],
        runners=(run_list, run_show, run_replay),
        helps=(
            "list stored webhooks, newest first",
            "one stored webhook with its payload",
            "run an entry's handler again (a running receiver does)",
        ),
    )


def _summary(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    parts = [f"{k}={payload[k]}" for k in _KEY_FIELDS if isinstance(payload.get(k), str | int)]
    for key, value in payload.items():
        if isinstance(value, list | tuple) and value and key != "MsgBody":
            # Member and subscriber lists are [{"Member_Account": id}, ...]: show the ids.
            ids = [next(iter(v.values())) for v in value if isinstance(v, dict) and len(v) == 1]
            shown = ",".join(map(str, ids)) if len(ids) == len(value) else f"[{len(value)}]"
            parts.append(f"{key}={shown}")
    return " ".join(parts)


# --- listen ---------------------------------------------------------------------------------


def run_listen(args: argparse.Namespace) -> int:
    """Serve a receiver that stores every valid webhook and prints one line per event."""
    import uvicorn

    from timhooks import hosting

    limits = hosting.ConnectionLimits(max_connections=args.max_connections)
    # The port first: a bad or busy one is one error, before the inbox is opened.
    hosting.raise_open_files_limit()
    sock = hosting.bind(args.host, args.port)
    receiver = Receiver(
        app_id=args.app_id, token=args.token, inbox=args.db, retention_days=args.retention_days
    )

    @receiver.on("*")
    async def show(event: Event, meta: WebhookMeta) -> None:
        payload = event.to_wire()
        if args.json:
            print_json(
                {
                    "id": meta.inbox_id,
                    "command": meta.command,
                    "sdk_app_id": meta.sdk_app_id,
                    "received_at": meta.received_at,
                    "client_ip": meta.client_ip,
                    "opt_platform": meta.opt_platform.value,
                    "payload": payload,
                }
            )
        else:
            ident = f"#{meta.inbox_id}" if meta.inbox_id is not None else "(before)"
            print(
                f"{when(meta.received_at)} {ident} {meta.command} {_summary(payload)}", flush=True
            )

    server = uvicorn.Server(hosting.uvicorn_config(receiver.asgi, limits=limits, lifespan="on"))
    auth = "Sign checked" if args.token else "no token"
    print(
        f"timhooks listening on {hosting.url_of(sock, args.host)} "
        f"(SdkAppid {args.app_id}, {auth}, inbox {describe_url(args.db)})",
        file=sys.stderr,
        flush=True,
    )
    server.run(sockets=[sock])
    return 0


# --- events ---------------------------------------------------------------------------------


def _line(entry: InboxEntry) -> str:
    try:
        summary = _summary(entry.payload)
    except ValueError:
        summary = ""
    return (
        f"{entry.id:>6}  {entry.status.value:<8}  {when(entry.received_at)}  "
        f"{entry.command}  {summary}"
    )


def run_list(args: argparse.Namespace) -> int:
    """Print the stored webhooks."""
    status = InboxStatus(args.status) if args.status else None
    entries: list[InboxEntry] = with_store(
        lambda: open_inbox(args.db),
        lambda inbox: inbox.list(command=args.command, status=status, limit=args.limit),
    )
    if args.json:
        print_json([e.to_dict() for e in entries])
    elif not entries:
        print("no webhooks stored", file=sys.stderr)
    else:
        for entry in entries:
            print(_line(entry))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one stored webhook."""
    entry: InboxEntry | None = with_store(
        lambda: open_inbox(args.db), lambda inbox: inbox.get(args.id)
    )
    if entry is None:
        return not_found("inbox entry", args.id, args.db)
    if args.json:
        print_json(entry.to_dict())
        return 0
    data = entry.to_dict()
    payload = data.pop("payload")
    for key, value in data.items():
        if value is not None:
            print(f"{key:>16}: {when(value) if key.endswith('_at') else value}")
    print(json.dumps(payload, ensure_ascii=False, indent=2))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Make an entry pending again; the running receiver runs its handler."""
    found: bool = with_store(
        lambda: open_inbox(args.db), lambda inbox: inbox.replay(args.id, now=time.time())
    )
    return replayed(
        found,
        what="inbox entry",
        ident=args.id,
        db=args.db,
        as_json=args.json,
        then="a running receiver will handle it",
    )
