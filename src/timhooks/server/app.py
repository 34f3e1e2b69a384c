"""The Chat backend: a ``Worker`` (store, apps, sender, dispatcher, upkeep) with the REST API
over it, as one ASGI app."""

from __future__ import annotations

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
from timhooks.delivery.http import HttpTransport
from timhooks.metrics import health_routes
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.usersig import generate_usersig
from timhooks.server.apps import App
from timhooks.server.config import CallbackConfig, ServerConfig, validate_callback_url
from timhooks.server.openapi import openapi_endpoint
from timhooks.server.rest import RestApi
from timhooks.server.service import ChatService
from timhooks.server.worker import Worker

__all__ = ["ChatServer"]

log = logging.getLogger("timhooks.server")

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
        self.worker = Worker(config, transport=transport, clock=clock)
        self.config, self.clock = config, clock
        # The worker's parts, by the names the CLI and tests use.
        self.store, self.apps = self.worker.store, self.worker.apps
        self.sender, self.dispatcher = self.worker.sender, self.worker.dispatcher
        self.service = ChatService(
            self.store,
            self.sender,
            self.apps,
            wake=self.dispatcher.wake,
            clock=clock,
            allow_private_targets=config.allow_private_targets,
        )
        self.rest = RestApi(self.service)
        # Metrics, health and the console (timhooks/metrics.py, timhooks/console/).
        self.metrics = self.worker.metrics
        if self.metrics is not None:
            self.rest.metrics = self.service.metrics = self.metrics
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
                Route("/openapi.json", openapi_endpoint(self.rest.commands), methods=["GET"]),
            ],
            exception_handlers={404: _http_error, 405: _http_error},
            lifespan=self._lifespan,
        )
        self.default_app: App | None = None

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
        await self.apps.load()
        app = await self._configure_app()
        await self.worker.start()
        self.default_app = app
        return app

    async def start_worker(self) -> None:
        """Load the apps as stored and start the dispatcher and maintenance, changing no app
        (what ``timhooks worker`` runs, without the REST API: ``Worker``)."""
        await self.worker.start()

    async def ready(self) -> str | None:
        """None when the database answers and, where this process delivers, the dispatcher
        runs; else what is wrong (``/readyz``)."""
        return await self.worker.ready()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the dispatcher, close connections and the database."""
        self.stopping = True
        await self.worker.stop(grace)

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
        apps = self.apps
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
            await self.apps.put(new, now=self.clock())
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
