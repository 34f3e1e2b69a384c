"""``timhooks serve``, ``timhooks deliveries list|show|replay`` and ``timhooks usersig``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import time
from typing import Any

import msgspec

from timhooks.cli.events import DEFAULT_INBOX, INBOX_LOG, _summary
from timhooks.cli.logs import Log, add_log_commands, open_log
from timhooks.cli.output import (
    not_found,
    print_json,
    printable,
    printable_json,
    run_async,
    when,
    with_store,
)
from timhooks.cli.parser import add_command, show_help
from timhooks.protocol.usersig import DEFAULT_EXPIRE, generate_usersig
from timhooks.server.config import SETTINGS, ServerConfig, default_text, load_config
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.server.store import Delivery, DeliveryStatus, ServerStore
from timhooks.storage import DatabaseNotFound, describe_url
from timhooks.storage.filters import LogFilter
from timhooks.storage.inbox import INBOX_MIGRATIONS

__all__ = ["add_commands"]

_DEFAULT_DB = ServerConfig().db


def _variables(command: str) -> str:
    names = [s.env for s in SETTINGS.values() if command == "serve" or s.worker]
    lines, line = [], " "
    for name in names:
        if len(line) + len(name) > 78:
            lines.append(line)
            line = " "
        line += f" {name}"
    return "\n".join([*lines, line])


def _sources(flag: str) -> str:
    variable = "TIMHOOKS_" + flag.removeprefix("--").replace("-", "_").upper()
    return f"""\
Settings come from flags, TIMHOOKS_* environment variables (the flag's name in capitals:
{flag} is {variable}) and the TOML file of --config ([server] and
[callback] tables). A flag beats its variable, which beats the file, which beats the defaults."""


_SERVE_DESCRIPTION = f"""\
{_sources("--callback-url")}

serve stores the app (SDKAppID, key, admins) and its webhook settings (callback URL, token,
commands, timeouts, retries) in its database and reuses them on restart: a setting given at
start-up replaces the stored one, a setting left out keeps it. A --key other than the stored one
is refused unless --rotate-key is given (it invalidates every UserSig made with the old key).

variables:
{_variables("serve")}"""

_WORKER_DESCRIPTION = f"""\
Run beside `timhooks serve --no-dispatch` on PostgreSQL; any number of workers share the outbox,
each webhook claimed by one at a time. It delivers with the webhook settings the servers stored.

{_sources("--concurrency")}
A worker takes the settings below; the file's other settings are serve's.

variables:
{_variables("worker")}"""


def _add_settings(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """The flags of ``command`` (serve or worker), one per declared setting it takes; their
    names. ``worker --db`` is required."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file with [server] and [callback] tables (default: none)",
    )
    names = []
    for setting in SETTINGS.values():
        if command == "worker" and not setting.worker:
            continue
        names.append(setting.name)
        required = command == "worker" and setting.name == "db"
        help_text = f"{setting.help} (default: {default_text(setting)}) [env: {setting.env}]"
        if required:
            help_text = f"{setting.help} (required)"
        if setting.switch is not None:
            parser.add_argument(
                setting.flag,
                dest=setting.name,
                action="store_const",
                const=setting.switch_value,
                help=help_text,
            )
            continue
        parser.add_argument(
            setting.flag,
            dest=setting.name,
            type=setting.kind.flag_type,
            choices=setting.kind.choices,
            metavar=None if setting.kind.choices else setting.metavar,
            required=required,
            help=help_text,
        )
    return names


def add_commands(commands: Any) -> None:
    """Register ``serve`` and ``worker``."""
    serve = add_command(
        commands,
        "serve",
        summary="run the Chat backend: Tencent's REST API, client actions and webhook delivery",
        description=_SERVE_DESCRIPTION,
        example="timhooks serve --app-id 1400000001 --callback-url http://127.0.0.1:8080/im\n"
        "timhooks serve --config timhooks.toml --concurrency 4",
        json_help="print the start-up facts as one JSON object",
    )
    serve.set_defaults(run=run_serve, settings=_add_settings(serve, "serve"))

    worker = add_command(
        commands,
        "worker",
        summary="deliver after-webhooks from a database that servers share (no REST API)",
        description=_WORKER_DESCRIPTION,
        example="timhooks worker --db postgresql://timhooks@db.internal/timhooks --concurrency 64",
    )
    worker.set_defaults(run=run_worker, settings=_add_settings(worker, "worker"))


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags, by name (None: not given)."""
    return {name: getattr(args, name) for name in args.settings}


def add_tool_commands(commands: Any) -> None:
    """Register ``deliveries``, ``db`` and ``usersig``."""
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

    db = add_command(
        commands,
        "db",
        summary="database schemas and retention",
        example="timhooks db upgrade --db postgresql://timhooks@db.internal/timhooks\n"
        "timhooks db prune --component inbox --older-than-days 1",
    )
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db.set_defaults(run=show_help(db))
    upgrade = add_command(
        dbsub,
        "upgrade",
        summary="migrate the server and inbox schemas to this version",
        description="Applies the missing migrations of each component. An existing database"
        " only, unless --create.",
        example="timhooks db upgrade --db postgresql://timhooks@db.internal/timhooks --create",
        json_help="a JSON object: the migrations applied, per component",
    )
    upgrade.add_argument(
        "--db",
        metavar="URL",
        help=f"the database (default: {_DEFAULT_DB} for the server, {DEFAULT_INBOX} for the inbox)",
    )
    upgrade.add_argument(
        "--component",
        choices=("server", "inbox", "all"),
        default="all",
        help="which schema; all upgrades those present and skips the others",
    )
    upgrade.add_argument(
        "--create",
        action="store_true",
        help="create the database and schemas when missing (default: refuse)",
    )
    upgrade.set_defaults(run=run_db_upgrade)
    prune = add_command(
        dbsub,
        "prune",
        summary="delete finished deliveries or handled events now",
        description="What the hourly retention task does. Failed deliveries and dead inbox"
        " entries are kept until replayed.",
        example="timhooks db prune --older-than-days 1\n"
        "timhooks db prune --component inbox --db timhooks-inbox.db",
        json_help="a JSON object: the component and how many rows went",
    )
    prune.add_argument(
        "--db",
        metavar="URL",
        help=f"the database (default: {_DEFAULT_DB} for the server, {DEFAULT_INBOX} for the inbox)",
    )
    prune.add_argument(
        "--older-than-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="delete what finished before this many days ago",
    )
    prune.add_argument(
        "--component",
        choices=("server", "inbox"),
        default="server",
        help="server: the outbox of timhooks serve; inbox: that of a receiver",
    )
    prune.set_defaults(run=run_db_prune)

    usersig = add_command(
        commands,
        "usersig",
        summary="print a UserSig for a user of an app",
        example="timhooks usersig --app-id 1400000001 --key my-secret-key --user administrator",
    )
    usersig.add_argument(
        "--app-id", type=int, required=True, metavar="SDKAPPID", help="the app's SDKAppID"
    )
    usersig.add_argument(
        "--key", required=True, help="the app's secret key (timhooks serve prints it)"
    )
    usersig.add_argument("--user", required=True, metavar="ID", help="the UserID to sign for")
    usersig.add_argument(
        "--expire",
        type=int,
        default=DEFAULT_EXPIRE,
        metavar="SECONDS",
        help="seconds of validity",
    )
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


class _HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` of a server on a port of their own
    (``--metrics-port``: the only place a worker serves them)."""

    def __init__(self, sock: socket.socket, url: str, app: Any) -> None:
        from timhooks import hosting

        self.url = url
        self._uv = _QuietSignals(hosting.uvicorn_config(app, lifespan="off"))
        self._task = asyncio.get_running_loop().create_task(
            self._uv.serve(sock), name="timhooks-metrics"
        )

    async def close(self) -> None:
        """Stop serving and wait for it."""
        self._uv.request_exit()
        await self._task


def _health_server(host: str, port: int | None, server: Any) -> _HealthServer | None:
    """Serve ``server``'s metrics and health on ``port`` of ``host`` (None: nowhere)."""
    if port is None:
        return None
    from starlette.applications import Starlette

    from timhooks import hosting
    from timhooks.metrics import health_routes

    sock = hosting.bind(host, port)
    app = Starlette(routes=health_routes(server.metrics, server.ready))
    return _HealthServer(sock, f"{hosting.url_of(sock, host)}/metrics", app)


def run_serve(args: argparse.Namespace) -> int:
    """Start the Chat backend and serve until interrupted."""
    from timhooks import hosting
    from timhooks.server.app import ChatServer

    config = load_config(file=args.config, flags=_flags(args))
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
            "console": f"{hosting.url_of(sock, config.host)}/console/"
            if server.console_token
            else None,
            # Printed only when made here: a token given by flag or variable is the caller's.
            "console_token": server.console_token if not config.console_token else None,
        }
        if args.json:
            print_json(facts)
        else:
            print(f"timhooks serving Tencent Cloud Chat REST on {facts['url']}")
            for name in ("sdk_app_id", "key", "admin", "admin_usersig", "callback_url", "db"):
                print(f"  {name:<14} {facts[name] if facts[name] is not None else '(none)'}")
            if facts["console"]:
                print(f"  {'console':<14} {facts['console']}")
                if facts["console_token"]:
                    print(f"  {'console_token':<14} {facts['console_token']}")
        sys.stdout.flush()
        uv = _QuietSignals(hosting.uvicorn_config(server.asgi, limits=limits, lifespan="off"))
        health = _health_server(config.host, config.metrics_port, server)

        # SIGINT/SIGTERM end serving; then the dispatcher drains before the process exits.
        # The console's live streams end at once too, or uvicorn would wait for them.
        def request_exit() -> None:
            server.stopping = True
            uv.request_exit()

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, request_exit)
        try:
            await uv.serve(sock)
        finally:
            server.stopping = True
            if health is not None:
                await health.close()
            await server.stop()

    run_async(main())
    return 0


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
    default_db=_DEFAULT_DB,
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


def run_usersig(args: argparse.Namespace) -> int:
    """Print a UserSig."""
    print(
        generate_usersig(args.app_id, args.key, args.user, now=int(time.time()), expire=args.expire)
    )
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """Deliver after-webhooks from the shared database until interrupted."""
    from timhooks.server.worker import Worker

    # TIMHOOKS_DISPATCH=false (in an environment shared with serve) is serve's: a worker delivers.
    config = load_config(file=args.config, flags={**_flags(args), "dispatch": True})

    async def main() -> None:
        worker = Worker(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await worker.start()
        health = _health_server(config.host, config.metrics_port, worker)
        print(f"timhooks worker delivering from {describe_url(config.db)}", file=sys.stderr)
        if health is not None:
            print(f"  metrics and health on {health.url}", file=sys.stderr)
        sys.stderr.flush()
        try:
            await stop.wait()
        finally:
            if health is not None:
                await health.close()
            await worker.stop()

    run_async(main())
    return 0


_COMPONENTS = {
    "server": (SERVER_MIGRATIONS, _DEFAULT_DB),
    "inbox": (INBOX_MIGRATIONS, DEFAULT_INBOX),
}


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the schemas of an existing database (or create it, with --create)."""
    from timhooks.storage import open_writer

    names = list(_COMPONENTS) if args.component == "all" else [args.component]
    report: dict[str, list[int] | DatabaseNotFound] = {}
    for name in names:
        migrations, default_db = _COMPONENTS[name]
        db = args.db or default_db
        applied: list[int] = []
        try:
            open_writer(
                db, component=name, migrations=migrations, applied=applied, create=args.create
            ).close()
        except DatabaseNotFound as exc:
            if args.component != "all":
                raise DatabaseNotFound(f"{exc}; --create makes it") from exc
            report[name] = exc
            continue
        report[name] = applied
    if all(isinstance(outcome, DatabaseNotFound) for outcome in report.values()):
        details = "; ".join(str(exc) for exc in report.values())
        raise DatabaseNotFound(f"nothing to upgrade: {details}; --create makes them")
    if args.json:
        print_json({k: v for k, v in report.items() if isinstance(v, list)})
        return 0
    for name, outcome in report.items():
        where = describe_url(args.db or _COMPONENTS[name][1])
        if isinstance(outcome, DatabaseNotFound):
            print(f"{name}: skipped: {outcome}")
        elif outcome:
            print(f"{name}: applied migrations {outcome} to {where}")
        else:
            print(f"{name}: {where} is up to date")
    return 0


def run_db_prune(args: argparse.Namespace) -> int:
    """Delete what retention allows; print how many rows went."""
    before = time.time() - args.older_than_days * 86400
    log: Log[Any, Any] = OUTBOX_LOG if args.component == "server" else INBOX_LOG
    db = args.db or log.default_db
    pruned: int = with_store(lambda: open_log(log, db), lambda s: s.prune(before=before))
    if args.json:
        print_json({"component": args.component, "pruned": pruned})
    else:
        print(f"{args.component}: pruned {pruned} rows older than {args.older_than_days:g} days")
    return 0
