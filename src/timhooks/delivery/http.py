"""A small HTTP/1.1 client for webhook POSTs: keep-alive pools over asyncio, answers read by llhttp.

Webhooks are one shape of request (POST, a small JSON body, a small JSON answer), sent very
often to a few hosts. A general client spends most of its time on generality (a keep-alive
pool of N connections was measured at ~300 requests/s with httpx against ~12,000 with plain
streams on the same machine), so the sender uses this one: per (scheme, host, port) a stack of
idle connections, each request written in one piece, each answer framed by httptools' llhttp
parser (uvicorn's), which also reads past interim 1xx answers. Redirects are not followed (a 3xx
is a failed webhook).

A connection goes back to the pool only when its answer was read completely and cleanly: the
whole request written, the final answer complete with keep-alive, and not a byte more. Anything
else closes it, so one request's answer can never be read by the next request.

``HttpTransport`` is the sender's one seam: ``HttpPool`` implements it, and tests that must not
touch the network pass a fake with the same two methods.
"""

from __future__ import annotations

import asyncio
import functools
import select
import ssl
from collections import deque
from typing import Protocol, cast
from urllib.parse import urlsplit

import httptools

from timhooks.protocol.errors import DeliveryError

__all__ = ["HttpError", "HttpPool", "HttpTransport"]

_MAX_HEAD = 64 * 1024
_USER_AGENT = b"timhooks"


class HttpError(DeliveryError):
    """The request could not be completed (connection, protocol or size fault)."""


class HttpTransport(Protocol):
    """What the webhook sender posts through: ``HttpPool``, or a test's fake."""

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``url`` (connecting to ``connect_to`` if given): the final answer's
        status and body, or HttpError."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


class _Connection(asyncio.Protocol):
    """One connection: a request at a time, its answer fed to llhttp as it arrives."""

    def __init__(self, max_body: int, lost: asyncio.Future[None]) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.lost = lost
        self._poller: select.poll | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.body: list[bytes] = []
        self.error: HttpError | None = None
        self.complete = False
        self.keep_alive = False
        self.dirty = False  # bytes beyond the answer arrived
        self._received = 0
        self._size = 0
        self._head_done = False
        self._framed = False

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for (on an idle connection, or after the answer): the
            # connection is out of step with its requests.
            self.dirty = True
            self.close()
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.complete and self.error is None:
                self.error = HttpError(f"malformed answer: {exc}")
                self.error.__cause__ = exc  # raised later, by exchange
            self.dirty = True
        if self.error is None and not self._head_done and self._received > _MAX_HEAD:
            self.error = HttpError(f"the answer's headers are larger than {_MAX_HEAD} bytes")
        if self.complete or self.error is not None:
            self._waiter.set_result(None)

    def eof_received(self) -> bool:
        self._ended("")
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(f": {exc}" if exc is not None else "", exc)
        if not self.lost.done():
            self.lost.set_result(None)

    def _ended(self, why: str, cause: Exception | None = None) -> None:
        """The peer closed its side: that ends a close-delimited answer, and fails any other."""
        waiter = self._waiter
        self.dirty = True
        if waiter is None or waiter.done():
            return
        if self._head_done and not self._framed and self.error is None:
            # No Content-Length and no chunking: the body runs to the close (RFC 9112 6.3).
            self.complete = True
        elif self.error is None:
            if self._received == 0:
                self.error = HttpError(f"the server closed the connection without answering{why}")
            else:
                self.error = HttpError(f"the server closed the connection mid-answer{why}")
            self.error.__cause__ = cause
        waiter.set_result(None)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.dirty = True  # a second answer begins after the one asked for: stop there
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            self._framed = True
        elif name == b"transfer-encoding":
            # Chunked only as the last coding frames a response; any other reads to the close.
            self._framed = value.rstrip().lower().endswith(b"chunked")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self._head_done = True
        if self.status == 101:
            self.error = HttpError("the server switched protocols unasked")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_body:
            self.error = HttpError(f"the answer is larger than {self.max_body} bytes")
            raise _Stop
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete or self.error is not None:
            return
        if 100 <= self.status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the final one follows.
            self.status = 0
            self.body = []
            self._size = 0
            self._head_done = False
            self._framed = False
            return
        self.complete = True

    # -- the pool's side ---------------------------------------------------------------------

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Write ``request`` and wait for its final answer."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.dirty:
            # Closed by the peer between connecting and this request: nothing was written.
            raise HttpError("the server closed the connection without answering")
        self._reset()
        # The parser goes on from the last answer: a connection is used again only after a
        # complete, clean one (``reusable``), where llhttp waits for the next message.
        self._waiter = asyncio.get_running_loop().create_future()
        transport.write(request)
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self.error is not None:
            raise self.error
        return self.status, b"".join(self.body)

    def reusable(self) -> bool:
        """The answer was read completely and cleanly, the request written whole."""
        transport = self.transport
        return (
            self.complete
            and self.keep_alive
            and not self.dirty
            and transport is not None
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        )

    def closed_while_idle(self) -> bool:
        """The peer closed (or wrote to) this idle connection, as far as can be seen now."""
        transport = self.transport
        if self.dirty or transport is None or transport.is_closing():
            return True
        # An idle connection has nothing to read: readable means its end of stream (or stray
        # bytes) arrived and the event loop has not run its callbacks yet.
        if self._poller is not None:
            return bool(self._poller.poll(0))
        sock = transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.transport is not None:
            self.transport.close()


@functools.lru_cache(maxsize=1024)
def _request_head(url: str) -> tuple[tuple[str, str, int], bytes]:
    """The origin of ``url`` and its request head up to the Content-Length value (the same
    for every webhook of one second: the Sign and RequestTime change once a second)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url[:80]!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise HttpError("the URL has a bad port") from exc
    host = parts.hostname
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = host if ":" not in host else f"[{host}]"
    if parts.port:
        netloc = f"{netloc}:{port}"
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\n".encode()
        + b"Content-Type: application/json\r\nUser-Agent: "
        + _USER_AGENT
        + b"\r\nContent-Length: "
    )
    return (parts.scheme, host, port), head


class _Stop(Exception):
    """Stops llhttp from a callback (an answer over the size limit, bytes beyond the answer)."""


class HttpPool:
    """Keep-alive connections per origin; ``post`` returns (status, body up to ``max_body``)."""

    def __init__(self, *, max_idle_per_origin: int = 256, max_body: int = 64 * 1024) -> None:
        self.max_idle = max_idle_per_origin
        self.max_body = max_body
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def aclose(self) -> None:
        """Close every idle connection."""
        self._closed = True
        conns = [c for stack in self._idle.values() for c in stack]
        self._idle.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            await conn.lost

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        connect_to: str | None = None,
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``url``; ``connect_to`` pins the IP address to connect to."""
        origin, head = _request_head(url)
        request = head + str(len(body)).encode() + b"\r\n\r\n" + body
        stack = self._idle.setdefault(origin, deque())
        conn: _Connection | None = None
        # The only retry: a stale keep-alive connection (closed by its peer while idle) is found
        # out before anything of the request is written to it (its end of stream was seen, or
        # its socket polls readable), and the request goes on the next idle connection or a new
        # one. Once the request is written, any fault is this post's error and the request is
        # never sent again here: the receiver may have acted on it (a POST is not idempotent),
        # and the outbox's retry policy decides what happens next.
        while stack:
            candidate = stack.pop()
            if candidate.closed_while_idle():
                candidate.close()
                continue
            conn = candidate
            break
        if conn is None:
            conn = await self._connect(origin, connect_to)
        clean = False
        try:
            answer = await conn.exchange(request)
            clean = conn.reusable()
        finally:
            if clean and not self._closed and len(stack) < self.max_idle:
                stack.append(conn)
            else:
                conn.close()
        return answer

    async def _connect(self, origin: tuple[str, str, int], connect_to: str | None) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(self.max_body, lost),
                connect_to or host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn
