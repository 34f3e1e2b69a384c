"""``timhooks listen``'s side paths: /metrics, /healthz, /readyz and the console at /console/
(sign-in, CSRF, the inbox, replays, rejected requests), driven in-process over ASGI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from receiver_support import APP, GROUP_FULL, OA_CREATE, body, eventually, query, settled

from timhooks.console.listen import ListenApp
from timhooks.console.web import console_enabled
from timhooks.delivery import NO_RETRY
from timhooks.metrics import ReceiverMetrics
from timhooks.receiver import Receiver
from timhooks.storage import InboxStatus

TOKEN = "webhook-token-s3cret"
CONSOLE = "console-token-for-tests-0123456789"
ORIGIN = "http://127.0.0.1"
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (a host name under test, never bound)


@asynccontextmanager
async def listen(
    tmp_path: Path, *, console: bool = True, metrics: bool = True, fail: bool = False
) -> AsyncIterator[tuple[Receiver, httpx.AsyncClient]]:
    """A receiver as ``timhooks listen`` serves it; ``fail``: its after-handler raises."""
    receiver = Receiver(
        app_id=APP,
        token=TOKEN,
        inbox=tmp_path / "inbox.db",
        retry=NO_RETRY,
        poll_interval=0.05,
    )

    @receiver.on("*")
    async def handle(event: object) -> None:
        if fail:
            raise RuntimeError("the app's database is down")

    app = ListenApp(
        receiver,
        metrics=ReceiverMetrics().attach(receiver) if metrics else None,
        console_token=CONSOLE if console else None,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
            yield receiver, http
    finally:
        await receiver.stop()


async def webhook(
    http: httpx.AsyncClient, command: str, token: str = TOKEN, **fields: object
) -> httpx.Response:
    """POST a signed webhook to the receiver's path."""
    return await http.post(f"/im?{query(command, token=token)}", content=body(command, **fields))


async def sign_in(http: httpx.AsyncClient) -> str:
    """Sign in with the console token; the session's CSRF token."""
    page = await http.get("/console/login")
    csrf = csrf_of(page.text)
    answer = await http.post(
        "/console/login", data={"csrf": csrf, "credential": CONSOLE, "next": "/console/inbox"}
    )
    assert answer.status_code == 303
    return csrf_of((await http.get("/console/inbox")).text)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search("^" + pattern + "$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_what_listen_received_repeated_rejected_and_handled(
    tmp_path: Path,
) -> None:
    """/metrics counts accepted webhooks, repeats, rejections by reason and handler outcomes,
    and shows the inbox's pending and dead entries."""
    async with listen(tmp_path, fail=True) as (receiver, http):
        assert (await webhook(http, GROUP_FULL, GroupId="@TGS#a")).status_code == 200
        assert (await webhook(http, GROUP_FULL, GroupId="@TGS#a")).status_code == 200  # repeat
        assert (await webhook(http, GROUP_FULL, token="wrong")).status_code == 401
        assert (await http.post("/im?SdkAppid=1", content=b"{}")).status_code == 400
        assert (await webhook(http, OA_CREATE, Owner_Account="a", Name="n")).status_code == 200
        await settled(receiver, 1, InboxStatus.DEAD)
        text = (await http.get("/metrics")).text
    assert metric(text, "timhooks_inbox_received_total", command=GROUP_FULL, phase="after") == 1
    assert metric(text, "timhooks_inbox_received_total", command=OA_CREATE, phase="before") == 1
    assert metric(text, "timhooks_inbox_repeats_total", command=GROUP_FULL) == 1
    assert metric(text, "timhooks_inbox_rejected_total", reason="sign_mismatch") == 1
    assert metric(text, "timhooks_inbox_rejected_total", reason="bad_query") == 1
    assert metric(text, "timhooks_inbox_handler_runs_total", command=GROUP_FULL, outcome="dead")
    assert metric(text, "timhooks_inbox_dead") == 1
    assert metric(text, "timhooks_inbox_pending") == 0
    names = set(re.findall(r"^# TYPE (\S+)", text, re.MULTILINE))
    assert names
    assert all(n.startswith("timhooks_") for n in names)


async def test_an_unknown_command_is_counted_as_other(tmp_path: Path) -> None:
    """A CallbackCommand timhooks does not know is labelled ``other``: no series per request."""
    async with listen(tmp_path) as (_, http):
        assert (await webhook(http, "Made.Up.Command", GroupId="x")).status_code == 200
        text = (await http.get("/metrics")).text
    assert metric(text, "timhooks_inbox_received_total", command="other", phase="unknown") == 1
    assert "Made.Up.Command" not in text


async def test_health_and_readiness_answer_and_metrics_can_be_off(tmp_path: Path) -> None:
    """/healthz and /readyz answer 200 with the inbox open; with metrics off /metrics is 404,
    and with the console off /console/ is the receiver's (a webhook path)."""
    async with listen(tmp_path, metrics=False, console=False) as (_, http):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/console/")).status_code == 405  # console off: a webhook path


async def test_the_console_needs_signing_in_and_refuses_a_wrong_token(tmp_path: Path) -> None:
    """Every console page redirects to the sign-in page until the console token is given; a
    wrong token is refused with a message and no session."""
    async with listen(tmp_path) as (_, http):
        page = await http.get("/console/inbox")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/console/login?next=")
        login = await http.get("/console/login")
        wrong = await http.post(
            "/console/login", data={"csrf": csrf_of(login.text), "credential": "guess"}
        )
        assert wrong.status_code == 403
        assert "not the console token" in wrong.text
        assert (await http.get("/console/inbox")).status_code == 303
        await sign_in(http)
        inbox = await http.get("/console/inbox")
        assert inbox.status_code == 200
        assert inbox.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in inbox.headers["content-security-policy"]


async def test_state_changes_need_the_csrf_token_and_the_same_origin(tmp_path: Path) -> None:
    """A replay without the session's CSRF token, or sent from another origin, is refused and
    changes nothing."""
    async with listen(tmp_path) as (receiver, http):
        await webhook(http, GROUP_FULL)
        await settled(receiver, 1, InboxStatus.DONE)
        csrf = await sign_in(http)
        forged = await http.post("/console/inbox/1/replay", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert "security token" in forged.text
        foreign = await http.post(
            "/console/inbox/1/replay",
            data={"csrf": csrf},
            headers={"origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        entry = await receiver.inbox.get(1)
        assert entry is not None
        assert entry.status is InboxStatus.DONE
        assert entry.attempts == 1
        done = await http.post("/console/inbox/1/replay", data={"csrf": csrf})
        assert done.status_code == 303
        assert (await settled(receiver, 1, InboxStatus.DONE)).attempts == 1
        shown = await http.get("/console/inbox/1")
        assert "pending again" in shown.text


async def test_the_inbox_page_filters_and_shows_a_dead_entry_with_its_error(
    tmp_path: Path,
) -> None:
    """The inbox lists entries newest first, filters by status and body text, and an entry's
    page shows its handler error and its body; the token never appears."""
    async with listen(tmp_path, fail=True) as (receiver, http):
        await webhook(http, GROUP_FULL, GroupId="@TGS#needle")
        await webhook(http, GROUP_FULL, GroupId="@TGS#other")
        await settled(receiver, 2, InboxStatus.DEAD)
        await sign_in(http)
        dead = (await http.get("/console/inbox?status=dead")).text
        assert "@TGS#needle" in dead
        assert "@TGS#other" in dead
        assert "the app&#39;s database is down" in dead
        found = (await http.get("/console/inbox?q=needle")).text
        assert "@TGS#needle" in found
        assert "@TGS#other" not in found
        bad = (await http.get("/console/inbox?since=yesterday")).text
        assert "since: &#39;yesterday&#39; is not a time" in bad
        entry = (await http.get("/console/inbox/1")).text
        assert "RuntimeError: the app&#39;s database is down" in entry
        assert "&#34;GroupId&#34;: &#34;@TGS#needle&#34;" in entry
        for page in (dead, found, entry, (await http.get("/console/rejected")).text):
            assert TOKEN not in page
            assert CONSOLE not in page


async def test_replaying_every_dead_entry_asks_first_then_replays_them(tmp_path: Path) -> None:
    """Replay of the filtered entries shows how many match and replays only once confirmed."""
    async with listen(tmp_path, fail=True) as (receiver, http):
        for n in range(3):
            await webhook(http, GROUP_FULL, GroupId=f"@TGS#{n}")
        for n in (1, 2, 3):
            await settled(receiver, n, InboxStatus.DEAD)
        csrf = await sign_in(http)
        ask = await http.post("/console/inbox/replay", data={"csrf": csrf, "status": "dead"})
        assert ask.status_code == 200
        assert "Replay 3 inbox entries" in ask.text
        assert (await receiver.inbox.get(1)).attempts == 1  # type: ignore[union-attr]
        through = re.search(r'name="through" value="(\d+)"', ask.text)
        assert through
        done = await http.post(
            "/console/inbox/replay",
            data={"csrf": csrf, "status": "dead", "confirm": "yes", "through": through.group(1)},
        )
        assert done.status_code == 303

        async def replayed() -> bool:
            entries = await receiver.inbox.list()
            return all(e.attempts == 1 and e.status is InboxStatus.DEAD for e in entries) and all(
                e.last_error for e in entries
            )

        await eventually(replayed)
        assert (
            "3 inbox entries are pending again" in (await http.get(done.headers["location"])).text
        )
        unfiltered = await http.post("/console/inbox/replay", data={"csrf": csrf})
        assert "needs a filter" in (await http.get(unfiltered.headers["location"])).text


async def test_rejected_requests_show_their_reason_and_likely_fix(tmp_path: Path) -> None:
    """The Rejected page lists a wrong Sign and an unknown app with what to do about each."""
    async with listen(tmp_path) as (_, http):
        await webhook(http, GROUP_FULL, token="the-senders-other-token")
        await http.post(f"/im?{query(GROUP_FULL, app=1400099999)}", content=body(GROUP_FULL))
        await sign_in(http)
        page = (await http.get("/console/rejected")).text
    assert "Sign mismatch 1" in page
    assert "the sender&#39;s token differs from --token" in page
    assert "start listen with --app-id 1400099999" in page


def test_the_console_is_on_by_default_only_on_loopback() -> None:
    """Without --console or --no-console the console is served only on a loopback address."""
    assert console_enabled(None, "127.0.0.1")
    assert console_enabled(None, "::1")
    assert console_enabled(None, "localhost")
    assert console_enabled("auto", "127.0.0.2")
    assert not console_enabled(None, ANY_ADDRESS)
    assert not console_enabled("auto", "10.1.2.3")
    assert console_enabled(True, ANY_ADDRESS)
    assert console_enabled("on", ANY_ADDRESS)
    assert not console_enabled(False, "127.0.0.1")
    assert not console_enabled("off", "::1")
