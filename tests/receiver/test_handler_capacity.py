"""How many handlers run at once: ``concurrency`` in all, before-handlers in threads of their own,
and hung plain-function handlers that stop holding capacity once their time limit has passed."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from receiver_support import APP, GROUP_FULL, OA_CREATE, body, eventually, query, settled

from timhooks.protocol import Decision
from timhooks.protocol.events import AfterGroupFull, Event
from timhooks.receiver import Receiver, WebhookMeta
from timhooks.storage import InboxStatus, NewInboxEntry
from timhooks.workqueue import RetryPolicy

# asyncio's default executor (asyncio.to_thread) has this many threads.
DEFAULT_EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)


def pending(group_id: str) -> NewInboxEntry:
    return NewInboxEntry(
        sdk_app_id=APP,
        command=GROUP_FULL,
        phase="after",
        body=body(GROUP_FULL, GroupId=group_id),
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        received_at=time.time(),
    )


async def test_concurrency_counts_inbox_and_direct_handlers_together(tmp_path: Path) -> None:
    """With concurrency=1, a webhook that arrives while the inbox worker runs a handler waits for
    that handler to end: never two handlers at once."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", concurrency=1, poll_interval=0.02)
    gate = asyncio.Event()
    started: list[str] = []
    running = peak = 0

    @receiver.on(AfterGroupFull)
    async def hold(event: AfterGroupFull) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        started.append(event.group_id)
        try:
            await gate.wait()
        finally:
            running -= 1

    async def first_started() -> bool:
        return started == ["first"]

    try:
        await receiver.inbox.put(pending("first"))
        await receiver.start()  # the inbox worker claims "first"
        await eventually(first_started)
        r = await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL, GroupId="second"))
        assert r.status == 200
        for _ in range(20):  # a hand-off would start its (async) handler within these turns
            await asyncio.sleep(0)
        assert started == ["first"]
        gate.set()
        for entry in await receiver.inbox.list():
            await settled(receiver, entry.id, InboxStatus.DONE)
        assert started == ["first", "second"]
        assert peak == 1
    finally:
        gate.set()
        await receiver.stop()


async def test_webhooks_waiting_for_a_slot_are_not_overtaken_by_newer_ones(
    tmp_path: Path,
) -> None:
    """With every slot busy, a webhook stored to wait for one runs before webhooks that arrive
    after it, even those arriving just as a slot frees up."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", concurrency=1, poll_interval=0.02)
    gate = asyncio.Event()
    started: list[str] = []

    @receiver.on(AfterGroupFull)
    async def hold(event: AfterGroupFull) -> None:
        started.append(event.group_id)
        if event.group_id == "a":
            await gate.wait()

    async def a_started() -> bool:
        return started == ["a"]

    try:
        await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL, GroupId="a"))
        await eventually(a_started)
        await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL, GroupId="b"))
        for _ in range(20):  # the inbox worker looks for a free slot and finds none
            await asyncio.sleep(0)
        gate.set()
        [a] = [e for e in await receiver.inbox.list() if b'"a"' in e.body]
        await settled(receiver, a.id, InboxStatus.DONE)
        await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL, GroupId="c"))
        for entry in await receiver.inbox.list():
            await settled(receiver, entry.id, InboxStatus.DONE)
        assert started == ["a", "b", "c"]
    finally:
        gate.set()
        await receiver.stop()


async def test_deny_is_answered_while_plain_after_handlers_hang(tmp_path: Path) -> None:
    """While plain after-handlers hang on every thread asyncio's default executor has, a plain
    before-handler still runs in its own threads: its deny is answered as a deny."""
    hang = DEFAULT_EXECUTOR_THREADS
    receiver = Receiver(
        app_id=APP,
        inbox=tmp_path / "inbox.db",
        concurrency=hang,
        before_deadline=5.0,
        handler_timeout=60.0,
    )
    release = threading.Event()
    started: list[str] = []
    lock = threading.Lock()

    @receiver.on(AfterGroupFull)
    def stuck(event: AfterGroupFull) -> None:
        with lock:
            started.append(event.group_id)
        release.wait()

    @receiver.on(OA_CREATE)
    def deny(event: Event) -> Decision:
        return Decision.deny()

    async def all_hanging() -> bool:
        with lock:
            return len(started) == hang

    try:
        for n in range(hang):
            r = await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL, GroupId=f"g{n}"))
            assert r.status == 200
        await eventually(all_hanging)
        answer = await receiver.handle("POST", query(OA_CREATE), body(OA_CREATE))
        assert (answer.status, json.loads(answer.body)["ErrorCode"]) == (200, 1)
    finally:
        release.set()
        await receiver.stop()


async def test_hung_handlers_past_their_timeout_leave_room_for_new_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Plain after-handlers that hang past handler_timeout stop holding threads: the quick ones
    that come after them run and end done while the hung ones are still blocked, and each
    hang is logged."""
    hang = DEFAULT_EXECUTOR_THREADS
    receiver = Receiver(
        app_id=APP,
        inbox=tmp_path / "inbox.db",
        concurrency=hang,
        handler_timeout=1.0,
        retry=RetryPolicy(attempts=5, base=0.01),
        poll_interval=0.02,
    )
    release = threading.Event()

    @receiver.on(AfterGroupFull)
    def handle(event: AfterGroupFull, meta: WebhookMeta) -> None:
        if event.group_id.startswith("hang") and meta.attempt == 1:
            release.wait()

    try:
        with caplog.at_level(logging.WARNING, logger="timhooks.receiver"):
            hung = [
                await receiver.handle(
                    "POST", query(GROUP_FULL), body(GROUP_FULL, GroupId=f"hang{n}")
                )
                for n in range(hang)
            ]
            quick = [
                await receiver.handle(
                    "POST", query(GROUP_FULL), body(GROUP_FULL, GroupId=f"quick{n}")
                )
                for n in range(5)
            ]
            assert [r.status for r in hung + quick] == [200] * (hang + 5)
            for entry in await receiver.inbox.list(limit=1000):
                await settled(receiver, entry.id, InboxStatus.DONE)
            assert not release.is_set()
            assert receiver.after_pool.stuck == hang
        still_running = [r for r in caplog.records if "is still running" in r.getMessage()]
        assert len(still_running) == hang
        assert all("handle" in r.getMessage() for r in still_running)
    finally:
        release.set()
        await receiver.stop()
