"""`timhooks check URL` against endpoints on loopback: a timhooks receiver passes every check,
and an endpoint built to fail each check fails that one (and only that one)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from devtools_support import APP, HANG, TOKEN, FlawedEndpoint, RecordingEndpoint, Run, cli

from timhooks.protocol import Decision
from timhooks.protocol import events as ev
from timhooks.testing import ServedApp, WebhookCapture

CHECKS = [
    "after-ok",
    "wrong-sdkappid",
    "wrong-sign",
    "missing-sign",
    "stale-request-time",
    "repeat",
]


def check(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> Run:
    return cli(capsys, "check", url, "--app-id", str(APP), *flags)


def outcomes(run: Run) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in run.json()["checks"]}


def test_a_timhooks_receiver_passes_every_check(
    capsys: pytest.CaptureFixture[str], capture: WebhookCapture
) -> None:
    """The receiver answers OK in time, refuses what it must and acknowledges a repeat: every
    check passes, the report shows the evidence, and the exit status is 0."""
    run = check(
        capsys,
        capture.url,
        "--token",
        capture.token,
        "--command",
        "Group.CallbackBeforeCreateGroup",
    )
    assert run.code == 0, run.out
    lines = run.out.splitlines()
    assert lines[-1] == "7 checks: 7 passed, 0 failed, 0 skipped"
    assert sum(line.startswith("PASS  ") for line in lines) == 7
    assert "HTTP 401 in " in run.out  # the evidence of a refusal
    assert "decision: allow → the action proceeds" in run.out


@pytest.mark.parametrize(
    ("endpoint", "failing"),
    [
        (FlawedEndpoint(checks_app=False), {"wrong-sdkappid"}),
        (FlawedEndpoint(checks_time=False), {"stale-request-time"}),
        (FlawedEndpoint(acks_repeats=False), {"repeat"}),
        (FlawedEndpoint(answer=lambda command: b"OK"), {"after-ok", "repeat"}),
        (
            FlawedEndpoint(checks_sign=False),
            {"wrong-sign", "missing-sign", "stale-request-time"},
        ),
    ],
    ids=["no-sdkappid-check", "no-time-check", "refuses-repeats", "not-json", "no-sign-check"],
)
def test_an_endpoint_built_to_fail_fails_that_check(
    capsys: pytest.CaptureFixture[str],
    serve_app: Callable[[Any], ServedApp],
    endpoint: FlawedEndpoint,
    failing: set[str],
) -> None:
    """Each flaw fails the checks about it, the others pass; exit status 1."""
    url = serve_app(endpoint).url + "/im"
    run = check(capsys, url, "--token", TOKEN, "--json")
    assert run.code == 1
    found = outcomes(run)
    assert set(found) == set(CHECKS)
    assert {name for name, outcome in found.items() if outcome == "fail"} == failing
    data = run.json()
    assert (data["failed"], data["passed"]) == (len(failing), len(CHECKS) - len(failing))


def test_the_report_explains_a_failure(
    capsys: pytest.CaptureFixture[str], serve_app: Callable[[Any], ServedApp]
) -> None:
    """A failed check prints the request's evidence (status, answer, latency) and why it
    matters."""
    url = serve_app(FlawedEndpoint(checks_sign=False)).url
    run = check(capsys, url, "--token", TOKEN)
    assert run.code == 1
    block = run.out.split("FAIL  a wrong Sign is refused\n")[1].split("\n")[:2]
    assert block[0].startswith("      HTTP 200 in ")
    assert '"ActionStatus": "OK"' in block[0]
    assert "anyone can forge webhooks" in block[1]
    assert run.out.splitlines()[-1] == "6 checks: 3 passed, 3 failed, 0 skipped"


def test_an_endpoint_that_never_answers_fails(
    capsys: pytest.CaptureFixture[str], serve_app: Callable[[Any], ServedApp]
) -> None:
    """No answer within the time limit fails the answer check, with the time in the report."""
    recorder = RecordingEndpoint(replies=[HANG])
    url = serve_app(recorder).url
    run = check(capsys, url, "--token", TOKEN, "--timeout", "0.3", "--json")
    assert run.code == 1
    first = run.json()["checks"][0]
    assert (first["id"], first["outcome"]) == ("after-ok", "fail")
    assert first["detail"] == "no answer within 0.3 s"


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            # Discard is for messages only: a group creation cannot be dropped silently.
            {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 2},
            "does not allow the decision 'discard'",
        ),
        (
            {"ActionStatus": "OK", "ErrorInfo": "mine", "ErrorCode": 5},
            "custom error codes must be in [10100, 10200] (got 5)",
        ),
    ],
)
def test_a_decision_the_command_does_not_allow_fails(
    capsys: pytest.CaptureFixture[str],
    serve_app: Callable[[Any], ServedApp],
    answer: dict[str, Any],
    detail: str,
) -> None:
    """A before-webhook answered with a decision its command does not allow fails the
    decision check, saying which rule it breaks and how Tencent reads it."""

    def answers(command: str) -> bytes:
        ok = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}
        return json.dumps(answer if command == "Group.CallbackBeforeCreateGroup" else ok).encode()

    url = serve_app(FlawedEndpoint(answer=answers)).url
    run = check(
        capsys, url, "--token", TOKEN, "--command", "Group.CallbackBeforeCreateGroup", "--json"
    )
    assert run.code == 1
    decision = next(c for c in run.json()["checks"] if c["id"] == "before-decision")
    assert decision["outcome"] == "fail"
    assert detail in decision["detail"]
    assert "Tencent reads it as: deny → caller gets 10016" in decision["detail"]


def test_a_valid_deny_passes(capsys: pytest.CaptureFixture[str], capture: WebhookCapture) -> None:
    """A deny is a valid decision: the check passes and names what the caller gets."""
    capture.answer(ev.C2CBeforeSendMsg, Decision.deny())
    run = check(
        capsys, capture.url, "--token", capture.token, "--command", "C2C.CallbackBeforeSendMsg"
    )
    assert run.code == 0, run.out
    assert "decision: deny → caller gets 20006" in run.out


def test_without_a_token_the_sign_checks_are_skipped(
    capsys: pytest.CaptureFixture[str], serve_app: Callable[[Any], ServedApp]
) -> None:
    """Without --token the Sign checks are skipped (not failed), and the report says why."""
    url = serve_app(FlawedEndpoint(checks_sign=False)).url
    run = check(capsys, url, "--json")
    assert run.code == 0
    found = outcomes(run)
    assert [found[n] for n in ("wrong-sign", "missing-sign", "stale-request-time")] == ["skip"] * 3
    skipped = next(c for c in run.json()["checks"] if c["id"] == "wrong-sign")
    assert "no --token" in skipped["detail"]


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--command with a name timhooks does not know: exit 2 and the closest names; nothing
    is sent."""
    run = check(capsys, "http://127.0.0.1:9/im", "--command", "C2C.CallbackBeforeSendMs")
    assert run.code == 2
    assert "did you mean C2C.CallbackBeforeSendMsg" in run.err
