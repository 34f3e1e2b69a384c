"""After-webhooks: stored durably before the 200, then handled from the inbox with retries."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from receiver_support import (
    ACK,
    APP,
    GROUP_FULL,
    MEMBER_EXIT,
    OA_CREATE,
    body,
    client,
    only_entry,
    post,
    query,
    settled,
)

from timhooks.protocol import ConfigError, Decision, StorageError
from timhooks.protocol.events import AfterGroupFull, Event
from timhooks.receiver import Receiver, WebhookMeta
from timhooks.storage import InboxEntry, InboxStatus, InboxStore, NewInboxEntry, open_inbox
from timhooks.workqueue import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, base=0.01, factor=2.0)


def fast_receiver(tmp_path: Path, **kw: Any) -> Receiver:
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("poll_interval", 0.02)
    return Receiver(app_id=APP, inbox=tmp_path / "inbox.db", **kw)


async def test_after_webhook_is_on_disk_when_the_200_arrives(tmp_path: Path) -> None:
    """The moment the 200 is received, another connection to the inbox file finds the webhook."""
    receiver = fast_receiver(tmp_path)
    payload = body(GROUP_FULL, GroupId="@TGS#durable")
    try:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, payload)
            other = open_inbox(tmp_path / "inbox.db")
            try:
                stored = await other.list()
            finally:
                await other.close()
        assert r.status_code == 200
        assert r.json() == ACK
        assert [e.body for e in stored] == [payload]
    finally:
        await receiver.stop()


async def test_duplicate_is_stored_once_and_still_answered(tmp_path: Path) -> None:
    """Tencent may resend after a timeout: the same command and body is stored (and handled)
    once, and every copy gets a 200."""
    receiver = fast_receiver(tmp_path)
    calls: list[str] = []

    @receiver.on(AfterGroupFull)
    def handle(event: AfterGroupFull) -> None:
        calls.append(event.group_id)

    payload = body(GROUP_FULL, GroupId="@TGS#dup")
    try:
        async with client(receiver) as http:
            answers = [await post(http, GROUP_FULL, payload) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert all(r.json() == ACK for r in answers)
        entry = await only_entry(receiver)
        await settled(receiver, entry.id, InboxStatus.DONE)
        await asyncio.sleep(0.1)  # a second run, if there were one, would have happened
        assert calls == ["@TGS#dup"]
    finally:
        await receiver.stop()


async def test_same_body_for_another_command_is_not_a_duplicate(tmp_path: Path) -> None:
    """Dedup is by command and body together."""
    receiver = fast_receiver(tmp_path)
    try:
        await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL))
        unknown = b'{"CallbackCommand": "Group.CallbackAfterSomethingNew", "GroupId": "g"}'
        await receiver.handle("POST", query("Group.CallbackAfterSomethingNew"), unknown)
        await receiver.handle("POST", query("Group.CallbackAfterSomethingNew"), unknown)
        assert len(await receiver.inbox.list()) == 2
    finally:
        await receiver.stop()


async def test_failing_handler_is_retried_with_backoff_then_dead_then_replayed(
    tmp_path: Path,
) -> None:
    """A failing after-handler runs `attempts` times with growing waits, ends `dead` with its
    last error, and a replay makes it pending so it runs again."""
    receiver = fast_receiver(tmp_path)
    runs: list[tuple[int, float]] = []
    healthy = False

    @receiver.on(GROUP_FULL)
    async def flaky(event: Event, meta: WebhookMeta) -> None:
        runs.append((meta.attempt, time.time()))
        if not healthy:
            raise ConnectionError(f"CRM unreachable (attempt {meta.attempt})")

    try:
        async with client(receiver) as http:
            assert (await post(http, GROUP_FULL, body(GROUP_FULL))).status_code == 200
        entry = await only_entry(receiver)
        dead = await settled(receiver, entry.id, InboxStatus.DEAD)
        assert dead.attempts == 3
        assert dead.last_error == "ConnectionError: CRM unreachable (attempt 3)"
        assert [attempt for attempt, _ in runs] == [1, 2, 3]
        delays = [FAST_RETRY.delay_after(1), FAST_RETRY.delay_after(2)]
        assert delays == [0.01, 0.02]
        gaps = [b - a for (_, a), (_, b) in itertools.pairwise(runs)]
        assert all(gap >= delay for gap, delay in zip(gaps, delays, strict=True))

        await asyncio.sleep(0.1)
        assert len(runs) == 3  # dead means no more attempts

        healthy = True
        assert await receiver.inbox.replay(entry.id, now=time.time())
        done = await settled(receiver, entry.id, InboxStatus.DONE)
        assert done.attempts == 1
        assert done.last_error is None
        assert [attempt for attempt, _ in runs] == [1, 2, 3, 1]
    finally:
        await receiver.stop()


async def test_handler_succeeding_on_a_retry_ends_done(tmp_path: Path) -> None:
    """A handler that fails once and then succeeds leaves the entry done after two attempts."""
    receiver = fast_receiver(tmp_path)
    attempts: list[int] = []

    @receiver.on(GROUP_FULL)
    def once_broken(event: Event, meta: WebhookMeta) -> None:
        attempts.append(meta.attempt)
        if meta.attempt == 1:
            raise ValueError("transient")

    try:
        await receiver.handle("POST", query(GROUP_FULL), body(GROUP_FULL))
        entry = await only_entry(receiver)
        done = await settled(receiver, entry.id, InboxStatus.DONE)
        assert (done.attempts, attempts) == (2, [1, 2])
    finally:
        await receiver.stop()


async def test_handler_gets_the_inbox_id_in_meta(tmp_path: Path) -> None:
    """An after-handler's WebhookMeta names its inbox entry and the request's facts."""
    receiver = fast_receiver(tmp_path)
    metas: list[WebhookMeta] = []

    @receiver.on(GROUP_FULL)
    def handle(event: Event, meta: WebhookMeta) -> None:
        metas.append(meta)

    try:
        await receiver.handle("POST", query(GROUP_FULL, platform="Android"), body(GROUP_FULL))
        entry = await only_entry(receiver)
        await settled(receiver, entry.id, InboxStatus.DONE)
        [meta] = metas
        assert (meta.inbox_id, meta.sdk_app_id, meta.command) == (entry.id, APP, GROUP_FULL)
        assert (meta.client_ip, meta.opt_platform.value, meta.attempt) == (
            "127.0.0.1",
            "Android",
            1,
        )
    finally:
        await receiver.stop()


async def test_handlers_get_only_their_own_command_and_star_gets_the_rest(tmp_path: Path) -> None:
    """A handler registered for one command never sees another; "*" takes every command
    without a handler of its own, including ones timhooks does not know."""
    receiver = fast_receiver(tmp_path)
    full: list[str] = []
    rest: list[str] = []

    @receiver.on(AfterGroupFull)
    def on_full(event: Event) -> None:
        full.append(event.callback_command)

    @receiver.on("*")
    def on_anything(event: Event) -> None:
        rest.append(event.callback_command)

    unknown = "Group.CallbackAfterSomethingNew"
    try:
        for command in (GROUP_FULL, MEMBER_EXIT, unknown):
            r = await receiver.handle("POST", query(command), body(command))
            assert r.status == 200
        for entry in await receiver.inbox.list():
            await settled(receiver, entry.id, InboxStatus.DONE)
        assert full == [GROUP_FULL]
        assert sorted(rest) == sorted([MEMBER_EXIT, unknown])
    finally:
        await receiver.stop()


async def test_entry_without_a_handler_is_done(tmp_path: Path) -> None:
    """An after-webhook no handler wants is stored already done, with no attempt to make."""
    receiver = fast_receiver(tmp_path)

    @receiver.on(GROUP_FULL)
    def on_full(event: Event) -> None:
        raise AssertionError("not for this command")

    try:
        await receiver.handle("POST", query(MEMBER_EXIT), body(MEMBER_EXIT))
        entry = await only_entry(receiver)
        assert entry.status is InboxStatus.DONE
        assert entry.attempts == 0
    finally:
        await receiver.stop()


async def test_a_command_takes_one_handler(tmp_path: Path) -> None:
    """Registering a second handler for the same command is a ConfigError."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
    try:
        receiver.on(GROUP_FULL)(lambda event: None)
        with pytest.raises(ConfigError, match="already has a handler"):
            receiver.on(AfterGroupFull)(lambda event: None)
        with pytest.raises(ConfigError):
            receiver.on(Event)
    finally:
        await receiver.stop()


async def test_several_apps_each_with_its_own_token(tmp_path: Path) -> None:
    """One receiver serves several SDKAppIDs; each is checked against its own token."""
    receiver = Receiver({1: "token-one", 2: "token-two", 3: None}, inbox=tmp_path / "inbox.db")
    try:
        async with client(receiver) as http:
            ok_one = await post(
                http, GROUP_FULL, body(GROUP_FULL, GroupId="a"), app=1, token="token-one"
            )
            ok_two = await post(
                http, GROUP_FULL, body(GROUP_FULL, GroupId="b"), app=2, token="token-two"
            )
            crossed = await post(
                http, GROUP_FULL, body(GROUP_FULL, GroupId="c"), app=1, token="token-two"
            )
            unsigned = await post(http, GROUP_FULL, body(GROUP_FULL, GroupId="d"), app=2)
            open_app = await post(http, GROUP_FULL, body(GROUP_FULL, GroupId="e"), app=3)
            stranger = await post(http, GROUP_FULL, body(GROUP_FULL, GroupId="f"), app=4)
        assert [r.status_code for r in (ok_one, ok_two, crossed, unsigned, open_app, stranger)] == [
            200,
            200,
            401,
            401,
            200,
            403,
        ]
        stored = {
            (e.sdk_app_id, json.loads(e.body)["GroupId"]) for e in await receiver.inbox.list()
        }
        assert stored == {(1, "a"), (2, "b"), (3, "e")}
    finally:
        await receiver.stop()


class BrokenInbox(InboxStore):
    """An inbox whose disk is gone: every write fails with StorageError."""

    def __init__(self) -> None:
        self.closed = False

    async def put(self, entry: NewInboxEntry) -> tuple[int, bool]:
        raise StorageError("database is locked")

    async def claim(self, *, now: float, limit: int, lease: float) -> list[InboxEntry]:
        return []

    async def list(
        self, *, command: str | None = None, status: InboxStatus | None = None, limit: int = 100
    ) -> list[InboxEntry]:
        return []

    async def close(self) -> None:
        self.closed = True


async def test_storage_failure_is_503_so_tencent_may_retry(tmp_path: Path) -> None:
    """If the inbox cannot store an after-webhook, the answer is 503, never a false 200."""
    inbox = BrokenInbox()
    receiver = Receiver(app_id=APP, inbox=inbox)
    try:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, body(GROUP_FULL))
        assert r.status_code == 503
        assert r.json()["ActionStatus"] == "FAIL"
        assert "could not store" in r.json()["ErrorInfo"]
    finally:
        await receiver.stop()
    assert not inbox.closed  # the receiver closes only an inbox it opened itself


async def test_before_webhook_is_answered_even_when_the_inbox_is_down() -> None:
    """Recording an answered before-webhook is best effort: the decision still goes out."""
    receiver = Receiver(app_id=APP, inbox=BrokenInbox())

    @receiver.on(OA_CREATE)
    def deny(event: Event) -> Decision:
        return Decision.deny()

    try:
        r = await receiver.handle("POST", query(OA_CREATE), body(OA_CREATE))
        assert (r.status, json.loads(r.body)["ErrorCode"]) == (200, 1)
    finally:
        await receiver.stop()


def test_sync_receiver_from_plain_threads(tmp_path: Path) -> None:
    """SyncReceiver.handle works from many ordinary threads at once, with no event loop of
    their own; every webhook is answered and stored."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", poll_interval=0.02)
    handled: list[str] = []
    lock = threading.Lock()

    @receiver.on(AfterGroupFull)
    def record(event: AfterGroupFull) -> None:
        with lock:
            handled.append(event.group_id)

    @receiver.on(OA_CREATE)
    def veto(event: Event) -> Decision:
        return Decision.deny()

    statuses: list[int] = []
    vetoes: list[int] = []
    errors: list[BaseException] = []

    def sender(worker: int, hooks: Any) -> None:
        try:
            for i in range(10):
                payload = body(GROUP_FULL, GroupId=f"g-{worker}-{i}")
                statuses.append(hooks.handle("POST", query(GROUP_FULL), payload).status)
            answer = hooks.handle("POST", query(OA_CREATE), body(OA_CREATE, Name=f"n{worker}"))
            vetoes.append(json.loads(answer.body)["ErrorCode"])
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    with receiver.sync() as hooks:
        threads = [threading.Thread(target=sender, args=(w, hooks)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 10
        while len(handled) < 80 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not errors
    assert statuses == [200] * 80
    assert vetoes == [1] * 8
    assert sorted(handled) == sorted(f"g-{w}-{i}" for w in range(8) for i in range(10))

    async def stored() -> list[InboxEntry]:
        inbox = open_inbox(tmp_path / "inbox.db")
        try:
            return await inbox.list(command=GROUP_FULL, limit=1000)
        finally:
            await inbox.close()

    entries = asyncio.run(stored())
    assert len(entries) == 80
    assert {e.status for e in entries} == {InboxStatus.DONE}
