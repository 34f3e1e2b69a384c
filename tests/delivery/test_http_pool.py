"""The sender's HTTP/1.1 pool against a raw loopback server that answers in every framing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from timhooks.delivery.http import HttpError, HttpPool

Answer = Callable[[bytes], Awaitable[bytes | None]]


@contextlib.asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[tuple[str, list[int]]]:
    """A server reading POSTs (Content-Length bodies) and writing whatever ``answer`` returns.

    ``answer`` returning None closes the connection without answering. Yields the base URL and
    a list that counts connections accepted.
    """
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                reply = await answer(body)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", accepted
    finally:
        server.close()
        await server.wait_closed()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def test_keep_alive_reuses_one_connection() -> None:
    """Sequential posts to one origin travel over one kept-alive connection."""

    async def echo(body: bytes) -> bytes:
        return ok(body)

    async with raw_server(echo) as (url, accepted):
        pool = HttpPool()
        try:
            for n in range(5):
                status, body = await pool.post(f"{url}?n={n}", b'{"n":%d}' % n)
                assert (status, body) == (200, b'{"n":%d}' % n)
        finally:
            await pool.aclose()
        assert len(accepted) == 1


async def test_chunked_and_close_delimited_answers() -> None:
    """Chunked answers are reassembled; an answer without length ends at connection close."""
    replies = iter(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n',
            b"HTTP/1.0 500 Oops\r\n\r\nplain text",
        ]
    )

    async def scripted(body: bytes) -> bytes:
        return next(replies)

    async with raw_server(scripted) as (url, _):
        pool = HttpPool()
        try:
            assert await pool.post(url, b"{}") == (200, b'{"a":1}')
            assert await pool.post(url, b"{}") == (500, b"plain text")
        finally:
            await pool.aclose()


async def test_server_closing_an_idle_connection_is_survived() -> None:
    """A kept-alive connection the server dropped is replaced, not reported as a failure."""
    calls = 0

    async def once_then_close(body: bytes) -> bytes | None:
        nonlocal calls
        calls += 1
        return ok(b"{}", b"Connection: close\r\n") if calls % 2 else ok(b"{}")

    async with raw_server(once_then_close) as (url, accepted):
        pool = HttpPool()
        try:
            for _ in range(4):
                assert (await pool.post(url, b"{}"))[0] == 200
        finally:
            await pool.aclose()
        assert len(accepted) >= 2


async def test_faults_are_http_errors() -> None:
    """No answer, a garbage status line, a bad length or a refused port raise HttpError."""

    async def silent(body: bytes) -> bytes | None:
        return None

    async def garbage(body: bytes) -> bytes:
        return b"SPDY/9 what\r\n\r\n"

    async def bad_length(body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"

    for answer, message in ((silent, "closed"), (garbage, "not an HTTP"), (bad_length, "Length")):
        async with raw_server(answer) as (url, _):
            pool = HttpPool()
            try:
                with pytest.raises(HttpError, match=message):
                    await pool.post(url, b"{}")
            finally:
                await pool.aclose()
    async with raw_server(silent) as (url, _):
        refused = url
    pool = HttpPool()
    try:
        with pytest.raises(HttpError, match="cannot connect"):
            await pool.post(refused, b"{}")
        with pytest.raises(HttpError, match="not an http"):
            await pool.post("ftp://127.0.0.1/x", b"{}")
    finally:
        await pool.aclose()


async def test_large_answers_are_cut_and_the_connection_dropped() -> None:
    """Only max_body bytes of an answer are kept; that connection is not reused."""
    big = b"x" * 5000

    async def large(body: bytes) -> bytes:
        return ok(big)

    async with raw_server(large) as (url, accepted):
        pool = HttpPool(max_body=1000)
        try:
            status, body = await pool.post(url, b"{}")
            assert status == 200
            assert body == big[:1000]
            await pool.post(url, b"{}")
        finally:
            await pool.aclose()
        assert len(accepted) == 2


async def test_concurrent_posts_open_parallel_connections() -> None:
    """Concurrent posts each get a connection; all answers match their requests."""

    async def slow_echo(body: bytes) -> bytes:
        await asyncio.sleep(0.01)
        return ok(body)

    async with raw_server(slow_echo) as (url, accepted):
        pool = HttpPool()
        try:
            answers = await asyncio.gather(*(pool.post(url, b"%d" % n) for n in range(20)))
        finally:
            await pool.aclose()
        assert [a[1] for a in answers] == [b"%d" % n for n in range(20)]
        assert 1 < len(accepted) <= 20
