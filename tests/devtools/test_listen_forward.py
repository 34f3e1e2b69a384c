"""`timhooks listen --forward-to URL` as a real process on loopback: every webhook is stored as
always and passed on to the app under development, whose answers decide and whose refusals are
retried."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from devtools_support import APP, HANG, RecordingEndpoint, Request, cli

import loopback
from loopback import timhooks
from timhooks.protocol import Decision, build_query, compute_sign
from timhooks.protocol import events as ev
from timhooks.testing import ServedApp, TimServer, WebhookCapture

pytestmark = pytest.mark.slow

TOKEN = "listen-token"  # listen's own --token: what the sender signs with
ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}
FULL = b'{"CallbackCommand":"Group.CallbackAfterGroupFull","GroupId":"@TGS#1","EventTime":1}'
BEFORE = json.dumps(
    {
        "CallbackCommand": "Group.CallbackBeforeCreateGroup",
        "Operator_Account": "leckie",
        "Owner_Account": "leckie",
        "Type": "Public",
        "Name": "hikers",
        "EventTime": 1670574414123,
    }
).encode()


class Listener:
    """A running `timhooks listen --json --forward-to ...`."""

    def __init__(self, port: int, out: Path, db: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.out = out
        self.db = db

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines printed so far, one per handler run."""
        text = self.out.read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def post(self, command: str, body: bytes, platform: str = "Web") -> httpx.Response:
        """Send a webhook signed with listen's token, as a Chat backend would."""
        now = int(time.time())
        query = build_query(
            sdk_app_id=APP,
            callback_command=command,
            client_ip="127.0.0.1",
            opt_platform=platform,
            request_time=now,
            sign=compute_sign(TOKEN, now),
        )
        return httpx.post(f"{self.url}?{query}", content=body, timeout=10)

    def entry(self, entry_id: int) -> dict[str, Any]:
        result = timhooks("events", "show", str(entry_id), "--db", str(self.db), "--json")
        assert result.returncode == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


@contextmanager
def listening(tmp_path: Path, app_url: str, *flags: str) -> Iterator[Listener]:
    db = tmp_path / "inbox.db"
    argv = ["--token", TOKEN, "--forward-to", app_url, *flags]
    with loopback.listening(db, APP, *argv) as (_, port, out):
        yield Listener(port, out, db)


def wait_until(check: Callable[[], Any], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        time.sleep(0.05)


def test_forwarded_webhooks_keep_tencents_shape_re_signed_for_the_app(
    tmp_path: Path, serve_app: Callable[[Any], ServedApp]
) -> None:
    """The app gets Tencent's query (same SdkAppid, command, ClientIP, OptPlatform) signed with
    --forward-token and a fresh RequestTime, and an after-webhook's body byte for byte; listen
    prints and keeps the app's status, answer and latency with the event."""
    app = RecordingEndpoint()
    app_url = serve_app(app).url + "/app/im"
    with listening(tmp_path, app_url, "--forward-token", "app-token") as listener:
        answer = listener.post("Group.CallbackAfterGroupFull", FULL, platform="Android")
        assert (answer.status_code, answer.json()) == (200, ACK)
        [request] = app.wait(1)
        line = wait_until(lambda: [x for x in listener.lines() if x.get("forward")])[0]
    assert request.path == "/app/im"
    assert request.body == FULL
    params = request.params
    assert request.names == [
        "SdkAppid",
        "CallbackCommand",
        "contenttype",
        "ClientIP",
        "OptPlatform",
        "Sign",
        "RequestTime",
    ]
    assert (params["SdkAppid"], params["CallbackCommand"]) == (
        str(APP),
        "Group.CallbackAfterGroupFull",
    )
    assert (params["ClientIP"], params["OptPlatform"]) == ("127.0.0.1", "Android")
    assert params["Sign"] == compute_sign("app-token", params["RequestTime"])
    forward = line["forward"]
    assert (forward["status"], forward["answer"], forward["problem"]) == (200, ACK, None)
    assert forward["latency_ms"] > 0
    # The app's answer is kept with the event, not only printed.
    kept = wait_until(lambda: listener.entry(line["id"])["answer"])
    assert (kept["status"], kept["answer"]) == (200, ACK)
    assert kept["url"].startswith(f"{app_url}?SdkAppid={APP}&")
    assert "Sign=(hidden)" in kept["url"]


def test_the_apps_decision_is_what_the_sender_gets(
    tmp_path: Path, serve_app: Callable[[Any], ServedApp]
) -> None:
    """A before-webhook is answered with the app's decision (here a reject with its own code),
    and is forwarded byte for byte."""
    reject = {"ActionStatus": "OK", "ErrorInfo": "no hikers", "ErrorCode": 10150}
    app = RecordingEndpoint(replies=[(200, json.dumps(reject).encode())])
    with listening(tmp_path, serve_app(app).url) as listener:
        answer = listener.post("Group.CallbackBeforeCreateGroup", BEFORE)
        [request] = app.wait(1)
    assert answer.status_code == 200
    assert answer.json() == reject
    assert request.body == BEFORE
    # Without --forward-token the app gets webhooks signed with listen's own token.
    assert request.params["Sign"] == compute_sign(TOKEN, request.params["RequestTime"])


def test_a_veto_in_the_app_vetoes_in_serve(
    tmp_path: Path, chat_server: TimServer, capture: WebhookCapture
) -> None:
    """serve → listen → the app: the app denies the group, and the REST caller gets 10016."""
    capture.answer(ev.BeforeCreateGroup, Decision.deny())
    with listening(tmp_path, capture.url, "--forward-token", capture.token) as listener:
        chat_server.set_callback(listener.url, token=TOKEN)
        chat_server.rest("im_open_login_svc/multiaccount_import", {"AccountList": ["leckie"]})
        answer = chat_server.rest(
            "group_open_http_svc/create_group",
            {"Owner_Account": "leckie", "Type": "Public", "Name": "hikers"},
        )
        assert answer["ErrorCode"] == 10016
        line = wait_until(lambda: [x for x in listener.lines() if x.get("forward")])[0]
    assert capture.wait_for(ev.BeforeCreateGroup).owner_account == "leckie"
    assert line["command"] == "Group.CallbackBeforeCreateGroup"
    assert line["forward"]["decision"] == "deny"


def test_a_late_app_gets_the_fallback_within_the_deadline(
    tmp_path: Path, serve_app: Callable[[Any], ServedApp]
) -> None:
    """An app that does not answer a before-webhook in time: listen answers the fallback
    (allow, as Tencent proceeds) and says so."""
    app = RecordingEndpoint(replies=[HANG])
    with listening(tmp_path, serve_app(app).url) as listener:
        answer = listener.post("Group.CallbackBeforeCreateGroup", BEFORE)
        line = wait_until(lambda: [x for x in listener.lines() if x.get("forward")])[0]
    assert (answer.status_code, answer.json()) == (200, ACK)
    assert line["forward"]["fallback"] is True
    assert line["forward"]["decision"] == "allow"
    assert "no answer within" in line["forward"]["problem"]


def test_a_refused_after_webhook_is_retried_and_replayed(
    tmp_path: Path, serve_app: Callable[[Any], ServedApp]
) -> None:
    """An after-webhook the app refuses stays pending with the app's answer as its error
    (`events list --status pending`), is retried per the receiver's policy, and `events replay`
    forwards it again; once the app takes it, it is done."""
    taking = {"now": False}

    async def reply(request: Request) -> tuple[int, bytes]:
        if taking["now"]:
            return 200, json.dumps(ACK).encode()
        return 500, b'{"ActionStatus":"FAIL","ErrorInfo":"db down","ErrorCode":500}'

    app = RecordingEndpoint(replies=[reply] * 50)
    with listening(tmp_path, serve_app(app).url) as listener:
        assert listener.post("Group.CallbackAfterGroupFull", FULL).status_code == 200
        db = str(listener.db)

        def pending() -> list[dict[str, Any]]:
            result = timhooks("events", "list", "--status", "pending", "--db", db, "--json")
            assert result.returncode == 0, result.stderr
            rows: list[dict[str, Any]] = json.loads(result.stdout)
            return [r for r in rows if r["last_error"]]

        [row] = wait_until(pending)
        assert "HTTP 500" in row["last_error"]
        assert "db down" in row["last_error"]
        wait_until(lambda: len(app.requests) >= 2)  # the receiver's retry, 1 s later
        taking["now"] = True
        replayed = timhooks("events", "replay", str(row["id"]), "--db", db)
        assert replayed.returncode == 0, replayed.stderr
        done = wait_until(lambda: listener.entry(row["id"])["status"] == "done")
        assert done
        assert all(r.body == FULL for r in app.requests)
        outcomes = [x["forward"]["status"] for x in listener.lines() if x.get("forward")]
    assert outcomes[0] == 500
    assert outcomes[-1] == 200


def test_a_timed_out_after_webhook_is_retried(
    tmp_path: Path, serve_app: Callable[[Any], ServedApp]
) -> None:
    """An app that does not answer within --forward-timeout fails the run: the entry is
    pending again, its error says so, and the retry that the app answers completes it."""
    app = RecordingEndpoint(replies=[HANG])
    with listening(tmp_path, serve_app(app).url, "--forward-timeout", "0.3") as listener:
        assert listener.post("Group.CallbackAfterGroupFull", FULL).status_code == 200
        wait_until(lambda: len(app.requests) >= 2)
        lines = wait_until(
            lambda: [x for x in listener.lines() if x.get("forward", {}).get("status") == 200]
        )
        entry = listener.entry(lines[0]["id"])
    first = next(x for x in listener.lines() if x.get("forward"))
    assert first["forward"]["problem"] == "no answer within 0.3 s"
    assert entry["status"] == "done"
    assert entry["attempts"] == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--forward-token", "t"], "give --forward-to URL too"),
        (["--forward-to", "http://127.0.0.1:9/im?x=1"], "must have no query"),
        (["--forward-to", "ftp://127.0.0.1/im"], "must start with http:// or https://"),
    ],
)
def test_bad_forwarding_flags_are_refused_before_anything_is_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], message: str
) -> None:
    """A forward token without a target, or a target that is not a webhook URL: exit 2 with
    what to give, and no inbox created."""
    db = tmp_path / "inbox.db"
    run = cli(capsys, "listen", "--app-id", str(APP), "--port", "0", "--db", str(db), *flags)
    assert run.code == 2
    assert message in run.err
    assert not db.exists()
