"""Assembly of the Chat backend: store, sender, service, dispatcher and the ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from timhooks.console.web import console_enabled, new_console_token
from timhooks.delivery.dispatcher import OutboxDispatcher
from timhooks.delivery.http import HttpTransport
from timhooks.delivery.sender import WebhookSender
from timhooks.metrics import ServerMetrics, health_routes
from timhooks.protocol.errors import ConfigError, StorageError
from timhooks.protocol.usersig import generate_usersig
from timhooks.server.config import CallbackConfig, ServerConfig, validate_callback_url
from timhooks.server.openapi import openapi_endpoint
from timhooks.server.rest import RestApi
from timhooks.server.service import ChatService
from timhooks.server.store import App, ServerStore

__all__ = ["ChatServer"]

log = logging.getLogger("timhooks.server")

_PRUNE_EVERY = 3600.0
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ChatServer:
    """A running Chat backend: ``await start()``, serve ``asgi``, ``await stop()``."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        transport: HttpTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = ServerStore(config.db, upgrade=config.upgrade)
        # The URL check at configuration time cannot see what a host name resolves to when a
        # webhook is sent: with private targets refused, the sender checks each time too.
        self.sender = WebhookSender(
            transport=transport, clock=clock, refuse_private=not config.allow_private_targets
        )
        self.service = ChatService(
            self.store,
            self.sender,
            clock=clock,
            allow_private_targets=config.allow_private_targets,
        )
        self.dispatcher = OutboxDispatcher(
            self.store,
            self.sender,
            self.service.route,
            concurrency=config.concurrency,
            max_timeout=self.service.max_timeout,
            clock=clock,
        )
        self.service.wake = self.dispatcher.wake
        self.rest = RestApi(self.service)
        # Metrics, health and the console (timhooks/metrics.py, timhooks/console/).
        self.metrics = ServerMetrics() if config.metrics else None
        if self.metrics is not None:
            self.rest.metrics = self.service.metrics = self.dispatcher.metrics = self.metrics
            self.metrics.on_scrape(self._count_backlog)
        self.console_token: str | None = None
        self.stopping = False
        extra: list[BaseRoute] = list(health_routes(self.metrics, self.ready))
        if console_enabled(config.console, config.host):
            from timhooks.console.server import server_console

            self.console_token = config.console_token or new_console_token()
            console = server_console(self, token=self.console_token, stopping=lambda: self.stopping)
            extra.append(console.mount())
        self.asgi = Starlette(
            routes=[
                *extra,
                # Every method: the endpoint answers anything but POST with 60002.
                Route("/v4/{service}/{command}", self.rest.endpoint, methods=_ANY_METHOD),
                # Any other path under /v4/ (an empty or extra segment) is a REST call naming
                # no command: an envelope with 60009, as for unknown names.
                Route("/v4/{path:path}", self.rest.unknown_path, methods=_ANY_METHOD),
                Route("/", self._about, methods=["GET"]),
                Route("/openapi.json", openapi_endpoint(self.service), methods=["GET"]),
            ],
            exception_handlers={404: _http_error, 405: _http_error},
            lifespan=self._lifespan,
        )
        self.default_app: App | None = None
        self._maintenance: asyncio.Task[None] | None = None

    async def _about(self, request: Request) -> JSONResponse:
        # Unauthenticated: it names the software only, never an app (SDKAppIDs are the first
        # half of every credential).
        return JSONResponse(
            {
                "name": "timhooks",
                "version": _version(),
                "rest": "POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=&random=",
            }
        )

    async def start(self) -> App:
        """Load the apps, create or update the configured one, start the dispatcher and
        maintenance; return the configured app."""
        await self.service.load()
        app = await self._configure_app()
        await self.start_worker()
        self.default_app = app
        return app

    async def start_worker(self) -> None:
        """Load the apps as stored and start the dispatcher and maintenance, changing no app
        (``timhooks worker``)."""
        await self.service.load()
        if self.config.dispatch:
            self.dispatcher.start()
        self._maintenance = asyncio.get_running_loop().create_task(
            self._maintain(), name="timhooks-maintenance"
        )

    async def _count_backlog(self) -> None:
        """Set the outbox gauges (before each scrape of /metrics)."""
        if self.metrics is not None:
            pending, oldest = await self.store.backlog()
            self.metrics.outbox(pending, oldest, self.clock())

    async def ready(self) -> str | None:
        """None when the database answers and, where this process delivers, the dispatcher
        runs; else what is wrong (``/readyz``)."""
        await self.store.backlog()
        if self.config.dispatch and not self.dispatcher.running:
            return "the dispatcher is not running"
        return None

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the dispatcher, close connections and the database."""
        self.stopping = True
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        await self.dispatcher.stop(grace)
        await self.sender.aclose()
        await self.store.close()

    async def _maintain(self) -> None:
        """Reload app settings other processes changed; prune old deliveries hourly."""
        cfg = self.config
        last_prune = 0.0
        while True:
            await asyncio.sleep(cfg.reload_interval)
            try:
                await self.service.load()
                now = self.clock()
                if cfg.retention_days > 0 and now - last_prune >= _PRUNE_EVERY:
                    last_prune = now
                    pruned = await self.store.prune(before=now - cfg.retention_days * 86400)
                    if pruned:
                        log.info("pruned %d finished deliveries", pruned)
            except StorageError as exc:
                log.error("maintenance failed: %s", exc)

    @asynccontextmanager
    async def _lifespan(self, app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def _configure_app(self) -> App:
        """The app of ``--app-id``/``--key``, else the only stored app, else a new one."""
        cfg = self.config
        apps = self.service.apps
        if cfg.app_id is not None:
            app = apps.get(cfg.app_id)
            key = cfg.key or (app.key if app else secrets.token_hex(32))
        elif apps:
            app = apps[min(apps)]
            key = cfg.key or app.key
        else:
            app = None
            key = cfg.key or secrets.token_hex(32)
        app_id = cfg.app_id or (app.sdk_app_id if app else 1400000000 + secrets.randbelow(10**8))
        if app is not None and key != app.key:
            # Every UserSig is an HMAC under the app's key (Tencent's TLSSigAPIv2 generators), so
            # replacing it invalidates all of them: only on request, and said in the log.
            if not cfg.rotate_key:
                raise ConfigError(
                    f"app {app_id} already has a different secret key in its database; replacing"
                    " it invalidates every UserSig made with the stored one: leave --key out to"
                    " keep it, or add --rotate-key to replace it"
                )
            log.warning(
                "app %d: secret key rotated; UserSigs made with the old key no longer verify",
                app_id,
            )
        callback = cfg.startup_callback(app.callback if app else CallbackConfig())
        if callback.url is not None:
            validate_callback_url(callback.url, allow_private=cfg.allow_private_targets)
        admins = cfg.admins if cfg.admins else (app.admins if app else ("administrator",))
        new = App(sdk_app_id=app_id, key=key, admins=tuple(admins), callback=callback)
        if new != app:
            await self.store.put_app(new, now=self.clock())
        return new

    def admin_usersig(self, app: App) -> str:
        """A fresh UserSig for the app's first admin (180 days)."""
        return generate_usersig(app.sdk_app_id, app.key, app.admins[0], now=int(self.clock()))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """A path outside the REST API: its HTTP status, with the reason in an envelope."""
    status = getattr(exc, "status_code", 404)
    info = f"{request.method} {request.url.path} is not served here; REST calls are POST /v4/"
    body = {"ActionStatus": "FAIL", "ErrorCode": status, "ErrorInfo": info + "{service}/{command}"}
    return JSONResponse(body, status_code=status)


def _version() -> str:
    import timhooks

    return str(timhooks.__version__)
