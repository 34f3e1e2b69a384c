"""The app ``timhooks listen`` serves: the receiver on every path, except ``/metrics``,
``/healthz``, ``/readyz`` and, with the console on, ``/console/``.

The receiver answers any path (a webhook URL may be any path), so these few are taken out of
its way here, before it; the lifespan is the receiver's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from timhooks.console.rejections import RejectionLog
from timhooks.metrics import ReceiverMetrics, health_routes
from timhooks.receiver.core import Receiver

__all__ = ["OWN_PATHS", "ListenApp"]

OWN_PATHS = ("/metrics", "/healthz", "/readyz")
"""Paths that are never webhooks on ``listen``."""


class ListenApp:
    """ASGI app: the receiver, with metrics, health and (optionally) the console beside it.

    ``webhooks`` is the app that takes every other path and the lifespan: the receiver's own
    ASGI app by default, or one wrapping it (``listen --forward-to``'s)."""

    def __init__(
        self,
        receiver: Receiver,
        *,
        webhooks: Any = None,
        metrics: ReceiverMetrics | None,
        console_token: str | None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.receiver = receiver
        self.webhooks = webhooks if webhooks is not None else receiver.asgi
        inbox = receiver.inbox

        async def ready() -> str | None:
            await inbox.get(0)  # the inbox database answers
            return None

        routes: list[BaseRoute] = list(health_routes(metrics, ready))
        self.rejections: RejectionLog | None = None
        if console_token is not None:
            from timhooks.console.inbox import inbox_console

            self.rejections = RejectionLog()
            receiver.observe(self.rejections)
            console = inbox_console(
                receiver, token=console_token, rejections=self.rejections, stopping=stopping
            )
            routes.append(console.mount())
        self.side = Starlette(routes=routes)
        self.console = console_token is not None

    def _ours(self, path: str) -> bool:
        if path in OWN_PATHS:
            return True
        return self.console and (path == "/console" or path.startswith("/console/"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Route one ASGI scope: ours to the side app, everything else to the receiver."""
        if scope["type"] == "http" and self._ours(scope["path"]):
            await self.side(scope, receive, send)
            return
        await self.webhooks(scope, receive, send)
