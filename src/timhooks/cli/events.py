"""``timhooks listen`` and ``timhooks events list|show|replay``: the receiver side of the CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from timhooks.cli.output import (
    add_log_commands,
    not_found,
    print_json,
    printable,
    replayed,
    when,
    with_store,
)
from timhooks.protocol.events import Event
from timhooks.receiver.core import Receiver, WebhookMeta
from timhooks.receiver.observe import Cause, Notice, NoticeLimiter, Rejection, Repeat
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
            line = f"{meta.command} {_summary(payload)}"
            print(f"{when(meta.received_at)} {ident} {printable(line)}", flush=True)

    receiver.observe(NoticePrinter())

    config = uvicorn.Config(
        receiver.asgi,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    auth = "Sign checked" if args.token else "no token"
    print(
        f"timhooks listening on http://{args.host}:{args.port} "
        f"(SdkAppid {args.app_id}, {auth}, inbox {describe_url(args.db)})",
        file=sys.stderr,
        flush=True,
    )
    server.run()
    return 0


# What a rejection most likely means, and what to do, in the words of `listen`'s flags.
_FIXES = {
    Cause.NOT_POST: "Tencent sends webhooks with POST; is something else calling this URL?",
    Cause.TOO_LARGE: "webhooks are far smaller; is something else calling this URL?",
    Cause.SLOW_BODY: "the sender or the network stalled mid-body",
    Cause.BAD_QUERY: "the URL lacks the webhook query; point the sender's callback URL here",
    Cause.BAD_BODY: "the body is not this command's webhook JSON",
    Cause.NO_SIGN: "the sender has no callback token; give it the one --token has"
    " (serve --callback-token), or start listen without --token",
    Cause.SIGN_MISMATCH: "the sender's token differs from --token",
    Cause.STALE_TIME: "the sender's clock and this one differ by more than 60 s",
    Cause.INBOX_FAILED: "the inbox could not store it (see the error above); the sender may retry",
}
_LABELS = {
    Cause.SIGN_MISMATCH: "Sign mismatch",
    Cause.NO_SIGN: "no Sign",
}


def rejection_line(r: Rejection) -> str:
    """One line on a rejected request: status, reason, for which app, the likely fix, then the
    command and the sender when known."""
    what = _LABELS.get(r.cause, r.reason)
    if r.cause is Cause.UNKNOWN_APP:
        fix = f"start listen with --app-id {r.sdk_app_id}"
    else:
        fix = _FIXES[r.cause]
        if r.sdk_app_id is not None:
            what += f" for SdkAppid={r.sdk_app_id}"
    known = " from ".join(part for part in (r.command, r.peer) if part)
    line = f"{when(r.at)} {r.status} {printable(what)}: {fix}"
    return f"{line} ({printable(known)})" if known else line


def repeat_line(r: Repeat) -> str:
    """One line on a repeat: which stored entry it repeats, and that it is not handled again."""
    command = printable(r.command)
    return f"{when(r.at)} repeat of #{r.entry_id} ({command}), not handled again"


class NoticePrinter:
    """Prints rejections and repeats on stderr, each kind rate-limited: a burst, then one a
    second, and every few seconds how many were not shown."""

    def __init__(self, *, report_every: float = 5.0) -> None:
        self.report_every = report_every
        self._kinds: dict[type[Notice], tuple[NoticeLimiter, str]] = {
            Rejection: (NoticeLimiter(), "rejected requests"),
            Repeat: (NoticeLimiter(), "repeats"),
        }
        self._report_due = False

    def __call__(self, notice: Notice) -> None:
        """Print one notice, or count it when its kind is over its rate."""
        limiter, _ = self._kinds[type(notice)]
        if not limiter.allow():
            if not self._report_due:
                self._report_due = True
                asyncio.get_running_loop().call_later(self.report_every, self.report)
            return
        self.report()
        line = rejection_line(notice) if isinstance(notice, Rejection) else repeat_line(notice)
        print(line, file=sys.stderr, flush=True)

    def report(self) -> None:
        """Say how many notices were not shown since the last report."""
        self._report_due = False
        for limiter, what in self._kinds.values():
            held = limiter.held_back()
            if held:
                print(f"… {held} more {what} not shown", file=sys.stderr, flush=True)


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
