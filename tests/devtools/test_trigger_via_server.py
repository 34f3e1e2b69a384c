"""`timhooks trigger COMMAND --via-server URL`: the webhook comes from a real change on a running
Chat backend, made through its REST API, and reaches the backend's callback URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from devtools_support import APP, cli

from served import SENT_BY_SERVE
from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol import events as ev
from timhooks.protocol.events import Event
from timhooks.testing import EventLoopThread, TimServer, WebhookCapture, wait_until


def via_server(capsys: pytest.CaptureFixture[str], server: TimServer, command: str, *flags: str):  # type: ignore[no-untyped-def]
    argv = ["trigger", command, "--via-server", server.url, "--app-id", str(APP)]
    return cli(capsys, *argv, "--key", server.key, *flags)


@pytest.fixture(scope="module")
def served_pair(
    testing_loop: EventLoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TimServer, WebhookCapture]]:
    """One Chat backend whose callback URL is a capture endpoint, for every scenario of this
    module's worker: each scenario makes its own users, groups and accounts."""
    path = tmp_path_factory.mktemp("via-server")
    server = TimServer.start(testing_loop, path / "serve.db", app_id=APP)
    try:
        capture = WebhookCapture.start(testing_loop, path / "capture.db", app_id=APP)
        try:
            server.set_callback(capture.url, token=capture.token)
            yield server, capture
        finally:
            capture.close()
    finally:
        server.close()


def made_by(steps: list[dict[str, Any]]) -> set[str]:
    """What a scenario's calls made: its users (each ends in the run's tag) and the IDs of the
    groups, topics and accounts the server answered."""
    [user, *_] = steps[0]["body"]["AccountList"]
    made = {"_" + user.rpartition("_")[2]}
    for step in steps:
        answer = step["answer"]
        made |= {answer[k] for k in ("GroupId", "TopicId", "OfficialAccountUserID") if k in answer}
    return made


@pytest.mark.parametrize("command", sorted(SENT_BY_SERVE))
def test_every_command_serve_sends_comes_from_a_real_change(
    capsys: pytest.CaptureFixture[str],
    served_pair: tuple[TimServer, WebhookCapture],
    command: str,
) -> None:
    """For each of the 43 webhooks serve sends, on one server: trigger's calls succeed and serve
    sends that webhook, naming what the calls made, to its callback URL."""
    server, capture = served_pair
    run = via_server(capsys, server, command, "--json")
    assert run.code == 0, run.err
    outcome = run.json()
    assert outcome["sent"] is True
    assert (
        f"serve {'sent' if COMMANDS[command].is_before else 'sends'} {command}"
        in (outcome["summary"])
    )
    made = made_by(outcome["steps"])

    def ours() -> list[Event]:
        return [
            e for e in capture.events(command) if any(m in json.dumps(e.to_wire()) for m in made)
        ]

    wait_until(ours)
    assert all(type(event) is COMMANDS[command].model for event in ours())


def test_the_full_account_scenario_is_a_client_subscription(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer, capture: WebhookCapture
) -> None:
    """AfterOfficialAccountFull: an account with room for one, and one user subscribing from a
    client; the webhook names the account trigger created."""
    chat_server.set_callback(capture.url, token=capture.token)
    run = via_server(
        capsys, chat_server, "OfficialAccount.CallbackAfterOfficialAccountFull", "--json"
    )
    assert run.code == 0, run.err
    steps = run.json()["steps"]
    assert [s["command"] for s in steps] == [
        "im_open_login_svc/multiaccount_import",
        "official_account_open_http_svc/create_official_account",
        "timhooks_client/subscribe_official_account",
    ]
    assert steps[1]["body"]["MaxSubscriberNum"] == 1
    created = steps[1]["answer"]["OfficialAccountUserID"]
    assert capture.wait_for(ev.AfterOfficialAccountFull).official_account == created


def test_a_veto_of_the_before_webhook_is_reported(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer, capture: WebhookCapture
) -> None:
    """When the app denies the before-webhook, the webhook was still sent: exit 0, and the
    output says the call was refused with the command's deny code."""
    chat_server.set_callback(capture.url, token=capture.token)
    capture.answer(ev.BeforeCreateOfficialAccount, Decision.deny())
    run = via_server(capsys, chat_server, "OfficialAccount.CallbackBeforeCreateOfficialAccount")
    assert run.code == 0, run.err
    assert "its answer refused the call" in run.out
    assert "ErrorCode 20006" in run.out


def test_an_after_webhook_whose_change_is_vetoed_is_not_sent(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer, capture: WebhookCapture
) -> None:
    """If the app's before-webhook refuses the change, its after-webhook never comes: exit 1."""
    chat_server.set_callback(capture.url, token=capture.token)
    capture.answer(ev.BeforeCreateGroup, Decision.deny())
    run = via_server(capsys, chat_server, "Group.CallbackAfterCreateGroup")
    assert run.code == 1
    assert "serve did not send Group.CallbackAfterCreateGroup" in run.err


def test_no_callback_url_changes_nothing(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer
) -> None:
    """A server with no callback URL would send nothing: trigger says how to set one, makes no
    change and exits 1."""
    run = via_server(capsys, chat_server, "Group.CallbackAfterGroupFull")
    assert run.code == 1
    assert "has no callback URL" in run.err
    assert "--callback-url" in run.err
    assert "POST" not in run.out
    answer = chat_server.rest("group_open_http_svc/get_group_info", {"GroupIdList": ["x"]})
    assert answer["ErrorCode"] == 0


def test_a_command_switched_off_changes_nothing(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer, capture: WebhookCapture
) -> None:
    """A command left out of serve's callback commands would not be sent: exit 1, no change."""
    chat_server.set_callback(
        capture.url, token=capture.token, commands=["Group.CallbackAfterCreateGroup"]
    )
    run = via_server(capsys, chat_server, "Group.CallbackAfterGroupFull")
    assert run.code == 1
    assert "switched off" in run.err
    assert "POST" not in run.out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--key", "not-the-key"], "ErrorCode 70009"),
        (["--admin", "someone"], "check --app-id, --key and --admin"),
    ],
)
def test_wrong_admin_credentials_are_named(
    capsys: pytest.CaptureFixture[str], chat_server: TimServer, flags: list[str], message: str
) -> None:
    """A wrong key or a non-admin identifier is exit status 2, with the server's error code."""
    run = via_server(capsys, chat_server, "Group.CallbackAfterGroupFull", *flags)
    assert run.code == 2
    assert message in run.err


def test_an_unreachable_server_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening at --via-server: exit status 2 naming the address."""
    from loopback import free_port

    url = f"http://127.0.0.1:{free_port()}"
    run = cli(
        capsys,
        "trigger",
        "Group.CallbackAfterGroupFull",
        "--via-server",
        url,
        "--app-id",
        str(APP),
        "--key",
        "k",
    )
    assert run.code == 2
    assert f"cannot reach the server at {url}" in run.err
