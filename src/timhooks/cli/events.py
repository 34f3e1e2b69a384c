"""``timhooks listen`` and ``timhooks events list|show|replay``: the receiver side of the CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from timhooks.cli.logs import Log, add_log_commands, open_log
from timhooks.cli.output import not_found, print_json, printable, printable_json, when, with_store
from timhooks.cli.parser import add_command, show_help
from timhooks.console.rejections import LABELS, likely_fix
from timhooks.protocol.decisions import Decision
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.events import Event
from timhooks.protocol.summary import summarize
from timhooks.receiver.core import Receiver, WebhookMeta
from timhooks.receiver.observe import Cause, Notice, NoticeLimiter, Rejection, Repeat
from timhooks.storage import InboxEntry, InboxStatus, InboxStore, describe_url, open_inbox
from timhooks.storage.filters import LogFilter

__all__ = ["add_commands"]

DEFAULT_INBOX = "timhooks-inbox.db"


def add_commands(commands: Any) -> None:
    """Register ``listen`` and ``events`` on the top-level subparsers."""
    listen = add_command(
        commands,
        "listen",
        summary="receive webhooks: store each valid one, answer OK, print a line per event",
        description="The app-backend side for development: point `timhooks serve --callback-url`"
        " (or Tencent's console) at it. After-webhooks are on disk in the inbox before the 200"
        " goes out; `timhooks events` shows them.",
        example="timhooks listen --app-id 1400000001 --token s3cret --port 8080",
        json_help="print one JSON object per event",
    )
    listen.add_argument(
        "--app-id", type=int, required=True, metavar="SDKAPPID", help="the SDKAppID to accept"
    )
    listen.add_argument(
        "--token",
        help="webhook token: require and check Sign/RequestTime (default: none, unsigned"
        " webhooks accepted)",
    )
    listen.add_argument("--host", default="127.0.0.1", help="address to listen on")
    listen.add_argument("--port", type=int, default=8080, help="port to listen on")
    listen.add_argument(
        "--db",
        default=DEFAULT_INBOX,
        metavar="URL",
        help="inbox database: a path, sqlite:///path or postgresql://user@host/db (created"
        " when missing)",
    )
    listen.add_argument(
        "--retention-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="prune handled events older than this, hourly; 0 keeps all",
    )
    listen.add_argument(
        "--max-connections",
        type=int,
        default=1024,
        metavar="N",
        help="open HTTP connections at most (default: %(default)s); at the cap the longest idle"
        " one is closed, or a new one answered 503 when all are in a request",
    )
    listen.add_argument(
        "--forward-to",
        metavar="URL",
        help="pass each webhook on to the app under development at URL: its answer is what a"
        " before-webhook gets, and an after-webhook it refuses is retried (default: none)",
    )
    listen.add_argument(
        "--forward-token",
        metavar="TOKEN",
        help="the app's webhook token: forwarded webhooks are signed afresh with it (default:"
        " --token's; unsigned without one)",
    )
    listen.add_argument(
        "--forward-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long the app may take to answer a forwarded after-webhook (before-webhooks"
        " get the receiver's 1.5 s)",
    )
    listen.add_argument(
        "--console",
        choices=("on", "off", "auto"),
        default="auto",
        help="the web console at /console/: on, off, or auto, on only when --host is loopback"
        " (default: %(default)s)",
    )
    listen.add_argument(
        "--console-token",
        default=os.environ.get("TIMHOOKS_CONSOLE_TOKEN") or None,
        metavar="TOKEN",
        help="the console's sign-in token [env: TIMHOOKS_CONSOLE_TOKEN] (default: a new one,"
        " printed at start)",
    )
    listen.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="serve no /metrics and count nothing (default: Prometheus metrics at /metrics)",
    )
    listen.set_defaults(run=run_listen)

    ev = add_command(
        commands,
        "events",
        summary="inspect and replay the webhooks a receiver stored (its inbox)",
        example="timhooks events list --status dead\ntimhooks events replay --status dead --yes",
    )
    sub = ev.add_subparsers(dest="events_command", metavar="ACTION")
    ev.set_defaults(run=show_help(ev))
    add_log_commands(
        sub,
        INBOX_LOG,
        group="events",
        run_show=run_show,
        helps=(
            "list stored webhooks, newest first",
            "one stored webhook with its payload",
            "run handlers again: one entry, or every one the filters take (a running"
            " receiver does)",
        ),
    )


def _summary(payload: Any) -> str:
    return summarize(payload)


# --- listen ---------------------------------------------------------------------------------


def run_listen(args: argparse.Namespace) -> int:
    """Serve a receiver that stores every valid webhook and prints one line per event."""
    import uvicorn

    from timhooks import hosting

    if args.forward_to is not None:
        from timhooks.server.config import validate_callback_url

        validate_callback_url(args.forward_to)  # before anything is created, as the port
    elif args.forward_token:
        raise ConfigError("--forward-token signs forwarded webhooks: give --forward-to URL too")
    limits = hosting.ConnectionLimits(max_connections=args.max_connections)
    # The port first: a bad or busy one is one error, before the inbox is opened.
    hosting.raise_open_files_limit()
    sock = hosting.bind(args.host, args.port)
    receiver = Receiver(
        app_id=args.app_id, token=args.token, inbox=args.db, retention_days=args.retention_days
    )

    forwarder = None
    if args.forward_to:
        from timhooks.devtools.forward import Forwarder

        token = args.forward_token or args.token
        forwarder = Forwarder.for_receiver(receiver, args.forward_to, token, args.forward_timeout)

    @receiver.on("*")
    async def show(event: Event, meta: WebhookMeta) -> Decision | None:
        payload = event.to_wire()
        forwarded = await forwarder.forward(event, meta) if forwarder is not None else None
        if forwarded is not None and meta.inbox_id is not None:
            # An after-webhook keeps what the app answered (status, answer, latency) with it,
            # for `events show`; a before-webhook's record keeps the answer listen gave.
            await receiver.inbox.record_answer(meta.inbox_id, encode_json(forwarded.to_dict()))
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
                    **({"forward": forwarded.to_dict()} if forwarded is not None else {}),
                }
            )
        else:
            ident = f"#{meta.inbox_id}" if meta.inbox_id is not None else "(before)"
            line = f"{meta.command} {_summary(payload)}"
            if forwarded is not None:
                line += f" {forwarded.describe()}"
            print(f"{when(meta.received_at)} {ident} {printable(line)}", flush=True)
        # The app's decision for a before-webhook; ForwardFailed retries an after-webhook.
        return forwarded.outcome() if forwarded is not None else None

    receiver.observe(NoticePrinter())

    from timhooks.console.listen import ListenApp
    from timhooks.console.web import console_enabled, new_console_token
    from timhooks.metrics import ReceiverMetrics

    metrics = ReceiverMetrics().attach(receiver) if args.metrics else None
    console = console_enabled(args.console, args.host)
    console_token = (args.console_token or new_console_token()) if console else None
    servers: list[uvicorn.Server] = []
    app = ListenApp(
        receiver,
        webhooks=forwarder.wrap(receiver.asgi) if forwarder is not None else None,
        metrics=metrics,
        console_token=console_token,
        stopping=lambda: any(s.should_exit for s in servers),
    )
    server = uvicorn.Server(hosting.uvicorn_config(app, limits=limits, lifespan="on"))
    servers.append(server)
    auth = "Sign checked" if args.token else "no token"
    forwarding = f", forwarding to {args.forward_to}" if args.forward_to else ""
    url = hosting.url_of(sock, args.host)
    print(
        f"timhooks listening on {url} "
        f"(SdkAppid {args.app_id}, {auth}, inbox {describe_url(args.db)}{forwarding})",
        file=sys.stderr,
        flush=True,
    )
    if console_token is not None:
        shown = "given by --console-token" if args.console_token else console_token
        print(f"  console {url}/console/  token {shown}", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
    return 0


def rejection_line(r: Rejection) -> str:
    """One line on a rejected request: status, reason, for which app, the likely fix, then the
    command and the sender when known."""
    what = LABELS.get(r.cause, r.reason)
    fix = likely_fix(r)
    if r.cause is not Cause.UNKNOWN_APP and r.sdk_app_id is not None:
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
    return printable(
        f"{entry.id:>6}  {entry.status.value:<8}  {when(entry.received_at)}  "
        f"{entry.command}  {summary}"
    )


async def _entries(
    inbox: InboxStore, where: LogFilter, limit: int, oldest_first: bool
) -> list[InboxEntry]:
    return await inbox.list(where=where, limit=limit, oldest_first=oldest_first)


INBOX_LOG: Log[Any, InboxEntry] = Log(
    noun="inbox entry",
    plural="inbox entries",
    default_db=DEFAULT_INBOX,
    creator="`timhooks listen` (or a Receiver)",
    statuses=tuple(s.value for s in InboxStatus),
    open=lambda db: open_inbox(db, create=False),
    rows=_entries,
    row_id=lambda entry: entry.id,
    line=_line,
    as_dict=lambda entry: entry.to_dict(),
    then="a running receiver will handle them",
)


def run_show(args: argparse.Namespace) -> int:
    """Print one stored webhook."""
    entry: InboxEntry | None = with_store(
        lambda: open_log(INBOX_LOG, args.db), lambda inbox: inbox.get(args.id)
    )
    if entry is None:
        return not_found("inbox entry", args.id, args.db)
    if args.json:
        print_json(entry.to_dict())
        return 0
    data = entry.to_dict()
    payload = data.pop("payload")
    answer = data.pop("answer")
    for key, value in data.items():
        if value is not None:
            shown = when(value) if key.endswith("_at") else value
            print(printable(f"{key:>16}: {shown}"))
    if answer is not None:
        print(printable(f"{'answer':>16}: {json.dumps(answer, ensure_ascii=False)}"))
    print(printable_json(payload))
    return 0
