"""The bare ASGI app: lifespan, scopes it ignores, and clients that go away mid-body."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from receiver_support import APP, GROUP_FULL, body, query, receiving

from timhooks.protocol import StorageError
from timhooks.receiver import Receiver
from timhooks.storage import NewInboxEntry

Message = MutableMapping[str, Any]


class Channel:
    """Scripted ASGI receive() messages, and a record of everything sent."""

    def __init__(self, *incoming: Message) -> None:
        self.incoming = list(incoming)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self.incoming.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def http_scope(method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> Message:
    return {
        "type": "http",
        "method": method,
        "path": "/",
        "query_string": query(GROUP_FULL).encode(),
        "headers": headers or [],
    }


async def test_lifespan_starts_and_stops_the_receiver(tmp_path: Path) -> None:
    """Run directly under an ASGI server, the app answers lifespan startup and shutdown, and
    shutdown closes the inbox it opened."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await receiver.asgi({"type": "lifespan"}, channel.receive, channel.send)
    assert [m["type"] for m in channel.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    entry = NewInboxEntry(
        sdk_app_id=APP,
        command=GROUP_FULL,
        phase="after",
        body=b"{}",
        client_ip="",
        opt_platform="",
        received_at=0.0,
    )
    with pytest.raises(StorageError, match="closed"):
        await receiver.inbox.put(entry)


async def test_other_scopes_are_ignored(tmp_path: Path) -> None:
    """A websocket scope gets no answer and does not touch the receiver."""
    async with receiving(tmp_path) as receiver:
        channel = Channel()
        await receiver.asgi({"type": "websocket"}, channel.receive, channel.send)
        assert channel.sent == []


async def test_client_gone_mid_body_gets_nothing_and_nothing_is_stored(tmp_path: Path) -> None:
    """If the connection drops before the body is complete, there is no answer and no entry."""
    async with receiving(tmp_path) as receiver:
        payload = body(GROUP_FULL)
        channel = Channel(
            {"type": "http.request", "body": payload[:10], "more_body": True},
            {"type": "http.disconnect"},
        )
        await receiver.asgi(http_scope(), channel.receive, channel.send)
        assert channel.sent == []
        assert await receiver.inbox.list() == []


async def test_answer_carries_json_content_type_and_length(tmp_path: Path) -> None:
    """Every answer is JSON with an exact Content-Length (Tencent reads the body as JSON)."""
    async with receiving(tmp_path) as receiver:
        channel = Channel({"type": "http.request", "body": body(GROUP_FULL)})
        await receiver.asgi(http_scope(), channel.receive, channel.send)
        start, content = channel.sent
        headers = dict(start["headers"])
        assert start["status"] == 200
        assert headers[b"content-type"] == b"application/json"
        assert int(headers[b"content-length"]) == len(content["body"])
