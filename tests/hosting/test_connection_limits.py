"""LimitedHttpProtocol under uvicorn, in process, over real loopback sockets: head size and
head time, idle and unread-body connections, and the connection cap.

Deadlines are configured at 1 s and the tests allow 10 s for the server to act, so a verdict
never depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from loopback import HOST
from timhooks import hosting

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ALLOWED = 10.0  # seconds the server gets to act on a 1 s deadline
GET = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


STARTED: list[asyncio.Queue[str]] = []  # the path of every request the app begins


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """200 "ok" after reading the whole body; /noread answers 413 without reading it."""
    if scope["type"] != "http":
        return
    STARTED[-1].put_nowait(scope["path"])
    if scope["path"] != "/noread":
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            more = message.get("more_body", False)
    status, body = (413, b"too large") if scope["path"] == "/noread" else (200, b"ok")
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(
    *, max_connections: int = 1024, max_head_bytes: int = 64 * 1024, head_deadline: float = 1.0
) -> AsyncIterator[int]:
    """uvicorn with LimitedHttpProtocol (1 s head deadline, 1 s keep-alive) on a free port."""
    STARTED.append(asyncio.Queue())
    limits = hosting.ConnectionLimits(
        max_connections=max_connections,
        max_head_bytes=max_head_bytes,
        head_deadline=head_deadline,
    )
    sock = hosting.bind(HOST, 0)
    config = hosting.uvicorn_config(app, limits=limits, lifespan="off", keep_alive=1.0)
    config.timeout_graceful_shutdown = 5
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client connection to the server under test."""
    return await asyncio.open_connection(HOST, port, limit=1 << 20)


async def status(reader: asyncio.StreamReader) -> int:
    """The status code of the next response; its body is read by Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ALLOWED)
    lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), ALLOWED)
    return int(lines[0].split()[1])


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection within the allowed time (nothing more read)."""
    try:
        rest = await asyncio.wait_for(reader.read(), ALLOWED)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return rest == b""


async def started(count: int) -> None:
    """Wait until the app has begun ``count`` requests."""
    for _ in range(count):
        await asyncio.wait_for(STARTED[-1].get(), ALLOWED)


def close(*writers: asyncio.StreamWriter) -> None:
    """Close client connections."""
    for writer in writers:
        writer.close()


async def test_a_head_over_the_cap_is_answered_431_and_closed() -> None:
    """A head that passes max_head_bytes unfinished gets 431 and the connection is closed."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(b"POST / HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 70_000)
        assert await status(reader) == 431
        assert await closed(reader)
        close(writer)


async def test_a_head_within_the_cap_is_served_and_the_connection_kept() -> None:
    """A head just under the cap is served, and the connection serves the next request."""
    async with serving() as port:
        reader, writer = await connect(port)
        big = b"GET / HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 65_000 + b"\r\n\r\n"
        assert len(big) < 64 * 1024
        writer.write(big)
        assert await status(reader) == 200
        writer.write(GET)
        assert await status(reader) == 200
        close(writer)


async def test_a_head_cut_across_the_cap_in_one_read_is_counted() -> None:
    """Two pipelined requests whose heads total more than the cap are both served: the cap
    is per head, counted across reads."""
    async with serving(max_head_bytes=1024) as port:
        reader, writer = await connect(port)
        one = b"GET / HTTP/1.1\r\nHost: test\r\nX-Pad: " + b"a" * 700 + b"\r\n\r\n"
        writer.write(one + one)
        assert (await status(reader), await status(reader)) == (200, 200)
        writer.write(b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 2000 + b"\r\n\r\n")
        assert await status(reader) == 431
        close(writer)


async def test_a_silent_connection_is_closed_after_the_head_deadline() -> None:
    """A connection that sends nothing is closed after the head deadline."""
    async with serving() as port:
        reader, writer = await connect(port)
        assert await closed(reader)
        close(writer)


async def test_a_dribbled_head_is_answered_408_and_closed() -> None:
    """A head sent a byte at a time is answered 408 at its deadline and closed."""
    async with serving() as port:
        reader, writer = await connect(port)

        async def dribble() -> None:
            for byte in GET:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        dribbling = asyncio.create_task(dribble())
        assert await status(reader) == 408
        assert await closed(reader)
        dribbling.cancel()
        close(writer)


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    """After a response, a connection left idle is closed after the keep-alive timeout."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(GET)
        assert await status(reader) == 200
        assert await closed(reader)
        close(writer)


async def test_stray_bytes_after_a_response_do_not_hold_the_connection() -> None:
    """Blank lines sent after a response, which begin no request, do not keep it open: they
    are answered 408 once the keep-alive timeout and the head deadline have passed."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(GET)
        assert await status(reader) == 200

        async def stray() -> None:
            while True:
                writer.write(b"\r\n")
                await asyncio.sleep(0.2)

        straying = asyncio.create_task(stray())
        assert await status(reader) == 408
        assert await closed(reader)
        straying.cancel()
        close(writer)


async def test_a_body_left_unread_closes_the_connection() -> None:
    """An answer sent before the body arrived closes the connection, so the rest of a
    dribbling body cannot hold it."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(b"POST /noread HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
        writer.write(b"x" * 10)
        assert await status(reader) == 413

        async def dribble() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(100):
                    writer.write(b"x")
                    await asyncio.sleep(0.1)

        dribbling = asyncio.create_task(dribble())
        assert await closed(reader)
        dribbling.cancel()
        close(writer)


async def test_at_the_cap_the_longest_waiting_connection_makes_room() -> None:
    """With the cap reached by connections that sent nothing, a new client is served and the
    oldest silent connection is closed for it (long before its head deadline)."""
    async with serving(max_connections=20, head_deadline=60.0) as port:
        # The kernel queues connections in order and uvicorn accepts them in that order.
        silent = [await connect(port) for _ in range(20)]
        reader, writer = await connect(port)
        writer.write(GET)
        assert await status(reader) == 200
        assert await closed(silent[0][0])
        close(writer, *(w for _, w in silent))


async def test_at_the_cap_with_every_connection_in_a_request_a_new_one_gets_503() -> None:
    """With the cap reached by requests in progress, a new client is answered 503 at once and
    closed, and the requests in progress are then answered 200."""
    async with serving(max_connections=20) as port:
        busy = [await connect(port) for _ in range(20)]
        for _, writer in busy:
            writer.write(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\nab")
        await started(20)
        reader, writer = await connect(port)
        assert await status(reader) == 503
        assert await closed(reader)
        for _, w in busy:
            w.write(b"cd")
        assert [await status(r) for r, _ in busy] == [200] * 20
        close(writer, *(w for _, w in busy))


async def test_pipelined_requests_are_answered_in_order() -> None:
    """Requests sent back to back in one write are all answered on the connection."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(GET * 3)
        assert [await status(reader) for _ in range(3)] == [200, 200, 200]
        close(writer)
