"""The log lines `timhooks serve` writes per after-webhook attempt: a failure at WARNING (shown by
default) with the receiver's status and the first line of its answer, a success at INFO (-v)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from timhooks.delivery.dispatcher import OutboxDispatcher, Route, attempt_outcome, shown_url
from timhooks.delivery.http import HttpError
from timhooks.delivery.sender import Attempt, WebhookSender, WebhookTarget
from timhooks.protocol import compute_sign
from timhooks.workqueue import NO_RETRY, RetryPolicy

APP = 1400000001
TOKEN = "the-app-token"
SIGN = compute_sign(TOKEN, 1700000000)


@dataclass
class Row:
    """An outbox row as the dispatcher reads it."""

    id: int
    sdk_app_id: int = APP
    command: str = "Group.CallbackAfterGroupFull"
    body: bytes = b'{"CallbackCommand":"Group.CallbackAfterGroupFull","GroupId":"g"}'
    client_ip: str = "127.0.0.1"
    opt_platform: str = "RESTAPI"
    attempts: int = 1
    next_attempt_at: float | None = None  # the claim's lease end (None: not checked)


class OneRow:
    """An outbox with one due row, recording what the dispatcher makes of it."""

    def __init__(self, row: Row) -> None:
        self.rows = [row]
        self.recorded: list[tuple[int, Attempt, float | None]] = []
        self.done = asyncio.Event()

    async def claim(self, *, now: float, limit: int, lease: float) -> list[Row]:
        rows, self.rows = self.rows, []
        return rows

    async def release(self, rows: list[Row], *, now: float) -> None:
        """Claimed rows never attempted go back."""
        self.rows.extend(rows)

    def record_soon(
        self, delivery_id: int, attempt: Attempt, *, retry_at: float | None
    ) -> asyncio.Future[None]:
        self.recorded.append((delivery_id, attempt, retry_at))
        self.done.set()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class Scripted:
    """The sender's transport seam answering with ``answer()``: nothing leaves the process."""

    def __init__(self, answer: Callable[[], tuple[int, bytes]]) -> None:
        self.answer = answer

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        """The scripted status and answer (or the HttpError it raises)."""
        return self.answer()

    async def aclose(self) -> None:
        """Nothing to close."""


async def deliver_once(
    answer: Callable[[], tuple[int, bytes]], retry: RetryPolicy = NO_RETRY
) -> Attempt:
    store = OneRow(Row(id=12))
    sender = WebhookSender(transport=Scripted(answer))
    target = WebhookTarget(APP, "http://user:pw@127.0.0.1:8080/im?key=secret", TOKEN)
    dispatcher = OutboxDispatcher(
        store, sender, lambda app: Route(target, 2.0, retry), poll_interval=0.01
    )
    dispatcher.start()
    try:
        await asyncio.wait_for(store.done.wait(), 30)
    finally:
        await dispatcher.stop()
        await sender.aclose()
    return store.recorded[0][1]


async def test_failed_attempt_is_a_warning_with_status_and_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused webhook logs one WARNING: which webhook, where (no credentials), the status,
    the first line of the answer with control characters escaped and any Sign or token
    masked, and whether it will be retried."""
    answer = (
        f'{{"ErrorInfo":"bad Sign={SIGN} for {TOKEN}\x1b]0;x\x07"}}\nsecond line never shown'
    ).encode()
    with caplog.at_level(logging.WARNING, logger="timhooks.delivery"):
        await deliver_once(lambda: (401, answer))
    [record] = [r for r in caplog.records if r.name == "timhooks.delivery"]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert message.startswith(
        "webhook 12 (Group.CallbackAfterGroupFull) attempt 1 to http://127.0.0.1:8080/im failed:"
        " HTTP 401, answer: "
    )
    assert '\\x1b]0;x\\x07"}' in message
    assert "\x1b" not in message
    assert "second line" not in message
    assert SIGN not in message
    assert TOKEN not in message
    assert "secret" not in message
    assert "pw" not in message
    assert message.endswith("; no attempts left")


async def test_unreachable_receiver_and_retry_are_said(caplog: pytest.LogCaptureFixture) -> None:
    """A connection failure logs the error and when the next attempt comes."""

    def refuse() -> tuple[int, bytes]:
        raise HttpError("cannot connect to 127.0.0.1:8080: connection refused")

    with caplog.at_level(logging.WARNING, logger="timhooks.delivery"):
        await deliver_once(refuse, retry=RetryPolicy(attempts=3, base=5.0))
    [record] = [r for r in caplog.records if r.name == "timhooks.delivery"]
    assert (
        "failed: cannot connect to 127.0.0.1:8080: connection refused; retry in 5 s"
        in record.getMessage()
    )


async def test_successful_attempt_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """With -v (INFO) every attempt is logged, a delivered one too; by default it is not shown."""
    ok = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
    with caplog.at_level(logging.INFO, logger="timhooks.delivery"):
        attempt = await deliver_once(lambda: (200, ok))
    assert attempt.ok
    [record] = [r for r in caplog.records if r.name == "timhooks.delivery"]
    assert record.levelno == logging.INFO
    assert record.getMessage().startswith(
        "webhook 12 (Group.CallbackAfterGroupFull) attempt 1 delivered to"
        " http://127.0.0.1:8080/im: HTTP 200 in "
    )


def test_outcome_of_an_empty_or_non_json_answer() -> None:
    """An empty answer and a wrong one are both named."""
    empty = Attempt("u", 0.0, 1.0, 500, "HTTP status 500, not 200", b"")
    assert attempt_outcome(empty) == "HTTP 500, an empty answer"
    html = Attempt("u", 0.0, 1.0, 200, "answer is not valid JSON", b"<html>\r\n<body>")
    assert attempt_outcome(html) == "HTTP 200, answer is not valid JSON, answer: <html>"


def test_shown_url_drops_credentials_and_query() -> None:
    """The URL in a log line has no user, password or query."""
    assert shown_url("https://u:p@[::1]:8443/cb?token=x") == "https://[::1]:8443/cb"
    assert shown_url("http://example.com/im") == "http://example.com/im"
