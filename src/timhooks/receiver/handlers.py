"""A receiver's handlers: registered per command, called with the event (and its meta).

``HandlerTable`` holds one handler per CallbackCommand and the ``"*"`` catch-all;
``call_handler`` runs one, async on the event loop or plain in a thread of a pool
(``timhooks.receiver.threads``), within a time limit.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from timhooks.protocol.errors import ConfigError
from timhooks.protocol.events import Event
from timhooks.protocol.query import Platform
from timhooks.receiver.threads import HandlerThreads

__all__ = ["ANY", "Handler", "HandlerTable", "Registered", "WebhookMeta", "call_handler"]

Handler = Callable[..., Any]
"""``handler(event)`` or ``handler(event, meta)``, sync or async.

Before-handlers return a Decision (None means allow); after-handlers return nothing.
"""

ANY = "*"


@dataclass(frozen=True, slots=True)
class WebhookMeta:
    """What a handler may want to know beyond the event: which app, client, attempt."""

    sdk_app_id: int
    command: str
    client_ip: str
    opt_platform: Platform
    received_at: float
    inbox_id: int | None = None
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Registered:
    """A handler and how to call it."""

    func: Handler
    wants_meta: bool
    is_async: bool


def _register(func: Handler) -> Registered:
    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return Registered(
        func,
        wants_meta=len(params) >= 2,
        is_async=inspect.iscoroutinefunction(func),
    )


class HandlerTable:
    """One handler per CallbackCommand, and ``"*"`` for every command without its own."""

    def __init__(self) -> None:
        self._handlers: dict[str, Registered] = {}

    def add(self, name: str, func: Handler) -> None:
        """Register ``func`` for the command ``name`` (or ``"*"``)."""
        if name in self._handlers:
            raise ConfigError(f"{name} already has a handler")
        self._handlers[name] = _register(func)

    def get(self, command: str) -> Registered | None:
        """The handler of ``command``: its own, else the catch-all, else None."""
        handlers = self._handlers
        return handlers.get(command) or handlers.get(ANY)


async def call_handler(
    handler: Registered,
    event: Event,
    meta: WebhookMeta,
    threads: HandlerThreads,
    time_limit: float,
) -> Any:
    """Run ``handler`` on ``event`` within ``time_limit`` seconds (TimeoutError past it) and
    return what it returned. A plain function runs in a thread of ``threads``; a coroutine
    function on the event loop, in the caller's task (no task of its own)."""
    args = (event, meta) if handler.wants_meta else (event,)
    async with asyncio.timeout(time_limit):
        if handler.is_async:
            return await handler.func(*args)
        result = await threads.run(handler.func, *args)
        if inspect.isawaitable(result):  # an object whose __call__ is async
            result = await result
        return result
