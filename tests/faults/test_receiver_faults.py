"""The app backend misbehaves: down, slow, or answering garbage; `timhooks serve` copes.

Real processes on 127.0.0.1: `timhooks serve`, `timhooks listen`, and a scriptable HTTP server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from faults_support import (
    AFTER_CREATE_GROUP,
    BEFORE_CREATE_GROUP,
    FakeApp,
    Reply,
    fake_app,
    inbox_group_ids,
    integrity,
    listening,
    outbox,
    serving,
    wait_until,
)

from loopback import HOST, free_port, timhooks

pytestmark = pytest.mark.slow


def test_receiver_down_with_retries_every_after_webhook_arrives(tmp_path: Path) -> None:
    """With AfterRetry on, after-webhooks sent while the receiver is down all arrive, each
    stored once, after it comes back."""
    port = free_port()
    url = f"http://{HOST}:{port}/im"
    with serving(
        tmp_path / "chat.db", "--callback-commands", AFTER_CREATE_GROUP, callback_url=url
    ) as srv:
        srv.set_callback(AfterRetry={"Attempts": 40, "BaseSeconds": 0.25, "Factor": 1})
        committed = []
        for i in range(20):
            answer = srv.create_group(f"down-{i}")
            assert answer["ErrorCode"] == 0, answer
            committed.append(answer["GroupId"])

        def all_failed_once() -> bool:
            rows = outbox(srv.db)
            return len(rows) == 20 and all(r["attempts"] >= 1 and r["last_error"] for r in rows)

        wait_until(all_failed_once)
        assert {r["status"] for r in outbox(srv.db)} == {"pending"}  # waiting to retry
        time.sleep(1.0)  # down for a while longer
        with listening(tmp_path / "inbox.db", port) as listener:
            wait_until(lambda: set(inbox_group_ids(listener.db)) == set(committed))
            wait_until(lambda: {r["status"] for r in outbox(srv.db)} == {"delivered"})
        stored = inbox_group_ids(tmp_path / "inbox.db")
        assert sorted(stored) == sorted(committed)  # each exactly once
        assert max(r["attempts"] for r in outbox(srv.db)) >= 2
    assert integrity(tmp_path / "chat.db") == "ok"


def test_receiver_down_without_retry_failures_are_recorded_and_replayable(
    tmp_path: Path,
) -> None:
    """With Tencent's default (one attempt) the failures are recorded with their reason, and
    `timhooks deliveries replay` delivers them once the receiver is back."""
    port = free_port()
    url = f"http://{HOST}:{port}/im"
    db = tmp_path / "chat.db"
    with serving(db, "--callback-commands", AFTER_CREATE_GROUP, callback_url=url) as srv:
        committed = [srv.create_group(f"no-retry-{i}")["GroupId"] for i in range(5)]
        rows = wait_until(
            lambda: (
                [r for r in outbox(db) if r["status"] == "failed"]
                if len(outbox(db)) == 5 and all(r["status"] == "failed" for r in outbox(db))
                else None
            )
        )
        for row in rows:
            assert row["attempts"] == 1
            assert "Connect" in row["last_error"], row
        shown = timhooks("deliveries", "show", str(rows[0]["id"]), "--db", str(db), "--json")
        assert shown.returncode == 0, shown.stderr
        log = json.loads(shown.stdout)["attempts_log"]
        assert len(log) == 1
        assert log[0]["status_code"] is None
        assert log[0]["error"]

        with listening(tmp_path / "inbox.db", port) as listener:
            time.sleep(0.5)
            assert inbox_group_ids(listener.db) == []  # no retry happened by itself
            for row in rows:
                replayed = timhooks("deliveries", "replay", str(row["id"]), "--db", str(db))
                assert replayed.returncode == 0, replayed.stderr
            wait_until(lambda: sorted(inbox_group_ids(listener.db)) == sorted(committed))
            wait_until(lambda: all(r["status"] == "delivered" for r in outbox(db)))


def test_slow_receiver_before_webhook_follows_the_failure_policy(tmp_path: Path) -> None:
    """A receiver slower than BeforeTimeoutMs: the webhook gives up within timeout + 100 ms,
    then proceed lets the caller's change happen and deny refuses it with 10016."""
    timeout_ms = 300
    with fake_app() as app:
        app.reply = Reply(delay=2.0)
        flags = ("--callback-commands", BEFORE_CREATE_GROUP)
        flags += ("--callback-before-timeout-ms", str(timeout_ms))
        with serving(tmp_path / "chat.db", *flags, callback_url=app.url) as srv:
            started = time.monotonic()
            proceed = srv.create_group("slow-proceed")
            took_proceed = time.monotonic() - started
            assert proceed["ErrorCode"] == 0, proceed
            srv.set_callback(BeforeFailurePolicy="deny")
            started = time.monotonic()
            denied = srv.create_group("slow-deny")
            took_deny = time.monotonic() - started
            assert denied["ErrorCode"] == 10016, denied
            assert "timed out" in denied["ErrorInfo"]
            info = srv.call(
                "group_open_http_svc", "get_group_info", {"GroupIdList": [proceed["GroupId"]]}
            )
            assert info["ErrorCode"] == 0
            assert info["GroupInfo"][0]["Name"] == "slow-proceed"

            rows = wait_until(lambda: o if len(o := outbox(srv.db, "before")) == 2 else None)
            for row in rows:
                assert row["status"] == "fallback"  # the failure policy answered
                assert row["last_error"] == f"timed out after {timeout_ms / 1000:g} s"
                shown = timhooks(
                    "deliveries", "show", str(row["id"]), "--db", str(srv.db), "--json"
                )
                (attempt,) = json.loads(shown.stdout)["attempts_log"]
                assert attempt["latency_ms"] < timeout_ms + 100, attempt
        assert len(app.hits) == 2
    # The whole REST call (HTTP, UserSig, database and the webhook) stays close to the timeout.
    assert took_proceed < timeout_ms / 1000 + 0.6, took_proceed
    assert took_deny < timeout_ms / 1000 + 0.6, took_deny


BAD_ANSWERS = [
    (Reply(status=500, body=b"internal error"), "HTTP status 500, not 200"),
    (Reply(status=302, body=b""), "HTTP status 302, not 200"),
    (Reply(body=b"<html>OK</html>"), "answer is not valid JSON"),
    (Reply(body=b"[0]"), "answer must be a JSON object, got"),
    (Reply(body=b'{"ActionStatus": "OK"}'), "answer has no ErrorCode"),
    (Reply(body=b'{"ErrorCode": "zero"}'), "answer field ErrorCode must be an integer"),
]


def test_bad_answers_are_failures_with_the_reason(tmp_path: Path) -> None:
    """Non-200, non-JSON or wrongly shaped answers count as failures, recorded with the reason;
    the before-webhook then follows the failure policy (proceed) and the change happens."""
    commands = f"{BEFORE_CREATE_GROUP},{AFTER_CREATE_GROUP}"
    app: FakeApp
    with (
        fake_app() as app,
        serving(tmp_path / "chat.db", "--callback-commands", commands, callback_url=app.url) as srv,
    ):
        for i, (reply, reason) in enumerate(BAD_ANSWERS):
            app.reply = reply
            answer = srv.create_group(f"bad-{i}")
            assert answer["ErrorCode"] == 0, answer  # proceed, as Tencent
            after = wait_until(
                lambda i=i: next(
                    (
                        r
                        for r in outbox(srv.db)
                        if r["body"]["Name"] == f"bad-{i}" and r["status"] != "pending"
                    ),
                    None,
                )
            )
            assert after["status"] == "failed"
            assert reason in after["last_error"], (reason, after)
            assert after["last_status"] == reply.status
        befores = outbox(srv.db, "before")
        assert [r["status"] for r in befores] == ["fallback"] * len(BAD_ANSWERS)
        for row, (_, reason) in zip(befores, BAD_ANSWERS, strict=True):
            assert reason in row["last_error"], (reason, row)
    assert integrity(tmp_path / "chat.db") == "ok"
