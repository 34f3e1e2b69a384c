"""``timhooks serve``'s metrics, health and console, against a ChatServer and a receiver on
loopback: what an operator reads at /metrics and does at /console/."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from server_support import ADMIN, APP, GROUP, KEY, LOGIN, OA, TOKEN, respond, stack, subs

from timhooks.protocol import generate_usersig
from timhooks.server.store import DeliveryStatus

CONSOLE = "serve-console-token-0123456789abcdef"
OPTIONS = {"console_token": CONSOLE}


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, credential: str = CONSOLE) -> httpx.Response:
    """Post ``credential`` to the sign-in form; the answer."""
    login = await http.get("/console/login")
    return await http.post(
        "/console/login",
        data={"csrf": csrf_of(login.text), "credential": credential, "next": "/console/before"},
    )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not (value := await check()):
        assert time.monotonic() < deadline, f"not within {within} s"
        await asyncio.sleep(0.02)
    return value


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search("^" + pattern + "$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_rest_calls_webhooks_decisions_and_the_backlog(tmp_path: Path) -> None:
    """/metrics counts REST calls by command and ErrorCode, webhooks by outcome with their
    latency, before-webhook decisions and fallbacks, and shows the outbox backlog."""
    async with stack(tmp_path, token=TOKEN, server_options=OPTIONS) as s:
        await s.rest.import_users("penn", "jared")
        deny = {"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no"}
        s.recorder.fail("OfficialAccount.CallbackBeforeCreateOfficialAccount", respond(200, deny))
        refused = await s.rest.call(
            OA, "create_official_account", {"Owner_Account": "penn", "Name": "Denied"}
        )
        assert refused["ErrorCode"] != 0
        s.recorder.fail("OfficialAccount.CallbackBeforeCreateOfficialAccount", respond(500, b""))
        await s.rest.create_oa("penn")  # the fallback (proceed) lets it through
        await s.received("OfficialAccount.CallbackAfterCreateOfficialAccount")
        await s.rest.call("no_such_svc", "nothing", {})
        http = s.rest.http
        text = (await http.get("/metrics")).text
        ready = await http.get("/readyz")
    create = "official_account_open_http_svc/create_official_account"
    assert metric(text, "timhooks_rest_calls_total", command=create, error_code="0") == 1
    assert metric(text, "timhooks_rest_calls_total", command="other", error_code="60009") == 1
    assert metric(
        text, "timhooks_rest_calls_total", command=f"{LOGIN}/multiaccount_import", error_code="0"
    )
    before = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
    after = "OfficialAccount.CallbackAfterCreateOfficialAccount"
    assert metric(text, "timhooks_before_webhook_decisions_total", command=before, decision="deny")
    assert metric(
        text, "timhooks_before_webhook_decisions_total", command=before, decision="fallback"
    )
    assert metric(text, "timhooks_before_webhook_fallbacks_total", command=before, policy="proceed")
    assert metric(text, "timhooks_webhooks_sent_total", command=after, outcome="delivered") == 1
    assert metric(text, "timhooks_webhooks_sent_total", command=before, outcome="failed") == 1
    assert metric(text, "timhooks_webhook_duration_seconds_count", command=after) == 1
    assert "timhooks_outbox_pending 0.0" in text
    assert "timhooks_outbox_oldest_pending_age_seconds 0.0" in text
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert "_created" not in text


async def test_a_failed_delivery_is_fixed_in_settings_and_replayed(tmp_path: Path) -> None:
    """The console shows a failed webhook with the receiver's answer; a URL fixed in Settings
    and a replay deliver it, and the deliveries page says so."""
    async with stack(
        tmp_path,
        token=TOKEN,
        callback={"url": "http://127.0.0.1:9/nowhere"},
        server_options=OPTIONS,
    ) as s:
        http = s.rest.http
        await s.rest.import_users("penn")
        await s.rest.create_oa("penn")
        assert (await sign_in(http)).status_code == 303

        async def failed() -> list[int]:
            rows = await s.server.store.deliveries(status=DeliveryStatus.FAILED)
            return [d.id for d in rows if d.phase == "after"]

        ids = await eventually(failed)
        listing = (await http.get("/console/deliveries?status=failed")).text
        assert "OfficialAccount.CallbackAfterCreateOfficialAccount" in listing
        page = (await http.get(f"/console/deliveries/{ids[0]}")).text
        assert "http://127.0.0.1:9/nowhere" in page
        settings = await http.get("/console/settings")
        assert TOKEN not in settings.text
        assert "set: type a new one" in settings.text
        form = {
            "csrf": csrf_of(settings.text),
            "app": str(APP),
            "Url": "ftp://wrong",
            "BeforeTimeoutMs": "2000",
            "AfterTimeoutMs": "2000",
            "BeforeFailurePolicy": "proceed",
            "AfterRetry.Attempts": "1",
            "AfterRetry.BaseSeconds": "1",
            "AfterRetry.Factor": "4",
            "AfterRetry.MaxSeconds": "3600",
            "command": "OfficialAccount.CallbackAfterCreateOfficialAccount",
        }
        bad = await http.post("/console/settings", data=form)
        assert bad.status_code == 400
        assert 'data-field="Url">callback URL must start with http:// or https://' in bad.text
        assert s.server.service.apps[APP].callback.url == "http://127.0.0.1:9/nowhere"
        slow = await http.post("/console/settings", data={**form, "BeforeTimeoutMs": "soon"})
        assert 'data-field="BeforeTimeoutMs">BeforeTimeoutMs must be a number' in slow.text
        saved = await http.post("/console/settings", data={**form, "Url": s.callback_url})
        assert saved.status_code == 303
        callback = s.server.service.apps[APP].callback
        assert callback.url == s.callback_url
        assert callback.token == TOKEN
        assert callback.commands == {"OfficialAccount.CallbackAfterCreateOfficialAccount"}
        stored = await s.server.store.apps()
        assert stored[APP].callback == callback
        replay = await http.post(
            f"/console/deliveries/{ids[0]}/replay", data={"csrf": csrf_of(settings.text)}
        )
        assert replay.status_code == 303
        await s.received("OfficialAccount.CallbackAfterCreateOfficialAccount")

        async def delivered() -> bool:
            found = await s.server.store.delivery(ids[0])
            return found is not None and found[0].status is DeliveryStatus.DELIVERED

        await eventually(delivered)
        shown = (await http.get(f"/console/deliveries/{ids[0]}")).text
        assert "delivered" in shown
        assert "HTTP status" not in shown.split("Attempts")[0]
        assert shown.count("<tr class=") == 2  # the failed attempt and the delivered one


async def test_an_admin_usersig_signs_in_and_no_secret_is_rendered(tmp_path: Path) -> None:
    """An admin's UserSig signs in, a user's does not; no page shows the key, the webhook
    token, the console token or a UserSig."""
    async with stack(tmp_path, token=TOKEN, server_options=OPTIONS) as s:
        http = s.rest.http
        await s.rest.import_users("penn", "jared")
        oa = await s.rest.create_oa("penn")
        await s.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("jared")}
        )
        group = await s.rest.create_group("penn", MemberList=[{"Member_Account": "jared"}])
        said = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "the trail is open"}}]
        await s.rest.ok(
            GROUP,
            "send_group_msg",
            {"GroupId": group, "From_Account": "jared", "Random": 7, "MsgBody": said},
        )
        user_sig = generate_usersig(APP, KEY, "jared", now=int(time.time()))
        refused = await sign_in(http, user_sig)
        assert refused.status_code == 403
        admin_sig = generate_usersig(APP, KEY, ADMIN, now=int(time.time()))
        signed = await sign_in(http, admin_sig)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console/before"
        pages = {}
        for path in (
            "/console/deliveries",
            "/console/deliveries/1",
            "/console/before",
            "/console/settings",
            "/console/objects",
            f"/console/objects/official-accounts/{oa.replace('#', '%23')}",
            f"/console/objects/groups/{group.replace('#', '%23')}",
        ):
            answer = await http.get(path)
            assert answer.status_code == 200, path
            pages[path] = answer.text
        for text in pages.values():
            for secret in (KEY, TOKEN, CONSOLE, user_sig, admin_sig):
                assert secret not in text
        assert "administrator of 1400012345" in pages["/console/deliveries"]
        objects = pages["/console/objects"]
        assert "penn" in objects
        assert oa in objects
        assert group in objects
        assert "jared" in pages[f"/console/objects/official-accounts/{oa.replace('#', '%23')}"]
        group_page = pages[f"/console/objects/groups/{group.replace('#', '%23')}"]
        assert "jared" in group_page
        assert "the trail is open" in group_page
        assert "allow" in pages["/console/before"]


async def test_the_console_is_not_served_when_off(tmp_path: Path) -> None:
    """With the console off, /console/ is an unknown path; health and metrics stay."""
    async with stack(tmp_path, server_options={"console": "off"}) as s:
        http = s.rest.http
        assert (await http.get("/console/")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200


async def test_deliveries_filter_by_command_app_and_time_and_replay_in_bulk(
    tmp_path: Path,
) -> None:
    """The deliveries page filters by command, app and time range, names a filter that does
    not read, and replays what a filter takes in bulk after a confirmation, nothing else."""
    created_oa = "OfficialAccount.CallbackAfterCreateOfficialAccount"
    created_group = "Group.CallbackAfterCreateGroup"
    async with stack(
        tmp_path,
        token=TOKEN,
        callback={"url": "http://127.0.0.1:9/nowhere"},
        server_options=OPTIONS,
    ) as s:
        http = s.rest.http
        await s.rest.import_users("penn")
        await s.rest.create_oa("penn")
        await s.rest.create_oa("penn", name="Sports")
        await s.rest.create_group("penn")

        async def failed() -> list[Any]:
            rows = await s.server.store.deliveries(status=DeliveryStatus.FAILED)
            after = [d for d in rows if d.phase == "after"]
            return after if len(after) == 3 else []

        rows = await eventually(failed)
        assert (await sign_in(http)).status_code == 303

        def listed(html: str) -> list[str]:
            return re.findall(r"<td>((?:OfficialAccount|Group)\.Callback\w+)</td>", html)

        by_command = (await http.get(f"/console/deliveries?command={created_oa}")).text
        assert listed(by_command) == [created_oa, created_oa]
        assert (
            listed((await http.get(f"/console/deliveries?app={APP}")).text).count(created_group)
            == 1
        )
        other_app = (await http.get("/console/deliveries?app=1400099999")).text
        assert listed(other_app) == []
        assert "No webhook matches." in other_app
        first = min(d.created_at for d in rows)
        future = (await http.get(f"/console/deliveries?since={first + 3600:.0f}")).text
        assert listed(future) == []
        past = (await http.get(f"/console/deliveries?until={first + 3600:.0f}")).text
        assert len(listed(past)) >= 3
        bad = (await http.get("/console/deliveries?since=yesterday")).text
        assert 'data-field="since">since: &#39;yesterday&#39; is not a time' in bad

        page = (await http.get("/console/deliveries")).text
        csrf = csrf_of(page)
        unfiltered = await http.post("/console/deliveries/replay", data={"csrf": csrf})
        assert "needs a filter" in (await http.get(unfiltered.headers["location"])).text
        ask = await http.post(
            "/console/deliveries/replay",
            data={"csrf": csrf, "status": "failed", "command": created_oa},
        )
        assert ask.status_code == 200
        assert "Replay 2 webhooks" in ask.text
        through = re.search(r'name="through" value="(\d+)"', ask.text)
        assert through
        await s.rest.ok("timhooks_config", "set_callback", {"Url": s.callback_url, "Token": TOKEN})
        done = await http.post(
            "/console/deliveries/replay",
            data={
                "csrf": csrf,
                "status": "failed",
                "command": created_oa,
                "confirm": "yes",
                "through": through.group(1),
            },
        )
        assert done.status_code == 303
        assert "2 webhooks are queued again" in (await http.get(done.headers["location"])).text
        await s.recorder.wait_for(created_oa, 2)

        async def settled() -> dict[str, set[DeliveryStatus]]:
            found = await s.server.store.deliveries()
            states: dict[str, set[DeliveryStatus]] = {}
            for d in found:
                if d.phase == "after":
                    states.setdefault(d.command, set()).add(d.status)
            return states if states[created_oa] == {DeliveryStatus.DELIVERED} else {}

        states = await eventually(settled)
        assert states[created_group] == {DeliveryStatus.FAILED}  # not taken by the filter
