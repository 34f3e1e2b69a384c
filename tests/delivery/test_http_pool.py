"""The sender's HTTP/1.1 pool against raw loopback servers that write exact bytes."""

from __future__ import annotations

import asyncio
import select
from pathlib import Path

import pytest
from delivery_support import (
    BOUND,
    RawServer,
    answering,
    ok,
    pool,
    post,
    raw_server,
    read_request,
    write_in_pieces,
)

from timhooks.delivery.http import HttpError
from timhooks.protocol.errors import DeliveryError

# --- framing ------------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    """Sequential posts to one origin travel over one kept-alive connection."""
    async with raw_server(answering(ok)) as server, pool() as http:
        for n in range(5):
            assert await post(http, f"{server.url}?n={n}", b'{"n":%d}' % n) == (
                200,
                b'{"n":%d}' % n,
            )
    assert server.accepted == 1


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
    ],
)
async def test_interim_answers_are_skipped(interim: bytes) -> None:
    """1xx answers (103 Early Hints, an unasked 100 Continue) are read past: each post gets its
    own final answer, and the next post on the connection reads its own, not the previous one."""
    async with raw_server(answering(lambda body: interim + ok(body))) as server, pool() as http:
        for n in range(3):
            assert await post(http, server.url, b'{"n":%d}' % n) == (200, b'{"n":%d}' % n)
    assert server.accepted == 1


async def test_close_delimited_body_arrives_in_pieces() -> None:
    """An answer with neither Content-Length nor chunking ends at connection close, however
    many pieces it arrives in."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        await write_in_pieces(writer, head, b'{"Action', b'Status":', b'"OK"}')

    async with raw_server(handler) as server, pool() as http:
        assert await post(http, server.url, b"{}") == (200, b'{"ActionStatus":"OK"}')
        assert await post(http, server.url, b"{}") == (200, b'{"ActionStatus":"OK"}')
    assert server.accepted == 2


async def test_http_1_0_answer_without_length_ends_at_close() -> None:
    """An HTTP/1.0 answer without a length is read to the close, and its connection dropped."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(b"HTTP/1.0 500 Oops\r\n\r\nplain text")

    async with raw_server(handler) as server, pool() as http:
        assert await post(http, server.url, b"{}") == (500, b"plain text")
        assert await post(http, server.url, b"{}") == (500, b"plain text")
    assert server.accepted == 2


async def test_chunked_answer_with_extensions_and_trailers() -> None:
    """Chunk extensions are ignored and trailers read past; the connection is then reused."""

    def chunked(body: bytes) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
            b'4;name=value;flag\r\n{"n"\r\n%x;quoted="a;b c"\r\n%s\r\n0;last\r\nX-Sum: 1\r\n'
            b"X-Other: 2\r\n\r\n" % (len(body) - 4, body[4:])
        )

    async with raw_server(answering(chunked)) as server, pool() as http:
        for n in range(3):
            assert await post(http, server.url, b'{"n":%d}' % n) == (200, b'{"n":%d}' % n)
    assert server.accepted == 1


def _split_answers(n: int) -> list[bytes]:
    """The answers of the split test for request ``n``: by Content-Length, and chunked (with
    extensions and a trailer) after an interim answer."""
    body = b'{"n":%04d}' % n
    return [
        ok(body),
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\n%s\r\n%x\r\n%s\r\n0\r\nT: v\r\n\r\n"
        % (body[:3], len(body) - 3, body[3:]),
    ]


async def test_an_answer_split_at_every_byte() -> None:
    """Whatever byte an answer is split at, the pool reads the same status and body, and the
    connection stays in step for the next answer."""
    sizes = [len(a) for a in _split_answers(0)]

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (body := await read_request(server, reader)) is not None:
            kind, at, n = (int(x) for x in body.split(b","))
            answer = _split_answers(n)[kind]
            await write_in_pieces(writer, answer[:at], answer[at:])

    async with raw_server(handler) as server, pool() as http:
        n = 0
        for kind, size in enumerate(sizes):
            for at in range(1, size):
                n += 1
                status, body = await post(http, server.url, b"%d,%d,%d" % (kind, at, n))
                assert (status, body) == (200, b'{"n":%04d}' % n), (kind, at)
    assert server.accepted == 1


async def test_a_close_delimited_answer_split_at_every_byte() -> None:
    """A close-delimited answer split at any byte is read whole."""
    answer = b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"ActionStatus":"OK"}'

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        body = await read_request(server, reader)
        assert body is not None
        at = int(body)
        await write_in_pieces(writer, answer[:at], answer[at:])

    async with raw_server(handler) as server, pool() as http:
        for at in range(1, len(answer)):
            assert await post(http, server.url, b"%d" % at) == (200, b'{"ActionStatus":"OK"}')


async def test_answers_without_body() -> None:
    """204 and 304 carry no body even with a Content-Length, and the connection stays usable."""
    replies = iter(
        [
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
            ok(b"{}"),
        ]
    )
    async with raw_server(answering(lambda body: next(replies))) as server, pool() as http:
        assert await post(http, server.url, b"{}") == (204, b"")
        assert await post(http, server.url, b"{}") == (304, b"")
        assert await post(http, server.url, b"{}") == (200, b"{}")
    assert server.accepted == 1


# --- limits and faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        ok(b"x" * 1001),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"
        + b"x" * 1000
        + b"\r\n1\r\nx\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 1001,
    ],
    ids=["content-length", "chunked", "close-delimited"],
)
async def test_a_body_over_the_limit_is_an_error_and_drops_the_connection(reply: bytes) -> None:
    """An answer body larger than max_body is an error in every framing, and its connection is
    not reused; a body of exactly max_body is read."""
    async with raw_server(answering(lambda body: reply)) as server, pool(max_body=1000) as http:
        with pytest.raises(HttpError, match="larger than 1000 bytes"):
            await post(http, server.url, b"{}")
        with pytest.raises(HttpError, match="larger than 1000 bytes"):
            await post(http, server.url, b"{}")
    assert server.accepted == 2
    async with (
        raw_server(answering(lambda body: ok(b"y" * 1000))) as server,
        pool(max_body=1000) as http,
    ):
        assert await post(http, server.url, b"{}") == (200, b"y" * 1000)


async def test_headers_over_the_limit_are_an_error() -> None:
    """An answer whose head never ends within the header limit is an error, not a hang."""
    reply = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"y" * (128 * 1024) + b"\r\n\r\n"
    async with raw_server(answering(lambda body: reply)) as server, pool() as http:
        with pytest.raises(HttpError, match="headers"):
            await post(http, server.url, b"{}")
    assert server.accepted == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"", "without answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "mid-answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "mid-answer"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}", "mid-answer"),
        (b"HTTP/1.1 103 Early Hints\r\n\r\n", "mid-answer"),
    ],
    ids=["nothing", "in-head", "content-length", "chunked", "after-interim"],
)
async def test_a_peer_closing_mid_answer_is_an_error(reply: bytes, message: str) -> None:
    """A peer that closes before its answer is complete gives an HttpError, never a partial
    answer, and the request is not sent again."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        await write_in_pieces(writer, reply)

    async with raw_server(handler) as server, pool() as http:
        with pytest.raises(HttpError, match=message):
            await post(http, server.url, b"{}")
    assert server.requests == [b"{}"]


async def test_a_written_request_is_never_sent_again() -> None:
    """When a kept-alive connection closes after the request was written and before any answer,
    the post fails and the peer has seen the request once (no silent resend)."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(ok(b"{}"))
        await writer.drain()
        await read_request(server, reader)  # the second request: read, then hang up

    async with raw_server(handler) as server, pool() as http:
        assert await post(http, server.url, b"1") == (200, b"{}")
        with pytest.raises(HttpError, match="without answering"):
            await post(http, server.url, b"2")
    assert server.requests == [b"1", b"2"]


async def test_a_connection_the_peer_closed_while_idle_is_not_used() -> None:
    """A kept-alive connection the peer closed while idle is passed over before anything is
    written to it: the post goes on a new connection and succeeds."""
    closed = asyncio.Event()

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.accepted == 1:
            await read_request(server, reader)
            writer.write(ok(b"first"))
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            closed.set()
            return
        await answering(lambda body: ok(b"second"))(server, reader, writer)

    async with raw_server(handler) as server, pool() as http:
        assert await post(http, server.url, b"1") == (200, b"first")
        await closed.wait()
        # Loopback hands the close over in its own time: block (the event loop does not run)
        # until it reached the idle connection's socket, unless the loop has seen it already.
        # Either way the pool can tell before writing.
        (idle,) = [conn for stack in http._idle.values() for conn in stack]
        if not idle.closed_while_idle():
            assert idle.transport is not None
            fd = idle.transport.get_extra_info("socket").fileno()
            assert select.select([fd], [], [], BOUND)[0]
        assert await post(http, server.url, b"2") == (200, b"second")
    assert server.accepted == 2
    assert server.requests == [b"1", b"2"]


async def test_bytes_after_the_answer_drop_the_connection() -> None:
    """Bytes the peer sends beyond its answer put the connection out of step: the answer counts,
    the connection is not reused."""
    replies = iter([ok(b"{}") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale", ok(b"{}")])
    async with raw_server(answering(lambda body: next(replies))) as server, pool() as http:
        assert await post(http, server.url, b"{}") == (200, b"{}")
        assert await post(http, server.url, b"{}") == (200, b"{}")
    assert server.accepted == 2


async def test_an_answer_before_the_whole_request_drops_the_connection() -> None:
    """A peer that answers before reading the whole request (here a 413 after the head) gets
    its answer read, and the connection is not reused: the next post opens a new one and reads
    its own answer."""

    finished = asyncio.Event()

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if server.accepted == 1:
            await read_request(server, reader, body=False)
            writer.transport.pause_reading()  # the rest of the body is never read
            writer.write(b"HTTP/1.1 413 Too Large\r\nContent-Length: 3\r\n\r\nbig")
            await writer.drain()
            await finished.wait()
            return
        await answering(ok)(server, reader, writer)

    # Larger than the most the client's send buffer and the server's small fixed receive
    # buffer can hold, so the request cannot be sent whole while the server does not read.
    big = b"x" * (2 * _max_send_buffer() + 1024 * 1024)
    async with raw_server(handler, rcvbuf=4096) as server, pool() as http:
        assert await post(http, server.url, big) == (413, b"big")
        assert await post(http, server.url, b"small") == (200, b"small")
        finished.set()
    assert server.accepted == 2


def _max_send_buffer() -> int:
    """The largest TCP send buffer the kernel grows a socket to (Linux), else 4 MiB."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


async def test_malformed_answers_are_http_errors() -> None:
    """A garbage status line, a bad Content-Length or an unasked protocol switch raise
    HttpError and drop the connection; a refused port and a non-http URL do too."""
    for reply, message in (
        (b"SPDY/9 what\r\n\r\n", "malformed answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "malformed answer"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "malformed"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "switch"),
    ):
        async with raw_server(answering(lambda body, r=reply: r)) as server, pool() as http:
            with pytest.raises(HttpError, match=message):
                await post(http, server.url, b"{}")
            with pytest.raises(HttpError, match=message):
                await post(http, server.url, b"{}")
        assert server.accepted == 2, reply
    async with raw_server(answering(ok)) as server:
        refused = server.url
    async with pool() as http:
        with pytest.raises(HttpError, match="cannot connect"):
            await post(http, refused, b"{}")
        with pytest.raises(HttpError, match="not an http"):
            await post(http, "ftp://127.0.0.1/x", b"{}")


async def test_concurrent_posts_open_parallel_connections() -> None:
    """Concurrent posts each get a connection; all answers match their requests."""

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (body := await read_request(server, reader)) is not None:
            await asyncio.sleep(0.01)
            writer.write(ok(body))
            await writer.drain()

    async with raw_server(handler) as server, pool() as http:
        answers = await asyncio.gather(*(post(http, server.url, b"%d" % n) for n in range(20)))
    assert [a[1] for a in answers] == [b"%d" % n for n in range(20)]
    assert 1 < server.accepted <= 20


async def test_a_cancelled_post_drops_its_connection() -> None:
    """A post cancelled while waiting (the sender's time limit) closes its connection, so a
    late answer can never be read by the next post."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (body := await read_request(server, reader)) is not None:
            if body == b"slow":
                arrived.set()
                await release.wait()
            writer.write(ok(body))
            await writer.drain()

    async with raw_server(handler) as server, pool() as http:
        slow = asyncio.ensure_future(http.post(server.url, b"slow"))
        await arrived.wait()
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        release.set()
        assert await post(http, server.url, b"fast") == (200, b"fast")
    assert server.accepted == 2


async def test_http_errors_are_delivery_errors_with_their_cause() -> None:
    """A refused connection and a malformed answer are DeliveryErrors (the tree's) that keep
    the socket's or the parser's error as their cause."""
    async with raw_server(answering(ok)) as server:
        refused = server.url
    async with pool() as http:
        with pytest.raises(DeliveryError, match="cannot connect") as caught:
            await post(http, refused, b"{}")
    assert isinstance(caught.value.__cause__, OSError)
    garbage = b"SPDY/9 what\r\n\r\n"
    async with raw_server(answering(lambda body: garbage)) as server, pool() as http:
        with pytest.raises(HttpError, match="malformed answer") as caught:
            await post(http, server.url, b"{}")
    assert caught.value.__cause__ is not None
