"""The webhook sender over its real pool: every attempt is judged on its own answer."""

from __future__ import annotations

import asyncio
import contextlib
import json

from delivery_support import RawServer, ok, raw_server, read_request

from timhooks.delivery.sender import Attempt, WebhookSender, WebhookTarget
from timhooks.protocol import COMMANDS, DecisionKind

APP = 1400000123
AFTER = "Group.CallbackAfterGroupFull"
BEFORE = "Group.CallbackBeforeCreateGroup"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"


def answer(code: int, info: str) -> bytes:
    """Tencent's answer object with ``code`` and ``info``."""
    return json.dumps({"ActionStatus": "OK", "ErrorInfo": info, "ErrorCode": code}).encode()


def scripted(*replies: bytes) -> contextlib.AbstractAsyncContextManager[RawServer]:
    """A raw server writing ``replies`` in turn, one per request, all on one connection."""
    queue = list(replies)

    async def handler(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while queue and await read_request(server, reader) is not None:
            writer.write(queue.pop(0))
            await writer.drain()
        await reader.read()

    return raw_server(handler)


async def send(sender: WebhookSender, url: str, command: str, body: bytes) -> Attempt:
    """One webhook of ``command`` to ``url``; a before-command's answer is read as a decision."""
    return await sender.post(
        WebhookTarget(APP, url, None),
        command,
        body,
        client_ip="127.0.0.1",
        platform="RESTAPI",
        time_limit=10,
        spec=COMMANDS[command],
    )


async def test_a_503_after_an_interim_answer_is_a_failed_webhook() -> None:
    """A receiver that sends 103 Early Hints before its answers: the webhook it answered 503 is
    failed with status 503, and the webhooks around it are judged on their own answers (the
    200 before it does not make it delivered)."""
    async with scripted(
        EARLY_HINTS + ok(answer(0, "first")),
        EARLY_HINTS + b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown",
        ok(answer(0, "third")),
    ) as server:
        sender = WebhookSender()
        try:
            attempts = [await send(sender, server.url, AFTER, b'{"n":%d}' % n) for n in range(3)]
        finally:
            await sender.aclose()
    first, second, third = attempts
    assert (first.ok, first.status_code, first.response) == (True, 200, answer(0, "first"))
    assert (second.ok, second.status_code, second.response) == (False, 503, b"down")
    assert second.error == "HTTP status 503, not 200"
    assert (third.ok, third.status_code, third.response) == (True, 200, answer(0, "third"))
    assert server.accepted == 1


async def test_before_decisions_stay_with_their_own_webhook() -> None:
    """Before-webhooks answered after interim answers each get their own decision: a deny is
    never applied to the next request, nor an allow taken from the previous one."""
    async with scripted(
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(answer(1, "no")),
        EARLY_HINTS + ok(answer(0, "")),
        EARLY_HINTS + ok(answer(1, "no again")),
    ) as server:
        sender = WebhookSender()
        try:
            attempts = [await send(sender, server.url, BEFORE, b"{}") for _ in range(3)]
        finally:
            await sender.aclose()
    kinds = [a.decision.kind if a.decision else None for a in attempts]
    assert kinds == [DecisionKind.DENY, DecisionKind.ALLOW, DecisionKind.DENY]
    assert [a.decision.error_info if a.decision else None for a in attempts] == [
        "no",
        "",
        "no again",
    ]
