"""A small HTTP/1.1 client for webhook POSTs: keep-alive pools over asyncio streams.

Webhooks are one shape of request (POST, a small JSON body, a small JSON answer), sent very
often to a few hosts. A general client spends most of its time on generality (a keep-alive
pool of N connections was measured at ~300 requests/s with httpx against ~12,000 with plain
streams on the same machine), so the sender uses this one: per (scheme, host, port) a stack of
idle connections, requests written in one piece, answers read by Content-Length, chunked
transfer or connection close. Redirects are not followed (a 3xx is a failed webhook).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["HttpError", "HttpPool"]

_MAX_HEADERS = 64 * 1024
_USER_AGENT = b"timhooks"


class HttpError(Exception):
    """The request could not be completed (connection, protocol or size fault)."""


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class HttpPool:
    """Keep-alive connections per origin; ``post`` returns (status, body up to ``max_body``)."""

    def __init__(self, *, max_idle_per_origin: int = 256, max_body: int = 64 * 1024) -> None:
        self.max_idle = max_idle_per_origin
        self.max_body = max_body
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
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
            with contextlib.suppress(OSError, ssl.SSLError):
                await conn.writer.wait_closed()

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        content_type: bytes = b"application/json",
        connect_to: str | None = None,
    ) -> tuple[int, bytes]:
        """POST ``body`` to ``url``; ``connect_to`` pins the IP address to connect to."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {url[:80]!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise HttpError("the URL has a bad port") from None
        host = parts.hostname
        origin = (parts.scheme, host, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = host if ":" not in host else f"[{host}]"
        if parts.port:
            netloc = f"{netloc}:{port}"
        request = (
            f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\n".encode()
            + b"Content-Type: "
            + content_type
            + b"\r\nUser-Agent: "
            + _USER_AGENT
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        stack = self._idle.setdefault(origin, deque())
        while stack:
            conn = stack.pop()
            if not conn.usable():
                conn.close()
                continue
            try:
                return await self._exchange(conn, origin, request, stack)
            except _Stale:
                continue  # the server closed this idle connection before reading: try another
        conn = await self._connect(origin, connect_to)
        try:
            return await self._exchange(conn, origin, request, stack)
        except _Stale:
            raise HttpError("the server closed the connection without answering") from None

    async def _connect(self, origin: tuple[str, str, int], connect_to: str | None) -> _Conn:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            reader, writer = await asyncio.open_connection(
                connect_to or host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
                limit=_MAX_HEADERS,
            )
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"cannot connect to {host}:{port}: {exc}") from None
        return _Conn(reader, writer)

    async def _exchange(
        self, conn: _Conn, origin: tuple[str, str, int], request: bytes, stack: deque[_Conn]
    ) -> tuple[int, bytes]:
        done = False
        try:
            conn.writer.write(request)
            try:
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _Stale from None
                raise HttpError("the server closed the connection mid-answer") from None
            status, keep_alive, length, chunked = _parse_head(head)
            if chunked:
                body = await self._read_chunked(conn.reader)
            elif length is not None:
                if length > self.max_body:
                    keep_alive = False
                    body = await conn.reader.readexactly(self.max_body)
                else:
                    body = await conn.reader.readexactly(length)
            else:
                keep_alive = False
                body = await conn.reader.read(self.max_body)
            done = True
        except asyncio.LimitOverrunError:
            raise HttpError("the answer's headers are too large") from None
        except asyncio.IncompleteReadError:
            raise HttpError("the server closed the connection mid-answer") from None
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"connection error: {exc}") from None
        finally:
            if not done:
                conn.close()
        if keep_alive and not self._closed and len(stack) < self.max_idle:
            stack.append(conn)
        else:
            conn.close()
        return status, body

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                chunk = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError("bad chunk size in the answer") from None
            if chunk == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            size += chunk
            if size > self.max_body:
                raise HttpError(f"the answer is larger than {self.max_body} bytes")
            parts.append(await reader.readexactly(chunk))
            await reader.readexactly(2)


class _Stale(Exception):
    """An idle connection turned out closed before any answer byte."""


def _parse_head(head: bytes) -> tuple[int, bool, int | None, bool]:
    """Status, keep-alive, Content-Length and chunked of an answer's head."""
    lines = head.split(b"\r\n")
    try:
        version, code = lines[0].split(b" ", 2)[:2]
        status = int(code)
    except ValueError:
        raise HttpError(f"not an HTTP answer: {lines[0][:60]!r}") from None
    keep_alive = version == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit():
                raise HttpError("bad Content-Length in the answer")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            token = value.lower()
            if token == b"close":
                keep_alive = False
            elif token == b"keep-alive":
                keep_alive = True
    if status in (204, 304) or 100 <= status < 200:
        length = 0
    return status, keep_alive, length, chunked
