"""``timhooks serve`` in a subprocess, and ``timhooks deliveries list|show|replay`` on its db."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx
import pytest
from cli_support import ServeProcess, import_owner, timhooks, timhooks_json
from server_support import (
    ACK,
    ADMIN,
    APP,
    KEY,
    Rest,
    app_backend,
    check_body,
    check_query,
    delayed,
    respond,
)

from loopback import free_port
from timhooks.protocol import events as ev
from timhooks.protocol import verify_usersig

pytestmark = pytest.mark.slow

CREATED_OA = ev.AfterCreateOfficialAccount.command
CREATED_GROUP = ev.AfterCreateGroup.command


async def test_serve_deliveries_list_show_replay(tmp_path: Path) -> None:
    """serve --json prints working start-up facts and sends webhooks; deliveries list/show --json
    describe them and deliveries replay has the running server deliver a failed one again."""
    db = tmp_path / "served.db"
    async with app_backend(tmp_path) as app:
        app.recorder.fail(CREATED_OA, respond(500, b"down for a moment"))
        port = free_port()
        served = ServeProcess(tmp_path, port, db, app.url, name="serve")
        try:
            facts = await served.started()
            assert facts["sdk_app_id"] == APP
            assert facts["key"] == KEY
            assert facts["admin"] == ADMIN
            assert facts["callback_url"] == app.url
            assert facts["url"] == f"http://127.0.0.1:{port}"
            verify_usersig(
                facts["admin_usersig"],
                sdk_app_id=APP,
                key=KEY,
                identifier=ADMIN,
                now=int(time.time()),
            )
            async with httpx.AsyncClient(base_url=served.url) as http:
                about = (await http.get("/")).json()
                assert about["name"] == "timhooks"
                assert str(APP) not in json.dumps(about)
                rest = Rest(http)
                await import_owner(rest, facts)
                started = time.time()
                group = await rest.create_group("owner", "Public")
                oa = await rest.create_oa("owner")
                [hit] = await app.recorder.wait_for(CREATED_GROUP)
                check_query(hit, CREATED_GROUP)
                check_body(
                    hit,
                    CREATED_GROUP,
                    (started, time.time()),
                    GroupId=group,
                    Operator_Account=ADMIN,
                    Owner_Account="owner",
                    Type="Public",
                    Name="Hikers",
                    MemberList=[],
                    UserDefinedDataList=[],
                )
                await app.recorder.wait_for(CREATED_OA)

                failed: list[dict] = []
                deadline = time.monotonic() + 10
                while not failed:
                    assert time.monotonic() < deadline, "the failed delivery was not recorded"
                    failed = await timhooks_json(
                        "deliveries", "list", "--db", str(db), "--status", "failed"
                    )
                    await asyncio.sleep(0.1)
                [item] = failed
                assert {"id", "command", "status", "attempts", "payload"} <= set(item)
                assert (item["command"], item["status"], item["attempts"]) == (
                    CREATED_OA,
                    "failed",
                    1,
                )
                assert item["payload"]["Official_Account"] == oa
                assert "HTTP status 500" in item["last_error"]

                listed = await timhooks_json("deliveries", "list", "--db", str(db))
                by_command = {(i["command"], i["phase"]): i for i in listed}
                assert by_command[(CREATED_GROUP, "after")]["status"] == "delivered"
                assert by_command[(ev.BeforeCreateGroup.command, "before")]["status"] == "delivered"
                assert by_command[(CREATED_GROUP, "after")]["payload"]["GroupId"] == group

                shown = await timhooks_json("deliveries", "show", str(item["id"]), "--db", str(db))
                assert shown["id"] == item["id"]
                [attempt] = shown["attempts_log"]
                assert attempt["status_code"] == 500
                assert "HTTP status 500" in attempt["error"]

                replay = await asyncio.to_thread(
                    timhooks, "deliveries", "replay", str(item["id"]), "--db", str(db)
                )
                assert replay.returncode == 0, replay.stderr
                hits = await app.recorder.wait_for(CREATED_OA, 2, within=15)
                assert hits[1].raw_body == hits[0].raw_body
                [event] = await app.received(CREATED_OA)
                assert event.official_account == oa  # type: ignore[attr-defined]

                deadline = time.monotonic() + 10
                while True:
                    shown = await timhooks_json(
                        "deliveries", "show", str(item["id"]), "--db", str(db)
                    )
                    if shown["status"] == "delivered":
                        break
                    assert time.monotonic() < deadline, shown
                    await asyncio.sleep(0.1)
                assert [a["status_code"] for a in shown["attempts_log"]] == [500, 200]

                before_id = by_command[(ev.BeforeCreateGroup.command, "before")]["id"]
                refused = await asyncio.to_thread(
                    timhooks, "deliveries", "replay", str(before_id), "--db", str(db)
                )
                assert refused.returncode == 2
                assert "before-webhook" in refused.stderr
                missing = await asyncio.to_thread(
                    timhooks, "deliveries", "show", "987654", "--db", str(db)
                )
                assert missing.returncode == 1
            # uvicorn re-raises the SIGTERM it caught once it has shut down.
            assert await served.terminate() in (0, -signal.SIGTERM)
        finally:
            served.close()


async def test_sigterm_drains_the_webhook_in_flight(tmp_path: Path) -> None:
    """SIGTERM stops serve gracefully: an after-webhook in flight is allowed to finish and is
    recorded as delivered before the process exits."""
    db = tmp_path / "served.db"
    async with app_backend(tmp_path) as app:
        app.recorder.fail(CREATED_OA, delayed(1.0, respond(200, ACK)))
        served = ServeProcess(tmp_path, free_port(), db, app.url, name="serve")
        try:
            facts = await served.started()
            async with httpx.AsyncClient(base_url=served.url) as http:
                rest = Rest(http)
                await import_owner(rest, facts)
                await rest.create_oa("owner")
            await app.recorder.wait_for(CREATED_OA)
            await served.terminate()
        finally:
            served.close()
    [item] = await timhooks_json("deliveries", "list", "--db", str(db), "--command", CREATED_OA)
    assert item["status"] == "delivered", item
    shown = await timhooks_json("deliveries", "show", str(item["id"]), "--db", str(db))
    assert [a["status_code"] for a in shown["attempts_log"]] == [200]


def test_usersig_command_makes_a_valid_usersig() -> None:
    """timhooks usersig prints a UserSig the backend accepts for that user."""
    done = timhooks("usersig", "--app-id", str(APP), "--key", KEY, "--user", "amy")
    assert done.returncode == 0, done.stderr
    info = verify_usersig(
        done.stdout.strip(), sdk_app_id=APP, key=KEY, identifier="amy", now=int(time.time())
    )
    assert info.expire == 180 * 86400
