"""`timhooks trigger COMMAND --url`: one webhook sent to an endpoint on loopback as Tencent would.

The endpoints are a timhooks receiver (``WebhookCapture``, which checks Sign and parses the body
into its model) and a recorder that keeps each request as it arrived.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from devtools_support import APP, HANG, RecordingEndpoint, cli

from served import SENT_BY_SERVE
from timhooks.protocol import COMMANDS, Decision, compute_sign
from timhooks.protocol import events as ev
from timhooks.testing import ServedApp, WebhookCapture


def trigger(capsys: pytest.CaptureFixture[str], command: str, url: str, *flags: str) -> Any:
    return cli(capsys, "trigger", command, "--url", url, "--app-id", str(APP), *flags)


def test_a_signed_webhook_is_accepted_by_a_receiver(
    capsys: pytest.CaptureFixture[str], capture: WebhookCapture
) -> None:
    """The webhook passes a receiver's Sign check and parses into its model with a fresh
    EventTime; trigger prints the status, latency and answer and exits 0."""
    started = time.time()
    run = trigger(capsys, "Group.CallbackAfterGroupFull", capture.url, "--token", capture.token)
    assert run.code == 0, run.err
    event = capture.wait_for(ev.AfterGroupFull)
    assert event.group_id == "@TGS#2J4SZEAEL"
    assert event.event_time is not None
    assert event.event_time >= int(started * 1000)
    assert "HTTP 200 in " in run.out
    assert '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}' in run.out
    assert "Sign=(hidden)" in run.out
    assert compute_sign(capture.token, int(started)) not in run.out


def test_a_before_webhook_prints_what_its_answer_does(
    capsys: pytest.CaptureFixture[str], capture: WebhookCapture
) -> None:
    """For a before-webhook, the decision the answer means: a deny gives the caller 20006."""
    capture.answer(ev.C2CBeforeSendMsg, Decision.deny())
    run = trigger(capsys, "C2C.CallbackBeforeSendMsg", capture.url, "--token", capture.token)
    assert run.code == 0, run.err
    assert "decision: deny → caller gets 20006" in run.out


def test_set_and_query_flags_shape_the_request(
    capsys: pytest.CaptureFixture[str], serve_app: Callable[[Any], ServedApp]
) -> None:
    """--set changes the body, --platform and --client-ip the query; the body is the command's
    own JSON and the query Tencent's, in Tencent's order, signed last."""
    recorder = RecordingEndpoint()
    url = serve_app(recorder).url + "/im"
    run = trigger(
        capsys,
        "C2C.CallbackBeforeSendMsg",
        url,
        "--token",
        "s3cret",
        "--platform",
        "Android",
        "--client-ip",
        "10.0.0.7",
        "--set",
        "MsgBody.0.MsgContent.Text=spam",
        "--set",
        "To_Account=leckie",
    )
    assert run.code == 0, run.err
    [request] = recorder.requests
    assert request.path == "/im"
    assert request.names == [
        "SdkAppid",
        "CallbackCommand",
        "contenttype",
        "ClientIP",
        "OptPlatform",
        "Sign",
        "RequestTime",
    ]
    params = request.params
    assert params["ClientIP"] == "10.0.0.7"
    assert params["OptPlatform"] == "Android"
    assert params["Sign"] == compute_sign("s3cret", params["RequestTime"])
    body = json.loads(request.body)
    assert body["MsgBody"][0]["MsgContent"]["Text"] == "spam"
    assert body["To_Account"] == "leckie"
    assert body["CallbackCommand"] == "C2C.CallbackBeforeSendMsg"


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("Push.OfflinePush", ["SdkAppid", "CallbackCommand", "contenttype"]),
        ("Alert.RequestOverLimit", ["SdkAppid", "CallbackCommand", "OptPlatform", "contenttype"]),
    ],
)
def test_commands_without_client_fields_send_none(
    capsys: pytest.CaptureFixture[str],
    serve_app: Callable[[Any], ServedApp],
    command: str,
    names: list[str],
) -> None:
    """The push and alert webhooks go out with the query their pages document, unsigned here."""
    recorder = RecordingEndpoint()
    run = trigger(capsys, command, serve_app(recorder).url)
    assert run.code == 0, run.err
    assert recorder.requests[0].names == names


def test_body_from_a_file_or_stdin(
    capsys: pytest.CaptureFixture[str],
    serve_app: Callable[[Any], ServedApp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--body FILE and --body - send that body as given (--set still applies)."""
    recorder = RecordingEndpoint()
    url = serve_app(recorder).url
    given = {"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "@TGS#mine"}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(given))
    assert trigger(capsys, "Group.CallbackAfterGroupFull", url, "--body", str(path)).code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(given)))
    run = trigger(capsys, "Group.CallbackAfterGroupFull", url, "--body", "-", "--set", "X=1")
    assert run.code == 0, run.err
    assert [json.loads(r.body) for r in recorder.requests] == [given, {**given, "X": 1}]


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ((500, b'{"ActionStatus":"FAIL","ErrorInfo":"boom","ErrorCode":500}'), "HTTP 500"),
        ((200, b"thanks"), "the answer is not JSON"),
        ((200, b'{"ok": true}'), "the answer has no ActionStatus"),
        (HANG, "no answer within 0.3 s"),
    ],
    ids=["status", "not-json", "not-envelope", "no-answer"],
)
def test_anything_but_a_valid_200_envelope_exits_1(
    capsys: pytest.CaptureFixture[str],
    serve_app: Callable[[Any], ServedApp],
    reply: Any,
    problem: str,
) -> None:
    """A non-200 status, a body that is not Tencent's envelope, or no answer within --timeout
    is a failed webhook: exit status 1 and the reason on stderr."""
    recorder = RecordingEndpoint(replies=[reply])
    url = serve_app(recorder).url
    run = trigger(capsys, "Group.CallbackAfterGroupFull", url, "--timeout", "0.3")
    assert run.code == 1
    assert problem in run.err
    assert "Tencent counts this webhook as failed" in run.err


def test_json_output_for_programs(
    capsys: pytest.CaptureFixture[str], capture: WebhookCapture
) -> None:
    """--json prints one object: the body, status, latency, answer, verdict and decision; the
    Sign is not in it."""
    run = trigger(
        capsys,
        "Group.CallbackBeforeCreateGroup",
        capture.url,
        "--token",
        capture.token,
        "--json",
    )
    assert run.code == 0, run.err
    data = run.json()
    assert data["command"] == "Group.CallbackBeforeCreateGroup"
    assert data["phase"] == "before"
    assert (data["status"], data["ok"], data["problem"]) == (200, True, None)
    assert data["answer"] == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}
    assert data["decision"] == "allow → the action proceeds"
    assert isinstance(data["latency_ms"], float)
    assert data["body"]["Owner_Account"] == "leckie"
    assert "Sign=(hidden)" in data["url"]


def test_list_names_every_command_with_its_phase(capsys: pytest.CaptureFixture[str]) -> None:
    """--list gives the 59 commands, each with its phase and whether --via-server sends it."""
    run = cli(capsys, "trigger", "--list", "--json")
    assert run.code == 0
    rows = run.json()["commands"]
    assert {r["command"]: r["phase"] for r in rows} == {
        name: spec.phase.value for name, spec in COMMANDS.items()
    }
    assert {r["command"] for r in rows if r["via_server"]} == SENT_BY_SERVE
    text = cli(capsys, "trigger", "--list").out
    assert "Group.CallbackBeforeCreateGroup" in text
    assert len(text.splitlines()) == 60


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trigger"], "name the CallbackCommand"),
        (
            ["trigger", "Group.CallbackAfterGroupFul", "--url", "http://127.0.0.1:9/"],
            "did you mean",
        ),
        (["trigger", "Group.CallbackAfterGroupFull", "--app-id", "1"], "give the endpoint"),
        (["trigger", "Group.CallbackAfterGroupFull", "--url", "http://127.0.0.1:9/"], "--app-id"),
        (
            ["trigger", "Group.CallbackAfterGroupFull", "--url", "ftp://x/", "--app-id", "1"],
            "must start with http:// or https://",
        ),
        (
            [
                "trigger",
                "Group.CallbackAfterGroupFull",
                "--url",
                "http://127.0.0.1:9/",
                "--app-id",
                "1",
                "--set",
                "GroupId=5",
            ],
            "not a valid Group.CallbackAfterGroupFull webhook",
        ),
        (
            [
                "trigger",
                "C2C.CallbackAfterModifyMsg",
                "--via-server",
                "http://127.0.0.1:9",
                "--app-id",
                "1",
                "--key",
                "k",
            ],
            "--url URL",
        ),
    ],
    ids=["no-command", "unknown", "no-target", "no-app", "bad-url", "bad-body", "not-by-serve"],
)
def test_usage_errors_say_what_to_give(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Each bad use is exit status 2 with a message that says what was wrong and what to give;
    nothing is sent."""
    run = cli(capsys, *argv)
    assert run.code == 2
    assert message in run.err
