"""``timhooks serve`` and ``timhooks worker``: the Chat backend and the outbox's workers."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from typing import Any

from timhooks.cli.output import (
    print_json,
    run_async,
)
from timhooks.cli.parser import add_command
from timhooks.server.config import SETTINGS, default_text, load_config
from timhooks.storage import describe_url

__all__ = ["add_commands"]


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
