"""``timhooks serve``, ``timhooks deliveries list|show|replay`` and ``timhooks usersig``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
import time
from typing import Any

from timhooks.cli.output import (
    add_log_commands,
    not_found,
    print_json,
    replayed,
    run_async,
    when,
    with_store,
)
from timhooks.protocol.usersig import DEFAULT_EXPIRE, generate_usersig
from timhooks.server.config import FailurePolicy, ServerConfig, load_config
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.server.store import Delivery, DeliveryStatus, ServerStore
from timhooks.storage import describe_url, open_inbox
from timhooks.storage.inbox import INBOX_MIGRATIONS

__all__ = ["add_commands"]

_DEFAULT_DB = ServerConfig().db


def add_commands(commands: Any) -> None:
    """Register ``serve``, ``deliveries`` and ``usersig``."""
    serve = commands.add_parser(
        "serve",
        help="run the Chat backend: Tencent's REST API, client actions and webhook delivery",
    )
    serve.add_argument("--config", help="TOML file with [server] and [callback] tables")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8600)")
    serve.add_argument("--db", help="database (path or sqlite:///path; default timhooks.db)")
    serve.add_argument("--app-id", type=int, help="SDKAppID of the app to serve")
    serve.add_argument("--key", help="the app's secret key (generated when new)")
    serve.add_argument("--admins", help="admin identifiers, comma-separated")
    serve.add_argument("--callback-url", help="webhook URL; alone it switches every command on")
    serve.add_argument("--callback-token", help="webhook token: adds Sign and RequestTime")
    serve.add_argument("--callback-commands", help="comma-separated CallbackCommands to send")
    serve.add_argument("--callback-before-timeout-ms", type=float, help="before-webhook timeout")
    serve.add_argument(
        "--callback-failure-policy",
        choices=FailurePolicy.ALL,
        help="what a failed before-webhook does (default proceed, as Tencent)",
    )
    serve.add_argument(
        "--callback-retry-attempts", type=int, help="after-webhook attempts (default 1: no retry)"
    )
    serve.add_argument("--callback-retry-base", type=float, help="first retry delay, seconds")
    serve.add_argument(
        "--no-dispatch",
        dest="dispatch",
        action="store_const",
        const=False,
        help="do not deliver after-webhooks in this process (run `timhooks worker`)",
    )
    serve.add_argument(
        "--refuse-private-targets",
        dest="allow_private_targets",
        action="store_const",
        const=False,
        help="refuse webhook URLs whose host is or resolves to a loopback, private or"
        " link-local address (multi-tenant deployments; off by default)",
    )
    serve.add_argument(
        "--no-upgrade",
        dest="upgrade",
        action="store_const",
        const=False,
        help="refuse to start on an outdated schema instead of migrating it",
    )
    serve.add_argument(
        "--retention-days", type=float, help="prune finished deliveries after this (default 7)"
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="open HTTP connections at most (default 1024); at the cap the longest idle one"
        " is closed, or a new one answered 503 when all are in a request",
    )
    serve.add_argument("--json", action="store_true", help="print the start-up facts as JSON")
    serve.set_defaults(run=run_serve)

    worker = commands.add_parser(
        "worker", help="deliver after-webhooks from a shared database (no REST API)"
    )
    worker.add_argument("--db", required=True, help="the database the servers write to")
    worker.add_argument("--concurrency", type=int, help="deliveries in flight (default 32)")
    worker.add_argument("--retention-days", type=float)
    worker.add_argument("--no-upgrade", dest="upgrade", action="store_const", const=False)
    worker.set_defaults(run=run_worker)

    db = commands.add_parser("db", help="database schema and retention")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = dbsub.add_parser("upgrade", help="migrate the server and inbox schemas")
    upgrade.add_argument("--db", default=_DEFAULT_DB)
    upgrade.add_argument("--component", choices=("server", "inbox", "all"), default="all")
    upgrade.set_defaults(run=run_db_upgrade)
    prune = dbsub.add_parser("prune", help="delete finished deliveries and handled events")
    prune.add_argument("--db", default=_DEFAULT_DB)
    prune.add_argument("--older-than-days", type=float, default=7.0)
    prune.add_argument("--component", choices=("server", "inbox"), default="server")
    prune.add_argument("--json", action="store_true")
    prune.set_defaults(run=run_db_prune)

    deliveries = commands.add_parser("deliveries", help="inspect and replay sent webhooks")
    sub = deliveries.add_subparsers(dest="deliveries_command", required=True, metavar="ACTION")
    lst = add_log_commands(
        sub,
        db=_DEFAULT_DB,
        statuses=[s.value for s in DeliveryStatus],
        runners=(run_deliveries_list, run_deliveries_show, run_deliveries_replay),
        helps=(
            "webhooks in the outbox, newest first",
            "one webhook with every attempt",
            "deliver an after-webhook again",
        ),
    )
    lst.add_argument("--app-id", type=int, help="only this app's webhooks")

    usersig = commands.add_parser("usersig", help="make a UserSig for a user of an app")
    usersig.add_argument("--app-id", type=int, required=True)
    usersig.add_argument("--key", required=True)
    usersig.add_argument("--user", required=True)
    usersig.add_argument("--expire", type=int, default=DEFAULT_EXPIRE, help="seconds of validity")
    usersig.set_defaults(run=run_usersig)


class _QuietSignals:
    """A uvicorn server that leaves signals to ``run_serve``.

    uvicorn re-raises the signal it caught once serving ends, which would kill the process
    before the dispatcher drains; ``run_serve`` handles SIGINT and SIGTERM itself instead.
    """

    def __init__(self, config: Any) -> None:
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                yield

        self._server = Server(config)

    def request_exit(self) -> None:
        """Stop accepting requests and finish the ones in flight."""
        self._server.should_exit = True

    async def serve(self, sock: socket.socket) -> None:
        """Serve on ``sock`` until asked to exit."""
        await self._server.serve(sockets=[sock])


def run_serve(args: argparse.Namespace) -> int:
    """Start the Chat backend and serve until interrupted."""
    from timhooks import hosting
    from timhooks.server.app import ChatServer

    flags = {
        name: getattr(args, name)
        for name in (
            "host",
            "port",
            "db",
            "app_id",
            "key",
            "admins",
            "callback_url",
            "callback_token",
            "callback_commands",
            "callback_before_timeout_ms",
            "callback_failure_policy",
            "callback_retry_attempts",
            "callback_retry_base",
            "dispatch",
            "allow_private_targets",
            "upgrade",
            "retention_days",
            "max_connections",
        )
    }
    config = load_config(file=args.config, flags=flags)
    limits = hosting.ConnectionLimits(max_connections=config.max_connections)
    # The port first: a bad or busy one is one error, before any database or app is created.
    hosting.raise_open_files_limit()
    sock = hosting.bind(config.host, config.port)
    try:
        server = ChatServer(config)
    except BaseException:
        sock.close()
        raise

    async def main() -> None:
        app = await server.start()
        facts = {
            "url": hosting.url_of(sock, config.host),
            "sdk_app_id": app.sdk_app_id,
            "key": app.key,
            "admin": app.admins[0],
            "admin_usersig": server.admin_usersig(app),
            "callback_url": app.callback.url,
            "db": describe_url(config.db),
        }
        if args.json:
            print_json(facts)
        else:
            print(f"timhooks serving Tencent Cloud Chat REST on {facts['url']}")
            for name in ("sdk_app_id", "key", "admin", "admin_usersig", "callback_url", "db"):
                print(f"  {name:<14} {facts[name] if facts[name] is not None else '(none)'}")
        sys.stdout.flush()
        uv = _QuietSignals(hosting.uvicorn_config(server.asgi, limits=limits, lifespan="off"))
        # SIGINT/SIGTERM end serving; then the dispatcher drains before the process exits.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, uv.request_exit)
        try:
            await uv.serve(sock)
        finally:
            await server.stop()

    run_async(main())
    return 0


def _line(d: Delivery) -> str:
    detail = f"HTTP {d.last_status}" if d.last_status is not None else ""
    if d.last_error:
        detail = f"{detail} {d.last_error}".strip()
    return (
        f"{d.id:>6}  {d.status.value:<9}  {d.phase:<6}  {when(d.created_at)}  "
        f"{d.command}  attempts={d.attempts}  {detail}"
    )


def run_deliveries_list(args: argparse.Namespace) -> int:
    """Print the outbox."""
    status = DeliveryStatus(args.status) if args.status else None
    rows: list[Delivery] = with_store(
        lambda: ServerStore(args.db),
        lambda store: store.deliveries(
            status=status, command=args.command, app_id=args.app_id, limit=args.limit
        ),
    )
    if args.json:
        print_json([d.to_dict() for d in rows])
    elif not rows:
        print("no webhooks in the outbox", file=sys.stderr)
    else:
        for row in rows:
            print(_line(row))
    return 0


def run_deliveries_show(args: argparse.Namespace) -> int:
    """Print one outbox row with its attempts."""
    found = with_store(lambda: ServerStore(args.db), lambda store: store.delivery(args.id))
    if found is None:
        return not_found("delivery", args.id, args.db)
    delivery, attempts = found
    data = delivery.to_dict()
    data["attempts_log"] = attempts
    if args.json:
        print_json(data)
        return 0
    print(_line(delivery))
    print(json.dumps(data["payload"], ensure_ascii=False, indent=2))
    for a in attempts:
        outcome = a["error"] or "ok"
        print(f"  {when(a['at'])}  HTTP {a['status_code']}  {a['latency_ms']:.1f} ms  {outcome}")
    return 0


def run_deliveries_replay(args: argparse.Namespace) -> int:
    """Make an after-webhook pending again; the running dispatcher delivers it."""
    found: bool = with_store(
        lambda: ServerStore(args.db), lambda store: store.replay(args.id, now=time.time())
    )
    return replayed(
        found,
        what="delivery",
        ident=args.id,
        db=args.db,
        as_json=args.json,
        then="a running dispatcher will send it",
    )


def run_usersig(args: argparse.Namespace) -> int:
    """Print a UserSig."""
    print(
        generate_usersig(args.app_id, args.key, args.user, now=int(time.time()), expire=args.expire)
    )
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """Deliver after-webhooks from the shared database until interrupted."""
    import signal

    from timhooks.server.app import ChatServer

    flags = {"db": args.db, "concurrency": args.concurrency, "upgrade": args.upgrade}
    flags["retention_days"] = args.retention_days
    config = load_config(flags=flags)

    async def main() -> None:
        server = ChatServer(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await server.start_worker()
        print(f"timhooks worker delivering from {describe_url(config.db)}", file=sys.stderr)
        sys.stderr.flush()
        try:
            await stop.wait()
        finally:
            await server.stop()

    run_async(main())
    return 0


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the schemas; print what was applied."""
    from timhooks.storage import open_writer

    components = {"server": SERVER_MIGRATIONS, "inbox": INBOX_MIGRATIONS}
    names = list(components) if args.component == "all" else [args.component]
    for name in names:
        applied: list[int] = []
        open_writer(args.db, component=name, migrations=components[name], applied=applied).close()
        print(f"{name}: applied migrations {applied}" if applied else f"{name}: up to date")
    return 0


def run_db_prune(args: argparse.Namespace) -> int:
    """Delete what retention allows; print how many rows went."""
    before = time.time() - args.older_than_days * 86400
    if args.component == "server":
        pruned: int = with_store(lambda: ServerStore(args.db), lambda s: s.prune(before=before))
    else:
        pruned = with_store(lambda: open_inbox(args.db), lambda s: s.prune(before=before))
    if args.json:
        print_json({"component": args.component, "pruned": pruned})
    else:
        print(f"{args.component}: pruned {pruned} rows older than {args.older_than_days:g} days")
    return 0
