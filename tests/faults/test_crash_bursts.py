"""SIGKILL in the middle of a burst of REST changes: nothing committed or acknowledged is lost.

`timhooks serve` sends to `timhooks listen`, both real processes on 127.0.0.1; several threads
make REST changes while one side is killed with SIGKILL (no shutdown, no flush).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from faults_support import (
    AFTER_CREATE_GROUP,
    Reply,
    Server,
    fake_app,
    inbox_group_ids,
    integrity,
    listening,
    outbox,
    serving,
    wait_until,
)

pytestmark = pytest.mark.slow

RETRY = {"Attempts": 100, "BaseSeconds": 0.2, "Factor": 1, "MaxSeconds": 0.5}


class Burst:
    """Threads creating groups until ``total`` calls are made; committed ones are kept."""

    def __init__(self, server: Server, total: int, threads: int = 4) -> None:
        self.server = server
        self.committed: list[str] = []
        self.failed_calls = 0
        self._lock = threading.Lock()
        self._next = iter(range(total))
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while True:
            with self._lock:
                i = next(self._next, None)
            if i is None:
                return
            try:
                answer = self.server.create_group(f"burst-{i}")
            except httpx.HTTPError:
                # The server died under this call: in doubt, neither counted nor required.
                with self._lock:
                    self.failed_calls += 1
                continue
            with self._lock:
                if answer["ErrorCode"] == 0:  # committed: its webhook must arrive
                    self.committed.append(answer["GroupId"])
                else:
                    self.failed_calls += 1

    def __enter__(self) -> Burst:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self._threads:
            t.join(120)

    def count(self) -> int:
        with self._lock:
            return len(self.committed)


def _after(n: int, what: Callable[[], int]) -> Callable[[], bool]:
    return lambda: what() >= n


def test_serve_sigkill_mid_burst_every_committed_change_gets_its_webhook(
    tmp_path: Path,
) -> None:
    """Kill -9 `timhooks serve` while REST calls stream in and its webhooks are still owed
    (the app backend answers 503 until then, so every one is pending or in flight at the kill):
    after a restart on the same database, every change whose call answered ErrorCode 0 has its
    webhook delivered once."""
    db = tmp_path / "chat.db"
    # A short after-webhook timeout makes a short lease for the rows claimed at the kill.
    flags = ("--callback-commands", AFTER_CREATE_GROUP, "--callback-after-timeout-ms", "500")
    with listening(tmp_path / "inbox.db") as listener, fake_app() as down:
        down.reply = Reply(status=503, body=b'{"ErrorInfo": "down"}')
        with serving(db, *flags, callback_url=down.url) as srv:
            srv.set_callback(AfterRetry=RETRY)
            with Burst(srv, total=600) as burst:
                wait_until(_after(80, burst.count), within=60)
                srv.process.kill()
                srv.process.wait(10)
        assert srv.process.returncode == -9
        committed = set(burst.committed)
        assert 80 <= len(committed) < 600, "the kill should land mid-burst"
        assert burst.failed_calls > 0
        assert not [r for r in outbox(db) if r["status"] == "delivered"]
        assert down.hits, "the dispatcher was delivering (to a backend that refused) at the kill"

        with serving(db, *flags, callback_url=listener.url) as again:
            # Rows the killed dispatcher had claimed come back when their lease ends (~12.5 s).
            wait_until(lambda: committed <= set(inbox_group_ids(listener.db)), within=60)
            wait_until(lambda: all(r["status"] == "delivered" for r in outbox(again.db)), 30)
        stored = inbox_group_ids(listener.db)
        assert len(stored) == len(set(stored)), "a re-sent webhook is stored once"
        # Calls in doubt (the kill hit them) may or may not have committed, never half.
        assert set(stored) == {r["body"]["GroupId"] for r in outbox(db)}
    assert integrity(db) == "ok"
    assert integrity(tmp_path / "inbox.db") == "ok"


def test_listen_sigkill_mid_burst_keeps_every_acknowledged_webhook(tmp_path: Path) -> None:
    """Kill -9 `timhooks listen` while `timhooks serve` delivers a burst: every webhook the
    server saw acknowledged (delivered) is in the inbox, and with retries every committed
    change's webhook arrives once the listener is back."""
    db = tmp_path / "chat.db"
    inbox = tmp_path / "inbox.db"
    with listening(inbox) as listener:
        port = listener.port
        flags = ("--callback-commands", AFTER_CREATE_GROUP)
        with serving(db, *flags, callback_url=listener.url) as srv:
            srv.set_callback(AfterRetry=RETRY)
            with Burst(srv, total=300) as burst:
                wait_until(lambda: len(inbox_group_ids(inbox)) >= 40, within=60)
                listener.process.kill()
                listener.process.wait(10)
            assert listener.process.returncode == -9
            assert burst.failed_calls == 0  # the REST side never noticed
            acknowledged = {r["body"]["GroupId"] for r in outbox(db) if r["status"] == "delivered"}
            assert 40 <= len(acknowledged) < 300
            lost = acknowledged - set(inbox_group_ids(inbox))
            assert not lost, f"{len(lost)} acknowledged webhooks missing after the kill"

            with listening(inbox, port):
                committed = set(burst.committed)
                assert len(committed) == 300
                wait_until(lambda: committed <= set(inbox_group_ids(inbox)), within=60)
            stored = inbox_group_ids(inbox)
            assert len(stored) == len(set(stored)) == 300
    assert integrity(inbox) == "ok"
