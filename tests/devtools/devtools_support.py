"""Endpoints for the developer-tool tests, served on loopback by ``timhooks.testing``.

``RecordingEndpoint`` records every request exactly as it arrived and answers what the test
scripts (OK by default; a status, a body, a hang). ``FlawedEndpoint`` is a webhook endpoint that
checks what it is told to check and skips the rest, so each of ``timhooks check``'s checks has an
endpoint built to fail it. ``cli`` runs ``timhooks`` in the test's process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest

from timhooks.cli import main
from timhooks.protocol import COMMANDS, VerificationError, parse_query, verify_sign

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

APP = 1400000001
TOKEN = "app-token-for-devtools-tests"

ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}


@dataclass
class Run:
    """One in-process ``timhooks`` run: exit status and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run ``timhooks ARGV`` in this process; a usage error is exit status 2, as from a shell."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Run(code, out, err)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class Request:
    """One request as it arrived."""

    path: str
    query: str
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in parse_qsl(self.query, keep_blank_values=True)]


Reply = tuple[int, bytes] | Callable[[Request], Awaitable[tuple[int, bytes]]]


@dataclass
class RecordingEndpoint:
    """An ASGI app recording each request; ``replies`` are used up in order, then OK."""

    requests: list[Request] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            return
        request = Request(scope["path"], scope.get("query_string", b"").decode(), body)
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else (200, json.dumps(ACK).encode())
        if reply is HANG:
            while (await receive())["type"] != "http.disconnect":
                pass  # no answer: the client gives up and closes the connection
            return
        status, answer = reply if isinstance(reply, tuple) else await reply(request)
        await _answer(send, status, answer)

    def wait(self, count: int, within: float = 15.0) -> list[Request]:
        """Wait (on the test's thread) until ``count`` requests have arrived."""
        deadline = time.monotonic() + within
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} requests not received within {within} s")
            time.sleep(0.01)
        return self.requests


HANG: Reply = (0, b"")
"""A reply that never comes: the endpoint holds the request until the client goes away."""


@dataclass
class FlawedEndpoint:
    """A webhook endpoint that checks only what its flags say, answering OK otherwise.

    ``answer(command)`` gives the answer body of an accepted webhook (Tencent's OK by default).
    """

    checks_app: bool = True
    checks_sign: bool = True
    checks_time: bool = True
    acks_repeats: bool = True
    answer: Callable[[str], bytes] = lambda command: json.dumps(ACK).encode()
    seen: set[bytes] = field(default_factory=set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            return
        status, answer = self.judge(scope.get("query_string", b""), body)
        await _answer(send, status, answer)

    def judge(self, query: bytes, body: bytes) -> tuple[int, bytes]:
        q = parse_query(query)
        fail = {"ActionStatus": "FAIL", "ErrorInfo": "refused", "ErrorCode": 401}
        if self.checks_app and q.sdk_app_id != APP:
            return 403, json.dumps(fail).encode()
        if self.checks_sign:
            # Without the time check: a far tolerance, so only the Sign itself is judged.
            tolerance = 60 if self.checks_time else 10**9
            try:
                verify_sign(
                    TOKEN, q.sign, q.request_time, now=int(time.time()), tolerance=tolerance
                )
            except VerificationError:
                return 401, json.dumps(fail).encode()
        spec = COMMANDS.get(q.callback_command)
        if spec is not None and not spec.is_before:
            if body in self.seen and not self.acks_repeats:
                return 409, json.dumps({**fail, "ErrorCode": 409}).encode()
            self.seen.add(body)
        return 200, self.answer(q.callback_command)
