"""Before-webhooks: the handler decides inline, under a deadline, with a safe fallback."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from receiver_support import ACK, APP, OA_CREATE, OA_SEND, body, client, eventually, post, receiving

from timhooks.protocol import Decision
from timhooks.protocol.events import BeforeCreateOfficialAccount, BeforeSendMsg, Event
from timhooks.protocol.query import Platform
from timhooks.receiver import Receiver, WebhookMeta
from timhooks.storage import InboxStatus

DENY = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 1}
DEADLINE = 0.2
MARGIN = 1.5  # generous: the bound under test is "about the deadline", not "fast"


async def ask(receiver: Receiver, command: str = OA_CREATE, **fields: Any) -> tuple[Any, float]:
    """Post a before-webhook; return the answer's JSON and how long it took."""
    async with client(receiver) as http:
        started = time.monotonic()
        response = await post(http, command, body(command, **fields))
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    return response.json(), elapsed


async def test_slow_async_handler_gets_the_fallback_within_the_deadline(tmp_path: Path) -> None:
    """A handler slower than before_deadline is abandoned: the fallback (allow, Tencent's own
    timeout policy) is answered at about the deadline."""
    async with receiving(tmp_path, before_deadline=DEADLINE) as receiver:
        cancelled = asyncio.Event()

        @receiver.on(OA_CREATE)
        async def slow(event: Event) -> Decision:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return Decision.deny()

        answer, elapsed = await ask(receiver)
        assert answer == ACK
        assert DEADLINE * 0.9 <= elapsed < DEADLINE + MARGIN
        assert cancelled.is_set()


async def test_slow_sync_handler_gets_the_fallback_within_the_deadline(tmp_path: Path) -> None:
    """A blocking handler cannot hold the answer past the deadline either."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", before_deadline=DEADLINE)
    release = threading.Event()

    @receiver.on(OA_CREATE)
    def blocking(event: Event) -> Decision:
        release.wait(30)
        return Decision.deny()

    try:
        answer, elapsed = await ask(receiver)
        assert answer == ACK
        assert elapsed < DEADLINE + MARGIN
    finally:
        release.set()
        await receiver.stop()


async def test_fallback_can_be_deny(tmp_path: Path) -> None:
    """With fallback=Decision.deny(), a timed-out handler's action is refused."""
    receiver = Receiver(
        app_id=APP,
        inbox=tmp_path / "inbox.db",
        before_deadline=DEADLINE,
        fallback=Decision.deny("veto service unavailable"),
    )

    @receiver.on(OA_CREATE)
    async def slow(event: Event) -> None:
        await asyncio.sleep(30)

    try:
        answer, elapsed = await ask(receiver)
        assert answer == {
            "ActionStatus": "OK",
            "ErrorInfo": "veto service unavailable",
            "ErrorCode": 1,
        }
        assert elapsed < DEADLINE + MARGIN
    finally:
        await receiver.stop()


@pytest.mark.parametrize(
    ("fallback", "expected"), [(Decision.allow(), ACK), (Decision.deny(), DENY)]
)
async def test_raising_handler_gets_the_fallback(
    fallback: Decision, expected: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises is answered with the fallback, and the error is logged."""
    async with receiving(tmp_path, fallback=fallback) as receiver:

        @receiver.on(OA_CREATE)
        def broken(event: Event) -> Decision:
            raise RuntimeError("database down")

        with caplog.at_level(logging.ERROR, logger="timhooks.receiver"):
            answer, _ = await ask(receiver)
        assert answer == expected
        assert "database down" in caplog.text


async def test_handler_returning_something_else_gets_the_fallback(tmp_path: Path) -> None:
    """A handler returning a non-Decision is a bug: the fallback is answered."""
    async with receiving(tmp_path, fallback=Decision.deny()) as receiver:

        @receiver.on(OA_CREATE)
        def sloppy(event: Event) -> object:
            return {"ErrorCode": 0}

        assert (await ask(receiver))[0] == DENY


async def test_handler_returning_none_allows(tmp_path: Path) -> None:
    """A handler that returns nothing allows the action."""
    async with receiving(tmp_path, fallback=Decision.deny()) as receiver:
        calls: list[str] = []

        @receiver.on(BeforeCreateOfficialAccount)
        def audit_only(event: BeforeCreateOfficialAccount) -> None:
            calls.append(event.name)

        assert (await ask(receiver, Name="Daily"))[0] == ACK
        assert calls == ["Daily"]


async def test_sync_and_async_handlers_both_decide(tmp_path: Path) -> None:
    """Plain functions and coroutine functions are both valid handlers."""
    async with receiving(tmp_path) as receiver:

        @receiver.on(BeforeCreateOfficialAccount)
        def sync_veto(event: BeforeCreateOfficialAccount) -> Decision:
            return Decision.reject(120001, f"{event.name} is reserved")

        @receiver.on(BeforeSendMsg)
        async def async_veto(event: BeforeSendMsg) -> Decision:
            await asyncio.sleep(0)
            return Decision.discard() if event.cloud_custom_data == "spam" else Decision.allow()

        created, _ = await ask(receiver, Name="admin")
        assert created == {
            "ActionStatus": "OK",
            "ErrorInfo": "admin is reserved",
            "ErrorCode": 120001,
        }
        spam, _ = await ask(receiver, OA_SEND, CloudCustomData="spam")
        assert spam == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 2}
        ham, _ = await ask(receiver, OA_SEND, CloudCustomData="ham")
        assert ham == ACK


async def test_rewrite_answer_reaches_tencent(tmp_path: Path) -> None:
    """A BeforeSendMsg handler's rewritten MsgBody/CloudCustomData is in the answer."""
    async with receiving(tmp_path) as receiver:
        clean = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]

        @receiver.on(BeforeSendMsg)
        def mask(event: BeforeSendMsg) -> Decision:
            return Decision.rewrite(msg_body=clean, cloud_custom_data="masked")

        answer, _ = await ask(receiver, OA_SEND, MsgBody=[{"MsgType": "TIMTextElem"}])
        assert answer == {**ACK, "MsgBody": clean, "CloudCustomData": "masked"}


async def test_handlers_taking_meta_get_webhook_meta(tmp_path: Path) -> None:
    """A handler with two parameters gets (event, WebhookMeta) with the query's facts."""
    async with receiving(tmp_path) as receiver:
        seen: list[tuple[Event, WebhookMeta]] = []

        @receiver.on(OA_CREATE)
        async def with_meta(event: Event, meta: WebhookMeta) -> None:
            seen.append((event, meta))

        async with client(receiver) as http:
            before = time.time()
            r = await post(http, OA_CREATE, body(OA_CREATE, Name="n"), platform="IOS")
        assert r.status_code == 200
        [(event, meta)] = seen
        assert isinstance(event, BeforeCreateOfficialAccount)
        assert meta.sdk_app_id == APP
        assert meta.command == OA_CREATE
        assert meta.client_ip == "127.0.0.1"
        assert meta.opt_platform is Platform.IOS
        assert meta.inbox_id is None
        assert meta.attempt == 1
        assert before - 1 <= meta.received_at <= time.time() + 1


async def test_answered_before_webhooks_are_recorded(tmp_path: Path) -> None:
    """Each answered before-webhook is kept in the inbox as 'answered' with the answer sent."""
    async with receiving(tmp_path) as receiver:

        @receiver.on(OA_CREATE)
        def deny(event: Event) -> Decision:
            return Decision.deny()

        assert (await ask(receiver))[0] == DENY

        async def recorded() -> list[Any]:
            return await receiver.inbox.list(status=InboxStatus.ANSWERED)

        [entry] = await eventually(recorded)
        assert (entry.command, entry.phase) == (OA_CREATE, "before")
        assert entry.answer is not None
        assert json.loads(entry.answer) == DENY
