"""The receiver as a bare ASGI application.

It answers every path it is given, reads at most ``max_body`` bytes (a larger declared or
streamed body gets 413 without being read further) within ``body_deadline`` seconds (a body that
dribbles in or never ends gets 408) and hands the request to ``Receiver.handle``.
It serves the ASGI lifespan too, so run directly under uvicorn it starts and stops its inbox
worker. Inside Starlette or FastAPI, route to it with ``Route("/path", receiver.asgi)`` (a Mount
would redirect ``/path`` to ``/path/``) and pass ``receiver.lifespan`` to the parent app (the
worker also starts on the first request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from timhooks.protocol.decisions import ACK_BODY
from timhooks.receiver.observe import Cause
from timhooks.receiver.response import WebhookEndpoint, WebhookResponse
from timhooks.request_body import (
    BODY_DEADLINE,
    BadContentLength,
    BodyError,
    BodyTooLarge,
    BodyTooSlow,
    read_body,
)

__all__ = ["DEFAULT_BODY_DEADLINE", "ReceiverApp"]

DEFAULT_BODY_DEADLINE = BODY_DEADLINE
"""Seconds a body may take to arrive (``timhooks.request_body``)."""

_CAUSES: dict[type[BodyError], Cause] = {
    BodyTooLarge: Cause.TOO_LARGE,
    BodyTooSlow: Cause.SLOW_BODY,
    BadContentLength: Cause.BAD_BODY,
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HEADERS = [(b"content-type", b"application/json")]
# The headers of Tencent's OK answer, the answer of almost every request: built once.
_ACK_HEADERS = [*_HEADERS, (b"content-length", str(len(ACK_BODY)).encode())]


def _peer(scope: Scope) -> str | None:
    """The client's "host:port" from the ASGI scope, when the server gives it."""
    client = scope.get("client")
    if not client:
        return None
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class ReceiverApp:
    """ASGI application around a Receiver."""

    def __init__(
        self, receiver: WebhookEndpoint, *, body_deadline: float = DEFAULT_BODY_DEADLINE
    ) -> None:
        self.receiver = receiver
        self.body_deadline = body_deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        method: str = scope["method"]
        query: bytes = scope.get("query_string", b"")
        peer = _peer(scope)
        receiver = self.receiver
        if method != "POST":
            await self._send(send, await receiver.handle(method, query, b"", peer=peer))
            return
        try:
            body = await read_body(
                scope.get("headers", ()),
                receive,
                limit=receiver.max_body,
                deadline=self.body_deadline,
            )
        except BodyError as exc:
            cause = _CAUSES[type(exc)]
            rejected = receiver.reject(exc.status, cause, str(exc), query=query, peer=peer)
            await self._send(send, rejected)
            return
        if body is None:
            return  # the client went away
        await self._send(send, await receiver.handle(method, query, body, peer=peer))

    @staticmethod
    async def _send(send: Send, response: WebhookResponse) -> None:
        body = response.body
        if body is ACK_BODY:
            headers = _ACK_HEADERS
        else:
            headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.receiver.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.receiver.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
