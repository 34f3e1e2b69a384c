"""Raw loopback HTTP servers for the delivery tests: they write exact bytes, count connections
and record the requests they read."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from timhooks.delivery.http import HttpPool

# A bound on every exchange, so a pool that waits for an answer that never comes fails the test
# instead of hanging it (not a timing assertion: a correct pool answers at once).
BOUND = 10.0


@dataclass
class RawServer:
    """A loopback server under a test's control: its URL, connections and requests seen."""

    url: str
    accepted: int = 0
    requests: list[bytes] = field(default_factory=list)


Handler = Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(
    server: RawServer, reader: asyncio.StreamReader, *, body: bool = True
) -> bytes | None:
    """One POST's body (its Content-Length bytes), recorded; None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        data = await reader.readexactly(length) if body else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    server.requests.append(data)
    return data


@contextlib.asynccontextmanager
async def raw_server(handler: Handler, *, rcvbuf: int | None = None) -> AsyncIterator[RawServer]:
    """Serve every connection with ``handler`` on 127.0.0.1; the connection closes after it.

    ``rcvbuf`` fixes the accepted sockets' receive buffer (no autotuning), so that what a client
    can push into a server that does not read is bounded."""
    state = RawServer(url="")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        try:
            await handler(state, reader, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(serve, sock=sock)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def answering(answer: Callable[[bytes], bytes | None]) -> Handler:
    """A handler that writes ``answer(body)`` to each request; None closes without answering."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (body := await read_request(server, reader)) is not None:
            reply = answer(body)
            if reply is None:
                return
            writer.write(reply)
            await writer.drain()

    return handler


async def write_in_pieces(writer: asyncio.StreamWriter, *pieces: bytes) -> None:
    """Write each piece on its own, letting the loop turn in between (separate segments)."""
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        for _ in range(3):
            await asyncio.sleep(0)


def ok(body: bytes, extra: bytes = b"") -> bytes:
    """A 200 answer framed by Content-Length, with ``extra`` header lines."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@contextlib.asynccontextmanager
async def pool(**options: int) -> AsyncIterator[HttpPool]:
    """An HttpPool, always closed."""
    http = HttpPool(**options)
    try:
        yield http
    finally:
        await http.aclose()


async def post(http: HttpPool, url: str, body: bytes) -> tuple[int, bytes]:
    """One POST through ``http``, bounded (see BOUND)."""
    async with asyncio.timeout(BOUND):
        return await http.post(url, body)
