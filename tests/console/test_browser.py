"""The consoles in a real browser: Debian's chromium, driven by Playwright, against
``timhooks serve`` and ``timhooks listen`` running on loopback.

One session per console, as a developer would have it: sign in, see a failed delivery and why,
fix the callback URL in Settings, replay it, see it delivered; on listen, the inbox, a replay
and the rejected requests. Each page is screenshotted into ``$TIMHOOKS_SCREENSHOTS`` (default: a
directory under pytest's basetemp) for a reviewer to look at.

Where no chromium or no Playwright is found the tests skip, saying which; with
``TIMHOOKS_BROWSER_TESTS=required`` (CI sets it) they fail instead. Playwright never downloads a
browser here: it is given Debian's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopback import HOST, free_port, running, timhooks_argv
from timhooks.protocol import generate_usersig

pytestmark = pytest.mark.slow

APP = 1400000001
KEY = "browser-test-secret-key"
HOOK_TOKEN = "s3cret-browser"
SERVE_CONSOLE = "serve-console-token-for-the-browser-test"
LISTEN_CONSOLE = "listen-console-token-for-the-browser-test"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _browser_or_skip() -> str:
    """The chromium to drive, or a skip (a failure where CI requires the browser tests)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed: pip install -e '.[test]'"
    chromium = _chromium()
    if chromium is None:
        problem = "no chromium found: apt-get install chromium (Debian's browser build)"
    if problem is not None:
        if os.environ.get("TIMHOOKS_BROWSER_TESTS") == "required":
            pytest.fail(f"browser tests are required here, but {problem}")
        pytest.skip(problem)
    assert chromium is not None
    return chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    chromium = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    where = os.environ.get("TIMHOOKS_SCREENSHOTS")
    if where:
        path = Path(where)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def listen_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``timhooks listen`` with a webhook token and a known console token."""
    work = tmp_path_factory.mktemp("listen")
    port = free_port()
    argv = timhooks_argv(
        "listen",
        "--app-id",
        str(APP),
        "--token",
        HOOK_TOKEN,
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(work / "inbox.db"),
        "--console-token",
        LISTEN_CONSOLE,
    )
    with running(argv, port, work / "listen.out", work / "listen.err"):
        yield f"http://{HOST}:{port}"


@pytest.fixture(scope="module")
def serve_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``timhooks serve`` whose callback URL points where nothing listens (port 9)."""
    work = tmp_path_factory.mktemp("serve")
    port = free_port()
    argv = timhooks_argv(
        "serve",
        "--app-id",
        str(APP),
        "--key",
        KEY,
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(work / "chat.db"),
        "--callback-url",
        f"http://{HOST}:9/im",
        "--callback-token",
        HOOK_TOKEN,
        "--callback-retry-attempts",
        "1",
        "--console-token",
        SERVE_CONSOLE,
    )
    with running(argv, port, work / "serve.out", work / "serve.err"):
        yield f"http://{HOST}:{port}"


def rest(base: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
    """One admin REST call to serve."""
    sig = generate_usersig(APP, KEY, "administrator", now=int(time.time()))
    params = {"sdkappid": str(APP), "identifier": "administrator", "usersig": sig, "random": "1"}
    answer = httpx.post(f"{base}/v4/{command}", params=params, json=body, timeout=10).json()
    assert answer["ErrorCode"] == 0, answer
    return dict(answer)


def sign_in(page: Any, base: str, token: str, shot: Path | None = None) -> None:
    """Open the console, land on the sign-in page, sign in with ``token``."""
    page.goto(f"{base}/console/")
    page.wait_for_selector("#credential")
    if shot is not None:
        page.screenshot(path=str(shot))
    page.fill("#credential", token)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("header nav")


def test_serve_console_session(browser: Any, serve_url: str, listen_url: str, shots: Path) -> None:
    """Sign in, see a failed delivery and its reason, fix the callback URL in Settings, replay
    it, and see it delivered."""
    rest(serve_url, "im_open_login_svc/multiaccount_import", {"AccountList": ["penn", "jared"]})
    oa = rest(
        serve_url,
        "official_account_open_http_svc/create_official_account",
        {"Owner_Account": "penn", "Name": "Hikers", "MaxSubscriberNum": 5},
    )["OfficialAccountUserID"]
    rest(
        serve_url,
        "official_account_open_http_svc/add_subscriber",
        {"Official_Account": oa, "SubscriberList": [{"Subscriber_Account": "jared"}]},
    )
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        sign_in(page, serve_url, SERVE_CONSOLE, shots / "serve-sign-in.png")
        assert page.url.endswith("/console/deliveries")
        failed = page.locator("tbody#rows tr.failed", has_text="CallbackAfterCreateOfficialAccount")
        failed.first.wait_for(timeout=WAIT_MS)  # live: the row turns failed without a reload
        page.screenshot(path=str(shots / "serve-deliveries-failed.png"), full_page=True)
        failed.first.locator("a").click()
        page.wait_for_selector("h1 .status.failed")
        assert "Connection refused" in page.inner_text("table.attempts")
        delivery_url = page.url
        page.screenshot(path=str(shots / "serve-delivery-failed.png"), full_page=True)

        page.click("header nav >> text=Settings")
        page.fill("#f-Url", "ftp://not-a-webhook")
        page.click("form.settings button[type=submit]")
        error = page.locator('p.field-error[data-field="Url"]')
        assert "http:// or https://" in error.inner_text()
        page.screenshot(path=str(shots / "serve-settings-error.png"), full_page=True)
        page.fill("#f-Url", f"{listen_url}/im")
        page.click("form.settings button[type=submit]")
        page.wait_for_selector("p.flash")
        assert "saved" in page.inner_text("p.flash")
        assert HOOK_TOKEN not in page.content()

        page.goto(delivery_url)
        page.click("text=Replay: send it again")
        page.wait_for_selector("p.flash")
        delivered = page.locator("h1 .status.delivered")
        for _ in range(WAIT_MS // 250):
            if delivered.count():
                break
            page.wait_for_timeout(250)
            page.reload()
        assert delivered.count() == 1
        assert page.locator("table.attempts tbody tr").count() == 2
        page.screenshot(path=str(shots / "serve-delivery-delivered.png"), full_page=True)

        page.goto(f"{serve_url}/console/deliveries")
        page.locator("tbody#rows tr.delivered").first.wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(shots / "serve-deliveries.png"), full_page=True)
        page.click("header nav >> text=Before-webhooks")
        assert "fallback" in page.inner_text("table.log")
        page.screenshot(path=str(shots / "serve-before.png"), full_page=True)
        page.click("header nav >> text=Objects")
        page.click(f"text={oa}")
        assert "jared" in page.inner_text("table.log")
        page.screenshot(path=str(shots / "serve-objects.png"), full_page=True)
        for secret in (KEY, HOOK_TOKEN, SERVE_CONSOLE):
            assert secret not in page.content()
    finally:
        page.close()


def _post(listen_url: str, command: str, body: dict[str, Any], token: str) -> int:
    at = int(time.time())
    sign = hashlib.sha256(f"{token}{at}".encode()).hexdigest()
    query = (
        f"SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1"
        f"&OptPlatform=RESTAPI&RequestTime={at}&Sign={sign}"
    )
    return httpx.post(f"{listen_url}/im?{query}", json=body, timeout=10).status_code


def test_listen_console_session(browser: Any, listen_url: str, shots: Path) -> None:
    """Sign in to listen's console, see a webhook arrive in the inbox without a reload, replay
    it, and see a request with the wrong Sign among the rejected ones with its likely fix."""
    command = "Group.CallbackAfterGroupFull"
    wrong = {"CallbackCommand": command, "GroupId": "@TGS#x"}
    assert _post(listen_url, command, wrong, "another-token") == 401
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        sign_in(page, listen_url, LISTEN_CONSOLE, shots / "listen-sign-in.png")
        page.wait_for_selector(".live.on")  # the live stream is open
        body = {"CallbackCommand": command, "GroupId": "@TGS#hikers"}
        assert _post(listen_url, command, body, HOOK_TOKEN) == 200
        row = page.locator("tbody#rows tr.done", has_text="@TGS#hikers")
        row.first.wait_for(timeout=WAIT_MS)  # it appears without a reload
        page.screenshot(path=str(shots / "listen-inbox.png"), full_page=True)
        row.first.locator("a").click()
        page.wait_for_selector("h1 .status")
        page.click("text=Replay: run its handler again")
        page.wait_for_selector("p.flash")
        assert "pending again" in page.inner_text("p.flash")
        page.screenshot(path=str(shots / "listen-entry.png"), full_page=True)
        page.click("header nav >> text=Rejected")
        table = page.inner_text("table.log")
        assert "Sign does not match" in table
        assert "the sender's token differs from --token" in table
        page.screenshot(path=str(shots / "listen-rejected.png"), full_page=True)
        assert HOOK_TOKEN not in page.content()
    finally:
        page.close()
