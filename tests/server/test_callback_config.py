"""Webhook configuration and delivery: set_callback/get_callback, Tencent's URL rules,
per-command switches, the token, retries, recorded failures and replay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import (
    CONFIG,
    GROUP,
    TOKEN,
    BackgroundStack,
    Stack,
    check_query,
    hang,
    respond,
    stack,
)

from loopback import loopback_socket
from timhooks.protocol import COMMANDS, ConfigError
from timhooks.protocol import events as ev
from timhooks.server.config import CallbackConfig
from timhooks.server.store import DeliveryStatus

CREATED = ev.AfterCreateGroup.command


async def create_group(st: Stack) -> str:
    """Make the app send Before- and AfterCreateGroup."""
    await st.rest.import_users("owner")
    return await st.rest.create_group("owner", "Public")


async def settled(st: Stack, command: str, within: float = 10.0) -> Any:
    """The after-webhook of ``command`` once it is no longer pending."""
    deadline = time.monotonic() + within
    while True:
        rows = await st.outbox(command)
        if rows and rows[0].status is not DeliveryStatus.PENDING:
            return rows[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{command} still pending after {within} s: {rows}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    """One stack for the tests that only read the settings or fail to change them."""

    async def nothing(st: Stack) -> None:
        return None

    with BackgroundStack(tmp_path_factory.mktemp("config"), nothing) as bg:
        yield bg


async def refused_change(st: Stack, change: dict[str, Any]) -> tuple[Any, Any, Any]:
    """set_callback with ``change``, and the settings before and after it."""
    before = (await st.rest.ok(CONFIG, "get_callback"))["Callback"]
    result = await st.rest.call(CONFIG, "set_callback", change)
    after = (await st.rest.ok(CONFIG, "get_callback"))["Callback"]
    return result, before, after


# --- set_callback / get_callback ------------------------------------------------------------


async def test_get_callback_shows_the_defaults(tmp_path: Path) -> None:
    """get_callback shows the URL, every command switched on, 2 s timeouts, policy proceed and
    one attempt (Tencent's defaults), and no token."""
    async with stack(tmp_path) as st:
        result = await st.rest.ok(CONFIG, "get_callback")
        assert result["Callback"] == {
            "Url": st.callback_url,
            "IsTokenEnable": False,
            "CallbackCommandList": sorted(COMMANDS),
            "BeforeTimeoutMs": 2000,
            "AfterTimeoutMs": 2000,
            "BeforeFailurePolicy": "proceed",
            "AfterRetry": {"Attempts": 1, "BaseSeconds": 1.0, "Factor": 4.0, "MaxSeconds": 3600.0},
        }


async def test_set_callback_round_trip_never_shows_the_token(tmp_path: Path) -> None:
    """set_callback changes only the fields given; neither its answer nor get_callback ever
    shows the token, only IsTokenEnable."""
    secret = "do-not-echo-this-token"
    async with stack(tmp_path) as st:
        change = {
            "Token": secret,
            "CallbackCommandList": [CREATED, ev.BeforeSendMsg.command],
            "BeforeTimeoutMs": 750,
            "AfterTimeoutMs": 1500,
            "BeforeFailurePolicy": "Deny",
            "AfterRetry": {"Attempts": 5, "BaseSeconds": 2},
        }
        response = await st.rest.http.post(
            "/v4/timhooks_config/set_callback",
            params={
                "sdkappid": str(st.rest.app_id),
                "identifier": "administrator",
                "usersig": st.rest.sig("administrator"),
                "random": "1",
                "contenttype": "json",
            },
            json=change,
        )
        assert secret not in response.text
        got = await st.rest.ok(CONFIG, "get_callback")
        raw = await st.rest.http.post(
            "/v4/timhooks_config/get_callback",
            params={
                "sdkappid": str(st.rest.app_id),
                "identifier": "administrator",
                "usersig": st.rest.sig("administrator"),
            },
            content=b"{}",
        )
        assert secret not in raw.text
        assert "Token" not in got["Callback"]
        assert got["Callback"] == {
            "Url": st.callback_url,
            "IsTokenEnable": True,
            "CallbackCommandList": sorted([CREATED, ev.BeforeSendMsg.command]),
            "BeforeTimeoutMs": 750,
            "AfterTimeoutMs": 1500,
            "BeforeFailurePolicy": "deny",
            "AfterRetry": {"Attempts": 5, "BaseSeconds": 2.0, "Factor": 4.0, "MaxSeconds": 3600.0},
        }
        assert response.json()["Callback"] == got["Callback"]
        off = await st.rest.ok(CONFIG, "set_callback", {"IsTokenEnable": False})
        assert off["Callback"]["IsTokenEnable"] is False
        assert off["Callback"]["BeforeTimeoutMs"] == 750


async def test_token_set_at_run_time_signs_the_next_webhooks(tmp_path: Path) -> None:
    """After set_callback with a Token every webhook carries a valid Sign and RequestTime (the
    receiver, holding that token, accepts it); after IsTokenEnable false they carry neither."""
    async with stack(tmp_path, receiver_token=None) as st:
        await create_group(st)
        [unsigned] = await st.recorder.wait_for(CREATED)
        check_query(unsigned, CREATED)

        await st.rest.ok(CONFIG, "set_callback", {"Token": TOKEN})
        st.receiver.apps[st.rest.app_id] = TOKEN
        await st.rest.create_group("owner", "Public")
        signed = (await st.recorder.wait_for(CREATED, 2))[1]
        check_query(signed, CREATED, token=TOKEN)
        assert (await signed.answered()).status == 200
        before = st.recorder.of(ev.BeforeCreateGroup.command)[1]
        check_query(before, ev.BeforeCreateGroup.command, token=TOKEN)
        assert before.status == 200

        await st.rest.ok(CONFIG, "set_callback", {"IsTokenEnable": False})
        st.receiver.apps[st.rest.app_id] = None
        await st.rest.create_group("owner", "Public")
        check_query((await st.recorder.wait_for(CREATED, 3))[2], CREATED)


async def test_receiver_refuses_a_wrong_sign(tmp_path: Path) -> None:
    """With different tokens on the two sides the receiver answers 401: the after-webhook is a
    recorded failure and no handler runs."""
    async with stack(tmp_path, token=TOKEN, receiver_token="another-token") as st:
        await create_group(st)
        row = await settled(st, CREATED)
        assert row.status is DeliveryStatus.FAILED
        assert row.last_status == 401
        assert st.events == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.com/cb",
        "http://a--b.com/cb",
        "http://x.com/?q=1",
        "http://x.com/cb?",
        "http://x.com/cb#frag",
        "http://-a.com/",
        "http://a-.com/",
        "http://x.com/a b",
        "http://x.com/a!b",
        "http://user:pw@x.com/",
        "http://" + "a" * 60 + ".com/",
        "www.example.com",
        "http:///nohost",
    ],
)
def test_invalid_callback_url_is_refused(shared: BackgroundStack, url: str) -> None:
    """A URL breaking Tencent's rules is refused with 10004 and the old URL stays."""
    result, before, after = shared.run(lambda st: refused_change(st, {"Url": url}))
    assert result["ErrorCode"] == 10004, result
    assert result["ErrorInfo"]
    assert after == before
    assert after["Url"].startswith("http://127.0.0.1:")


async def test_valid_callback_urls_are_accepted(tmp_path: Path) -> None:
    """An IP address, a plain domain and a hyphenated domain with a port and path are valid."""
    async with stack(tmp_path) as st:
        for url in (
            "http://123.123.123.123/imcallback",
            "https://www.example.com",
            "http://a-b.example.com:8080/tim/cb",
        ):
            result = await st.rest.ok(CONFIG, "set_callback", {"Url": url})
            assert result["Callback"]["Url"] == url


@pytest.mark.parametrize(
    "change",
    [
        {"CallbackCommandList": ["OfficialAccount.CallbackAfterSubscribe"]},
        {"CallbackCommandList": "Group.CallbackAfterCreateGroup"},
        {"BeforeTimeoutMs": 0},
        {"BeforeTimeoutMs": "300"},
        {"AfterTimeoutMs": 120000},
        {"BeforeFailurePolicy": "maybe"},
        {"AfterRetry": {"Attempts": 0}},
        {"AfterRetry": 3},
        {"Token": "t" * 129},
    ],
)
def test_invalid_settings_are_refused(shared: BackgroundStack, change: dict[str, Any]) -> None:
    """Unknown commands, timeouts outside (0, 60] s, unknown policies, bad retry settings and
    over-long tokens are refused with 10004 and change nothing."""
    result, before, after = shared.run(lambda st: refused_change(st, change))
    assert result["ErrorCode"] == 10004, result
    assert after == before


# --- per-command switches ---------------------------------------------------------------------


async def test_only_switched_on_commands_are_sent(tmp_path: Path) -> None:
    """With only AfterCreateGroup switched on, creating an OA sends nothing and creating a group
    sends AfterCreateGroup without asking BeforeCreateGroup; nothing else is queued."""
    async with stack(tmp_path) as st:
        await st.rest.ok(CONFIG, "set_callback", {"CallbackCommandList": [CREATED]})
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")
        group = await st.rest.create_group("owner", "Public")
        [hit] = await st.recorder.wait_for(CREATED)
        assert hit.body["GroupId"] == group
        await st.drained()
        assert st.recorder.commands() == [CREATED]
        rows = await st.server.store.deliveries()
        assert [r.command for r in rows] == [CREATED]
        assert (await st.rest.oa_info(oa))["ErrorCode"] == 0

        await st.rest.ok(CONFIG, "set_callback", {"CallbackCommandList": "*"})
        await st.rest.create_oa("owner")
        await st.recorder.wait_for(ev.AfterCreateOfficialAccount.command)


async def test_switched_off_before_webhook_does_not_veto(tmp_path: Path) -> None:
    """A before-command that is switched off is not asked: the action goes ahead even though the
    app's handler would deny it."""
    async with stack(tmp_path) as st:

        @st.receiver.on(ev.BeforeCreateGroup)
        def deny(event: ev.Event) -> Any:
            from timhooks.protocol import Decision

            return Decision.deny()

        await st.rest.import_users("owner")
        assert (
            await st.rest.call(
                GROUP, "create_group", {"Owner_Account": "owner", "Type": "Public", "Name": "n"}
            )
        )["ErrorCode"] == 10016
        enabled = [c for c in COMMANDS if c != ev.BeforeCreateGroup.command]
        await st.rest.ok(CONFIG, "set_callback", {"CallbackCommandList": enabled})
        await st.rest.create_group("owner", "Public")
        await st.recorder.wait_for(CREATED)
        assert len(st.recorder.of(ev.BeforeCreateGroup.command)) == 1


async def test_no_callback_url_queues_nothing(tmp_path: Path) -> None:
    """An app without a webhook URL sends no webhook and queues none."""
    async with stack(tmp_path, connect=False) as st:
        assert (await st.rest.ok(CONFIG, "get_callback"))["Callback"]["Url"] == ""
        await create_group(st)
        await st.rest.create_oa("owner")
        assert await st.server.store.deliveries() == []
        assert st.recorder.hits == []


# --- delivery outcomes ------------------------------------------------------------------------

FAILURES = {
    "HTTP 500": (respond(500, b"oops"), 500, "HTTP status 500"),
    "HTTP 302": (respond(302, b""), 302, "HTTP status 302"),
    "not JSON": (respond(200, b"<html>ok</html>"), 200, "not valid JSON"),
    "JSON array": (respond(200, b"[0]"), 200, "must be a JSON object"),
    "no ErrorCode": (respond(200, {"ActionStatus": "OK", "ErrorInfo": ""}), 200, "no ErrorCode"),
    "ErrorCode text": (
        respond(200, {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": "zero"}),
        200,
        "must be an integer",
    ),
}


@pytest.mark.parametrize("case", FAILURES)
async def test_bad_answers_are_recorded_failures(tmp_path: Path, case: str) -> None:
    """Without retries a non-200, non-JSON or wrongly shaped answer fails the after-webhook at
    once: status failed, one attempt, the HTTP status and the reason recorded."""
    fault, status, reason = FAILURES[case]
    async with stack(tmp_path) as st:
        st.recorder.fail(CREATED, fault)
        await create_group(st)
        row = await settled(st, CREATED)
        assert row.status is DeliveryStatus.FAILED
        assert row.attempts == 1
        assert row.last_status == status
        assert reason in (row.last_error or ""), row.last_error
        _, attempts = await st.server.store.delivery(row.id)
        assert len(attempts) == 1
        assert attempts[0]["status_code"] == status
        assert reason in attempts[0]["error"]
        assert st.receiver.inbox is not None
        assert [e for e, _ in st.events if e.callback_command == CREATED] == []


async def test_slow_answer_times_out(tmp_path: Path) -> None:
    """An app slower than AfterTimeoutMs fails the attempt with a timeout, at about that time."""
    async with stack(tmp_path, callback={"after_timeout": 0.3}) as st:
        release = asyncio.Event()
        st.recorder.fail(CREATED, hang(release))
        await create_group(st)
        row = await settled(st, CREATED)
        release.set()
        assert row.status is DeliveryStatus.FAILED
        assert row.last_status is None
        assert "timed out" in (row.last_error or "")
        _, attempts = await st.server.store.delivery(row.id)
        assert 250 <= attempts[0]["latency_ms"] < 2000


async def test_unreachable_app_is_a_recorded_failure(tmp_path: Path) -> None:
    """A URL nobody listens on fails with the connection error as the reason."""
    closed = loopback_socket()
    port = closed.getsockname()[1]
    closed.close()
    async with stack(tmp_path, callback={"url": f"http://127.0.0.1:{port}/cb"}) as st:
        await create_group(st)
        row = await settled(st, CREATED)
        assert row.status is DeliveryStatus.FAILED
        assert "Connect" in (row.last_error or ""), row.last_error


async def test_replay_delivers_a_failed_webhook(tmp_path: Path) -> None:
    """A failed after-webhook is delivered by store.replay once the app works again: the
    receiver gets it, the row is delivered and both attempts are in its log."""
    async with stack(tmp_path) as st:
        st.recorder.fail(CREATED, respond(503, b"maintenance"))
        group = await create_group(st)
        row = await settled(st, CREATED)
        assert row.status is DeliveryStatus.FAILED
        assert await st.server.store.replay(row.id, now=time.time())
        st.server.dispatcher.wake()
        [event] = await st.received(CREATED)
        assert event.group_id == group  # type: ignore[attr-defined]
        done = await settled(st, CREATED)
        assert done.status is DeliveryStatus.DELIVERED
        assert done.attempts == 1
        assert done.finished_at is not None
        _, attempts = await st.server.store.delivery(row.id)
        assert [a["status_code"] for a in attempts] == [503, 200]
        assert attempts[1]["error"] is None
        hits = st.recorder.of(CREATED)
        assert len(hits) == 2
        assert hits[0].raw_body == hits[1].raw_body


async def test_before_webhooks_are_logged_but_not_replayable(tmp_path: Path) -> None:
    """Each before-webhook call is in the delivery log (phase before); replaying one is refused
    because it already decided its action."""
    async with stack(tmp_path) as st:
        await create_group(st)
        await st.recorder.wait_for(CREATED)
        await st.drained()
        [row] = await st.before_records(ev.BeforeCreateGroup.command)
        assert row.status is DeliveryStatus.DELIVERED
        assert row.attempts == 1
        with pytest.raises(ConfigError):
            await st.server.store.replay(row.id, now=time.time())
        assert not await st.server.store.replay(10**9, now=time.time())


@pytest.mark.slow
async def test_retry_policy_delivers_on_the_third_attempt(tmp_path: Path) -> None:
    """With AfterRetry Attempts 3 a receiver answering 500 twice then 200 gets the webhook on
    the third attempt; deliveries shows 3 attempts, each one signed afresh."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.ok(
            CONFIG, "set_callback", {"AfterRetry": {"Attempts": 3, "BaseSeconds": 0.1}}
        )
        st.recorder.fail(CREATED, respond(500, b"a"), respond(500, b"b"))
        await create_group(st)
        await st.received(CREATED, within=15)
        row = await settled(st, CREATED)
        assert row.status is DeliveryStatus.DELIVERED
        assert row.attempts == 3
        _, attempts = await st.server.store.delivery(row.id)
        assert [a["status_code"] for a in attempts] == [500, 500, 200]
        assert [a["error"] is None for a in attempts] == [False, False, True]
        hits = st.recorder.of(CREATED)
        assert len(hits) == 3
        for hit in hits:
            check_query(hit, CREATED, token=TOKEN)
        assert hits[0].at < hits[1].at < hits[2].at


@pytest.mark.slow
async def test_retries_run_out(tmp_path: Path) -> None:
    """With AfterRetry Attempts 2 a receiver that keeps failing leaves the webhook failed after
    exactly 2 attempts."""
    async with stack(tmp_path) as st:
        await st.rest.ok(
            CONFIG, "set_callback", {"AfterRetry": {"Attempts": 2, "BaseSeconds": 0.05}}
        )
        st.recorder.fail(CREATED, respond(500, b"a"), respond(500, b"b"), respond(500, b"c"))
        await create_group(st)
        deadline = time.monotonic() + 10
        while (row := await settled(st, CREATED)).status is not DeliveryStatus.FAILED:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert row.attempts == 2
        assert len(st.recorder.of(CREATED)) == 2


async def test_each_app_has_its_own_webhook_settings(tmp_path: Path) -> None:
    """Two apps on one backend: each app's webhooks carry its own SdkAppid and its own token's
    Sign, and changing one app's settings leaves the other's alone."""
    other_app, other_token = 1400077777, "the-other-apps-token"
    async with stack(tmp_path, token=TOKEN) as st:
        from server_support import ADMIN, Rest

        await st.add_app(
            other_app,
            "other-key",
            callback=CallbackConfig(url=st.callback_url, token=other_token),
        )
        st.receiver.apps[other_app] = other_token
        other = Rest(st.rest.http, other_app, "other-key")
        await other.import_users("owner")
        group = await other.create_group("owner", "Public")
        [hit] = await st.recorder.wait_for(CREATED)
        check_query(hit, CREATED, token=other_token, app_id=other_app)
        assert hit.body["GroupId"] == group
        assert hit.body["Operator_Account"] == ADMIN
        await st.received(CREATED)
        [meta] = st.meta(CREATED)
        assert meta.sdk_app_id == other_app

        await other.ok(CONFIG, "set_callback", {"CallbackCommandList": [], "BeforeTimeoutMs": 500})
        mine = (await st.rest.ok(CONFIG, "get_callback"))["Callback"]
        assert mine["CallbackCommandList"] == sorted(COMMANDS)
        assert mine["BeforeTimeoutMs"] == 2000
        await create_group(st)
        mine_hits = await st.recorder.wait_for(CREATED, 2)
        check_query(mine_hits[1], CREATED, token=TOKEN)
        await other.create_group("owner", "Public")
        await st.drained()
        assert len(st.recorder.of(CREATED)) == 2


# --- private targets ----------------------------------------------------------------------------

PRIVATE = {"allow_private_targets": False}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://[::ffff:127.0.0.1]/cb",
        "http://localhost/cb",
        "http://10.1.2.3/cb",
        "http://192.168.0.9/cb",
        "http://169.254.169.254/latest",
        "http://100.100.100.200/latest",
        "http://[::ffff:100.64.0.1]/cb",
        "http://[64:ff9b::a9fe:a9fe]/cb",
        "http://[2002:a00:1::1]/cb",
    ],
)
async def test_private_targets_can_be_refused(tmp_path: Path, url: str) -> None:
    """With allow_private_targets off, set_callback refuses loopback, private, link-local and
    carrier-grade NAT addresses, also inside IPv6 forms (10004), while a public host is
    accepted."""
    async with stack(tmp_path, connect=False, server_options=PRIVATE) as st:
        result = await st.rest.call(CONFIG, "set_callback", {"Url": url})
        assert result["ErrorCode"] == 10004, result
        public = await st.rest.ok(CONFIG, "set_callback", {"Url": "https://www.example.com/cb"})
        assert public["Callback"]["Url"] == "https://www.example.com/cb"


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1"])
async def test_loopback_shorthands_are_refused(tmp_path: Path, host: str) -> None:
    """With allow_private_targets off, IPv4 shorthands of a loopback address are refused too."""
    async with stack(tmp_path, connect=False, server_options=PRIVATE) as st:
        result = await st.rest.call(CONFIG, "set_callback", {"Url": f"http://{host}/cb"})
        assert result["ErrorCode"] == 10004, result


async def test_delivery_refuses_a_target_that_became_private(tmp_path: Path) -> None:
    """With allow_private_targets off, a stored webhook URL that points at a private address is
    refused when a webhook is sent: nothing reaches it and the attempt says why."""
    async with stack(tmp_path, connect=False, server_options=PRIVATE) as st:
        app = st.server.apps.get(st.rest.app_id)
        await st.add_app(app.sdk_app_id, app.key, callback=CallbackConfig(url=st.callback_url))
        await create_group(st)
        row = await settled(st, CREATED)
        assert st.recorder.hits == []
        assert row.status is DeliveryStatus.FAILED
        assert "non-public" in (row.last_error or "")
