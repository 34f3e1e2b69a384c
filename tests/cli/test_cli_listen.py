"""`timhooks listen` and `timhooks events` as real processes on 127.0.0.1, and a crash test."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import loopback
from loopback import HOST, timhooks
from timhooks.protocol import build_query, compute_sign
from timhooks.storage import open_inbox

pytestmark = pytest.mark.slow

APP = 1400000000
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}


@dataclass
class Listener:
    """A running `timhooks listen` process."""

    process: subprocess.Popen[bytes]
    port: int
    stdout: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def printed(self) -> list[dict[str, Any]]:
        """The JSON lines the listener printed, one per handled event."""
        lines = self.stdout.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@contextmanager
def listening(db: Path, *flags: str) -> Iterator[Listener]:
    """Run `python -m timhooks listen` until the block ends; always reap the process."""
    with loopback.listening(db, APP, *flags) as (process, port, out):
        yield Listener(process, port, out)


def events_json(*args: str) -> Any:
    result = timhooks("events", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def webhook_url(command: str, token: str | None = None) -> str:
    if token is None:
        q = build_query(
            sdk_app_id=APP, callback_command=command, client_ip=HOST, opt_platform="Web"
        )
    else:
        now = int(time.time())
        q = build_query(
            sdk_app_id=APP,
            callback_command=command,
            client_ip=HOST,
            opt_platform="Web",
            request_time=now,
            sign=compute_sign(token, now),
        )
    return f"/?{q}"


def done_entry(db: Path, entry_id: str) -> Any:
    """`events show ID --json` once the entry's handler has succeeded, else None."""
    entry = events_json("show", entry_id, "--db", str(db))
    return entry if entry["status"] == "done" else None


def seed(stem: str) -> tuple[str, bytes]:
    payload = next(SEEDS.glob(f"{stem}_*.json")).read_bytes()
    return json.loads(payload)["CallbackCommand"], payload


def wait_until(check: Any, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        time.sleep(0.05)


def test_listen_then_list_show_and_replay(tmp_path: Path) -> None:
    """Webhooks sent to `listen` are answered and stored; `events list/show --json` print them
    with their payload as received; `events replay` makes the running listener handle one again."""
    db = tmp_path / "inbox.db"
    sent = {stem: seed(stem) for stem in ("001", "002", "003")}
    with listening(db) as listener, httpx.Client(base_url=listener.url, timeout=10) as http:
        for command, payload in sent.values():
            r = http.post(webhook_url(command), content=payload)
            assert (r.status_code, r.json()) == (200, ACK)

        def all_three() -> list[Any] | None:
            # The answered before-webhook is recorded just after its answer.
            found: list[Any] = events_json("list", "--db", str(db))
            return found if len(found) == 3 else None

        items = wait_until(all_three)
        for item in items:
            assert {"id", "command", "status", "received_at", "payload"} <= set(item)
            assert isinstance(item["id"], int)
            assert isinstance(item["received_at"], float)
        by_command = {item["command"]: item for item in items}
        assert set(by_command) == {command for command, _ in sent.values()}
        for command, payload in sent.values():
            assert by_command[command]["payload"] == json.loads(payload)
        before = by_command["OfficialAccount.CallbackBeforeCreateOfficialAccount"]
        assert before["status"] == "answered"
        assert before["answer"] == ACK

        group_full = by_command["Group.CallbackAfterGroupFull"]
        gid = str(group_full["id"])
        shown = wait_until(lambda: done_entry(db, gid))
        assert shown["id"] == group_full["id"]
        assert shown["payload"] == {
            "CallbackCommand": "Group.CallbackAfterGroupFull",
            "GroupId": "@TGS#2J4SZEAEL",
            "EventTime": "1670574414123",
        }
        assert shown["attempts"] == 1
        assert [p["id"] for p in listener.printed()].count(group_full["id"]) == 1

        replayed = timhooks("events", "replay", gid, "--db", str(db))
        assert replayed.returncode == 0, replayed.stderr
        assert "pending" in replayed.stdout
        wait_until(lambda: [p["id"] for p in listener.printed()].count(group_full["id"]) == 2)
        again = wait_until(lambda: done_entry(db, gid))
        assert again["attempts"] == 1

        only_done = events_json("list", "--db", str(db), "--status", "done")
        assert {item["command"] for item in only_done} <= {
            "Group.CallbackAfterGroupFull",
            "OfficialAccount.CallbackAfterDeleteSubscriber",
        }
        one_command = events_json(
            "list", "--db", str(db), "--command", "Group.CallbackAfterGroupFull"
        )
        assert [item["id"] for item in one_command] == [group_full["id"]]

        human = timhooks("events", "list", "--db", str(db))
        assert human.returncode == 0
        assert "Group.CallbackAfterGroupFull" in human.stdout

    missing = timhooks("events", "show", "999999", "--db", str(db), "--json")
    assert missing.returncode == 1
    assert "no inbox entry 999999" in missing.stderr
    assert timhooks("events", "replay", "999999", "--db", str(db)).returncode == 1
    not_replayable = timhooks("events", "replay", str(before["id"]), "--db", str(db))
    assert not_replayable.returncode == 2
    assert "before-webhook" in not_replayable.stderr


def test_listen_with_a_token_requires_sign(tmp_path: Path) -> None:
    """`listen --token` answers unsigned or wrongly signed webhooks 401 and stores nothing."""
    db = tmp_path / "inbox.db"
    command, payload = seed("000")
    with (
        listening(db, "--token", "cli-token") as listener,
        httpx.Client(base_url=listener.url, timeout=10) as http,
    ):
        unsigned = http.post(webhook_url(command), content=payload)
        assert unsigned.status_code == 401
        assert "Sign" in unsigned.json()["ErrorInfo"]
        wrong = http.post(webhook_url(command, token="other"), content=payload)
        assert wrong.status_code == 401
        assert events_json("list", "--db", str(db)) == []
        signed = http.post(webhook_url(command, token="cli-token"), content=payload)
        assert (signed.status_code, signed.json()) == (200, ACK)
    assert [item["payload"] for item in events_json("list", "--db", str(db))] == [
        json.loads(payload)
    ]


def stored_bodies(db: Path) -> set[bytes]:
    async def read() -> set[bytes]:
        inbox = open_inbox(db)
        try:
            return {entry.body for entry in await inbox.list(limit=100_000)}
        finally:
            await inbox.close()

    return asyncio.run(read())


def test_sigkill_mid_burst_loses_no_acknowledged_webhook(tmp_path: Path) -> None:
    """Kill -9 the listener in the middle of a burst: every webhook that got a 200 is in the
    inbox afterwards (the 200 is only sent once the webhook is on disk)."""
    total, kill_after, senders = 400, 120, 4
    db = tmp_path / "inbox.db"
    command = "Group.CallbackAfterGroupFull"
    payloads = [
        json.dumps(
            {"CallbackCommand": command, "GroupId": f"@TGS#crash-{i}", "EventTime": i}
        ).encode()
        for i in range(total)
    ]
    acknowledged: list[bytes] = []
    lock = threading.Lock()
    enough = threading.Event()
    next_index = iter(range(total))

    def send(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=5) as http:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                try:
                    r = http.post(webhook_url(command), content=payloads[i])
                except httpx.HTTPError:
                    continue  # the listener is gone; this one was never acknowledged
                if r.status_code == 200:
                    with lock:
                        acknowledged.append(payloads[i])
                        if len(acknowledged) >= kill_after:
                            enough.set()

    with listening(db) as listener:
        threads = [threading.Thread(target=send, args=(listener.url,)) for _ in range(senders)]
        for t in threads:
            t.start()
        try:
            assert enough.wait(60), "the burst never got going"
            listener.process.kill()  # SIGKILL: no shutdown, no flush, no goodbye
            listener.process.wait(10)
        finally:
            for t in threads:
                t.join(60)
    assert listener.process.returncode == -9
    with lock:
        acked = set(acknowledged)
    assert kill_after <= len(acked) < total, "the kill should land mid-burst"

    stored = stored_bodies(db)
    lost = acked - stored
    assert not lost, f"{len(lost)} acknowledged webhooks missing after the crash"

    # The inbox is usable after the crash: a restarted listener takes new webhooks.
    with listening(db) as restarted, httpx.Client(base_url=restarted.url, timeout=10) as http:
        late = json.dumps({"CallbackCommand": command, "GroupId": "@TGS#after-crash"}).encode()
        assert http.post(webhook_url(command), content=late).status_code == 200
    assert late in stored_bodies(db)
