"""Observers: each rejected request and each repeat is reported with what is known of it."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from receiver_support import APP, GROUP_FULL, OA_CREATE, body, client, post, query

from timhooks.protocol import StorageError
from timhooks.receiver import Cause, Notice, NoticeLimiter, Receiver, Rejection, Repeat
from timhooks.receiver.asgi import ReceiverApp
from timhooks.storage import InboxEntry, InboxStatus, InboxStore, NewInboxEntry

TOKEN = "observed-token"


def observed(tmp_path: Path, **kw: Any) -> tuple[Receiver, list[Notice]]:
    receiver = Receiver({APP: TOKEN}, inbox=tmp_path / "inbox.db", **kw)
    notices: list[Notice] = []
    receiver.observe(notices.append)
    return receiver, notices


async def test_each_rejection_is_reported_with_app_command_and_peer(tmp_path: Path) -> None:
    """Every refused request reaches the observer with its status, cause, reason, and the
    SdkAppid, command and sender's address where they are known."""
    receiver, notices = observed(tmp_path, max_body=2000)
    now = int(time.time())
    try:
        async with client(receiver) as http:
            await post(http, GROUP_FULL, body(GROUP_FULL), token="wrong")
            await post(http, GROUP_FULL, body(GROUP_FULL))
            await post(http, GROUP_FULL, body(GROUP_FULL), token=TOKEN, when=now - 600)
            await post(http, GROUP_FULL, body(GROUP_FULL), app=APP + 1)
            await http.post(f"/?SdkAppid={APP}", content=body(GROUP_FULL))
            await post(http, GROUP_FULL, b"not json", token=TOKEN)
            await http.get(f"/?{query(GROUP_FULL)}")
            await post(http, GROUP_FULL, b"x" * 3000, token=TOKEN)
        assert all(isinstance(n, Rejection) for n in notices)
        got = [(n.status, n.cause, n.sdk_app_id, n.command) for n in notices]
        assert got == [
            (401, Cause.SIGN_MISMATCH, APP, GROUP_FULL),
            (401, Cause.NO_SIGN, APP, GROUP_FULL),
            (401, Cause.STALE_TIME, APP, GROUP_FULL),
            (403, Cause.UNKNOWN_APP, APP + 1, GROUP_FULL),
            (400, Cause.BAD_QUERY, APP, None),
            (400, Cause.BAD_BODY, APP, GROUP_FULL),
            (405, Cause.NOT_POST, APP, GROUP_FULL),
            (413, Cause.TOO_LARGE, APP, GROUP_FULL),
        ]
        first = notices[0]
        assert isinstance(first, Rejection)
        assert "does not match" in first.reason
        assert first.peer == "127.0.0.1:123"  # httpx's ASGITransport reports this client
        assert abs(first.at - time.time()) < 3600
    finally:
        await receiver.stop()


async def test_a_repeat_is_reported_with_the_entry_it_repeats(tmp_path: Path) -> None:
    """A webhook already in the inbox is answered 200 and reported as a repeat of its entry;
    the first copy is not."""
    receiver, notices = observed(tmp_path)
    payload = body(GROUP_FULL, GroupId="@TGS#again")
    try:
        first = await receiver.handle("POST", query(GROUP_FULL, token=TOKEN), payload)
        assert notices == []
        again = await receiver.handle(
            "POST", query(GROUP_FULL, token=TOKEN), payload, peer="10.0.0.7:5000"
        )
        assert (first.status, again.status) == (200, 200)
        [entry] = await receiver.inbox.list()
        [notice] = notices
        assert isinstance(notice, Repeat)
        assert (notice.entry_id, notice.sdk_app_id, notice.command, notice.peer) == (
            entry.id,
            APP,
            GROUP_FULL,
            "10.0.0.7:5000",
        )
    finally:
        await receiver.stop()


async def test_before_webhooks_are_answered_each_time_and_not_reported_as_repeats(
    tmp_path: Path,
) -> None:
    """A before-webhook sent twice is answered twice by its handler: no repeat notice."""
    receiver, notices = observed(tmp_path)
    calls: list[str] = []

    @receiver.on(OA_CREATE)
    def decide(event: object) -> None:
        calls.append("called")

    try:
        for _ in range(2):
            r = await receiver.handle("POST", query(OA_CREATE, token=TOKEN), body(OA_CREATE))
            assert r.status == 200
        assert calls == ["called", "called"]
        assert notices == []
    finally:
        await receiver.stop()


class FullDisk(InboxStore):
    """An inbox that cannot store anything."""

    async def put(self, entry: NewInboxEntry) -> tuple[int, bool]:
        raise StorageError("database or disk is full")

    async def claim(self, *, now: float, limit: int, lease: float) -> list[InboxEntry]:
        return []

    async def list(
        self, *, command: str | None = None, status: InboxStatus | None = None, limit: int = 100
    ) -> list[InboxEntry]:
        return []


async def test_inbox_failure_is_reported_as_503() -> None:
    """A webhook the inbox could not store is reported with status 503."""
    receiver = Receiver(app_id=APP, inbox=FullDisk())
    notices: list[Notice] = []
    receiver.observe(notices.append)
    try:
        r = await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL))
        assert r.status == 503
        [notice] = notices
        assert isinstance(notice, Rejection)
        assert (notice.status, notice.cause, notice.sdk_app_id) == (503, Cause.INBOX_FAILED, APP)
    finally:
        await receiver.stop()


async def test_a_failing_observer_changes_no_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An observer that raises is logged; the request is answered as without it."""
    receiver, notices = observed(tmp_path)

    @receiver.observe
    def broken(notice: Notice) -> None:
        raise RuntimeError("observer bug")

    try:
        async with client(receiver) as http:
            with caplog.at_level(logging.ERROR, logger="timhooks.receiver"):
                r = await post(http, GROUP_FULL, body(GROUP_FULL), token="wrong")
        assert r.status_code == 401
        assert len(notices) == 1
        assert any("observer failed" in rec.getMessage() for rec in caplog.records)
    finally:
        await receiver.stop()


async def test_slow_body_is_reported_as_408(tmp_path: Path) -> None:
    """A body that does not arrive within the ASGI app's deadline is reported as a 408."""
    receiver, notices = observed(tmp_path)
    app = ReceiverApp(receiver, body_deadline=0.05)

    async def never() -> dict[str, object]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "query_string": query(GROUP_FULL).encode(),
        "headers": [],
        "client": ("::1", 4000),
    }
    try:
        await app(scope, never, send)
        assert sent[0]["status"] == 408
        [notice] = notices
        assert isinstance(notice, Rejection)
        assert (notice.cause, notice.sdk_app_id, notice.peer) == (
            Cause.SLOW_BODY,
            APP,
            "[::1]:4000",
        )
    finally:
        await receiver.stop()


def test_limiter_lets_a_burst_through_then_a_steady_rate_and_counts_the_rest() -> None:
    """The limiter shows ``burst`` notices at once, then ``per_second``, and counts the held."""
    now = [100.0]
    limiter = NoticeLimiter(burst=3, per_second=2.0, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(5)] == [True, True, True, False, False]
    assert limiter.held_back() == 2
    assert limiter.held_back() == 0
    now[0] += 0.5  # one more notice's worth
    assert [limiter.allow() for _ in range(2)] == [True, False]
    now[0] += 60  # a quiet minute refills the burst, no more
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    assert limiter.held_back() == 2
