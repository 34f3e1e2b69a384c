"""A committed change keeps its webhook through a SIGKILL of ``timhooks serve``.

The server is killed right after a REST call returned OK; restarted on the same database it
delivers the after-webhook: at once if the row was waiting for a retry, or when the lease of a
row that was claimed (in flight) at the kill ends (five after-webhook timeouts + 10 s).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from cli_support import ServeProcess, import_owner, timhooks_json
from server_support import Rest, app_backend, hang

from loopback import free_port, loopback_socket
from timhooks.delivery.dispatcher import _LEASE_MARGIN, _PREFETCH
from timhooks.protocol import events as ev

pytestmark = pytest.mark.slow

CREATED_OA = ev.AfterCreateOfficialAccount.command
AFTER_TIMEOUT_MS = 500
# A claim's lease: the longest after-webhook timeout for the claimed row's own attempt and for
# each slot's worth queued ahead of it, plus a margin (timhooks/delivery/dispatcher.py).
LEASE = AFTER_TIMEOUT_MS / 1000 * (_PREFETCH + 1) + _LEASE_MARGIN


async def create_oa(served: ServeProcess) -> str:
    """Import an owner and create an OA through the REST API of the served process."""
    facts = served.facts
    async with httpx.AsyncClient(base_url=served.url) as http:
        rest = Rest(http)
        await import_owner(rest, facts)
        return await rest.create_oa("owner", "Survivor")


async def test_webhook_in_flight_at_sigkill_is_delivered_after_restart(tmp_path: Path) -> None:
    """SIGKILL while the after-webhook is in flight (the app is slow): after a restart on the
    same db the webhook is delivered once its claim's lease ends, with the same body."""
    db = tmp_path / "chat.db"
    async with app_backend(tmp_path) as app:
        release = asyncio.Event()
        app.recorder.fail(CREATED_OA, hang(release))
        timeout = ("--callback-after-timeout-ms", str(AFTER_TIMEOUT_MS))
        first = ServeProcess(tmp_path, free_port(), db, app.url, *timeout, name="first")
        try:
            await first.started()
            oa = await create_oa(first)
            [in_flight] = await app.recorder.wait_for(CREATED_OA)
            claimed_at = time.monotonic()
            first.kill()
        finally:
            first.close()
        assert in_flight.body["Official_Account"] == oa

        second = ServeProcess(tmp_path, free_port(), db, app.url, *timeout, name="second")
        try:
            await second.started()
            hits = await app.recorder.wait_for(CREATED_OA, 2, within=LEASE + 10)
            waited = time.monotonic() - claimed_at
            assert waited >= LEASE - 1.5, waited
            assert hits[1].raw_body == in_flight.raw_body
            [event] = await app.received(CREATED_OA)
            assert event.official_account == oa  # type: ignore[attr-defined]
            deadline = time.monotonic() + 10
            while True:
                [row] = await timhooks_json(
                    "deliveries", "list", "--db", str(db), "--command", CREATED_OA
                )
                if row["status"] == "delivered":
                    break
                assert time.monotonic() < deadline, row
                await asyncio.sleep(0.1)
            assert row["attempts"] == 2
            await second.terminate()
        finally:
            release.set()
            second.close()


async def test_webhook_for_an_unreachable_app_survives_sigkill(tmp_path: Path) -> None:
    """The app backend is not reachable yet, the server retries, and is SIGKILLed right after
    the REST call; once the app is up, a restarted server delivers the webhook."""
    db = tmp_path / "chat.db"
    reserved = loopback_socket()  # bound but not listening: connections are refused
    url = f"http://127.0.0.1:{reserved.getsockname()[1]}/im/callback"
    try:
        first = ServeProcess(
            tmp_path,
            free_port(),
            db,
            url,
            "--callback-retry-attempts",
            "5",
            "--callback-retry-base",
            "1",
            name="first",
        )
        try:
            await first.started()
            oa = await create_oa(first)
            deadline = time.monotonic() + 10
            while True:  # the first attempt failed and a retry is due in about a second
                rows = await timhooks_json(
                    "deliveries", "list", "--db", str(db), "--command", CREATED_OA
                )
                if rows and rows[0]["last_error"]:
                    break
                assert time.monotonic() < deadline, rows
                await asyncio.sleep(0.05)
            assert rows[0]["status"] == "pending"
            assert "Connect" in rows[0]["last_error"]
            first.kill()
        finally:
            first.close()

        async with app_backend(tmp_path, sock=reserved) as app:
            assert app.url == url
            second = ServeProcess(tmp_path, free_port(), db, url, name="second")
            try:
                await second.started()
                [hit] = await app.recorder.wait_for(CREATED_OA, within=10)
                assert hit.body["Official_Account"] == oa
                assert hit.body["Name"] == "Survivor"
                [event] = await app.received(CREATED_OA)
                assert event.official_account == oa  # type: ignore[attr-defined]
                await second.terminate()
            finally:
                second.close()
    finally:
        reserved.close()  # uvicorn closed it already unless the test failed early
