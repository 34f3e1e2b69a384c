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

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from timhooks.receiver.core import Receiver, WebhookResponse, _too_large
from timhooks.receiver.observe import Cause

__all__ = ["DEFAULT_BODY_DEADLINE", "ReceiverApp"]

# Tencent gives up on a webhook after 2 s (reference 1.4), so a body still arriving after 10 s is
# not Tencent's: a slow or endless body (slowloris) must not hold a connection and task for ever.
DEFAULT_BODY_DEADLINE = 10.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HEADERS = [(b"content-type", b"application/json")]


def _peer(scope: Scope) -> str | None:
    """The client's "host:port" from the ASGI scope, when the server gives it."""
    client = scope.get("client")
    if not client:
        return None
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class ReceiverApp:
    """ASGI application around a Receiver."""

    def __init__(self, receiver: Receiver, *, body_deadline: float = DEFAULT_BODY_DEADLINE) -> None:
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
        limit = receiver.max_body
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    why = "Content-Length is not a number"
                    rejected = receiver._reject(400, Cause.BAD_BODY, why, query=query, peer=peer)
                    await self._send(send, rejected)
                    return
                if int(value) > limit:
                    await self._send(send, self._too_large(query, peer))
                    return
                break
        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            async with asyncio.timeout(self.body_deadline):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk: bytes = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await self._send(send, self._too_large(query, peer))
                        return
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            late = f"the body did not arrive within {self.body_deadline:g} s"
            rejected = receiver._reject(408, Cause.SLOW_BODY, late, query=query, peer=peer)
            await self._send(send, rejected)
            return
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await self._send(send, await receiver.handle(method, query, body, peer=peer))

    def _too_large(self, query: bytes, peer: str | None) -> WebhookResponse:
        why = _too_large(self.receiver.max_body)
        return self.receiver._reject(413, Cause.TOO_LARGE, why, query=query, peer=peer)

    @staticmethod
    async def _send(send: Send, response: WebhookResponse) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [*_HEADERS, (b"content-length", str(len(response.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

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
