"""The server store's contract on each backend: outbox claims, migrations, concurrent changes."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from timhooks.delivery.sender import Attempt
from timhooks.protocol.errors import StorageError
from timhooks.server.accounts import import_accounts_tx
from timhooks.server.calls import Call
from timhooks.server.config import CallbackConfig
from timhooks.server.groups import OWNED_GROUPS
from timhooks.server.official_accounts import CreateOfficialAccount, create_oa_tx
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.server.store import App, DeliveryStatus, ServerStore
from timhooks.server.subscribers import subscribe_tx
from timhooks.storage import open_writer

APP = 1400000000


def call(now: float = 1000.0, operator: str = "administrator") -> Call:
    return Call(
        app_id=APP,
        operator=operator,
        client_ip="127.0.0.1",
        platform="RESTAPI",
        callback=CallbackConfig(url="http://127.0.0.1:9/cb"),
        now=now,
    )


def queue_rows(conn: Any, n: int, now: float = 1000.0) -> None:
    conn.executemany(
        "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip, opt_platform, status,"
        " next_attempt_at, created_at) VALUES (?, ?, 'after', ?, '127.0.0.1', 'RESTAPI',"
        " 'pending', ?, ?)",
        [
            (
                APP,
                "Group.CallbackAfterGroupFull",
                json.dumps({"GroupId": f"g{i}"}).encode(),
                now,
                now,
            )
            for i in range(n)
        ],
    )


def attempt(ok: bool, at: float = 1001.0) -> Attempt:
    return Attempt(
        url="http://127.0.0.1:9/cb",
        at=at,
        latency_ms=1.0,
        status_code=200 if ok else 500,
        error=None if ok else "HTTP status 500, not 200",
        response=b"{}",
    )


async def test_outbox_claim_record_replay_prune(db_url: str) -> None:
    """Claimed rows wait out their lease; outcomes, attempts, replay and pruning behave."""
    store = ServerStore(db_url)
    try:
        await store.run(lambda c: queue_rows(c, 3))
        rows = await store.claim(now=1000.0, limit=10, lease=12.0)
        assert len(rows) == 3
        assert await store.claim(now=1005.0, limit=10, lease=12.0) == []
        await store.record(rows[0].id, attempt(True), retry_at=None)
        await store.record(rows[1].id, attempt(False), retry_at=1003.0)
        await store.record(rows[2].id, attempt(False), retry_at=None)
        assert [r.id for r in await store.claim(now=1003.0, limit=10, lease=12.0)] == [rows[1].id]
        failed = await store.deliveries(status=DeliveryStatus.FAILED)
        assert [d.id for d in failed] == [rows[2].id]
        assert failed[0].last_status == 500
        found = await store.delivery(rows[2].id)
        assert found is not None
        assert found[1][0]["error"] == "HTTP status 500, not 200"
        assert await store.replay(rows[2].id, now=1010.0) is True
        assert await store.pending_count() == 2
        assert await store.prune(before=2000.0) == 1  # only the delivered one
        assert await store.delivery(rows[0].id) is None
    finally:
        await store.close()


async def test_records_written_together_keep_every_attempt_and_the_last_outcome(
    db_url: str,
) -> None:
    """Records that share one write (on PostgreSQL one statement over arrays) keep each
    attempt, and a row recorded twice in one write ends with its later outcome."""
    store = ServerStore(db_url)
    try:
        await store.run(lambda c: queue_rows(c, 3))
        rows = await store.claim(now=1000.0, limit=10, lease=12.0)
        await asyncio.gather(
            store.record(rows[2].id, attempt(False), retry_at=None),
            store.record(rows[0].id, attempt(False), retry_at=1003.0),
            store.record(rows[0].id, attempt(True, at=1002.0), retry_at=None),
            store.record(rows[1].id, attempt(True), retry_at=None),
        )
        statuses = {d.id: d.status for d in await store.deliveries()}
        assert statuses == {
            rows[0].id: DeliveryStatus.DELIVERED,
            rows[1].id: DeliveryStatus.DELIVERED,
            rows[2].id: DeliveryStatus.FAILED,
        }
        found = await store.delivery(rows[0].id)
        assert found is not None
        assert [a["status_code"] for a in found[1]] == [500, 200]
    finally:
        await store.close()


async def test_two_dispatchers_claim_disjoint_rows(db_url: str) -> None:
    """Stores on one database (as dispatchers in separate processes) never share a row."""
    stores = [ServerStore(db_url) for _ in range(3)]
    try:
        await stores[0].run(lambda c: queue_rows(c, 400))
        seen: list[int] = []

        async def drain(store: ServerStore) -> None:
            while batch := await store.claim(now=1000.0, limit=9, lease=60.0):
                seen.extend(r.id for r in batch)

        await asyncio.gather(*(drain(s) for s in stores), *(drain(s) for s in stores))
        assert len(seen) == 400
        assert len(set(seen)) == 400
    finally:
        for store in stores:
            await store.close()


async def test_apps_round_trip_with_callback_settings(db_url: str) -> None:
    """Apps and their webhook settings, token included, survive a reopen."""
    store = ServerStore(db_url)
    cfg = CallbackConfig(url="http://127.0.0.1:8080/im", token="s3cret", before_timeout=0.5)
    await store.put_app(App(APP, "key", ("administrator",), cfg), now=1.0)
    await store.close()
    again = ServerStore(db_url)
    try:
        apps = await again.apps()
        assert apps[APP].callback == cfg
        assert apps[APP].admins == ("administrator",)
    finally:
        await again.close()


async def test_old_schema_is_upgraded_without_loss(db_url: str) -> None:
    """A database made by schema version 1 is migrated on open and keeps its rows."""
    old = open_writer(db_url, component="server", migrations=SERVER_MIGRATIONS[:1])
    await old.run(lambda c: queue_rows(c, 5))
    await old.run(
        lambda c: c.execute(
            "INSERT INTO accounts (sdk_app_id, user_id, created_at) VALUES (?, 'penn', 1.0)",
            (APP,),
        )
    )
    await asyncio.to_thread(old.close)
    with pytest.raises(StorageError, match="db upgrade"):
        ServerStore(db_url, upgrade=False)
    store = ServerStore(db_url)
    try:
        version = await store.run(
            lambda c: c.execute(
                "SELECT version FROM timhooks_schema WHERE component = 'server'"
            ).fetchone()[0]
        )
        assert version == max(m.version for m in SERVER_MIGRATIONS)
        assert await store.pending_count() == 5
        users = await store.run(lambda c: c.execute("SELECT user_id FROM accounts").fetchall())
        assert [u[0] for u in users] == ["penn"]
    finally:
        await store.close()


async def test_an_owners_group_count_reads_an_index(db_url: str) -> None:
    """CreateGroupNum (create_group's count of the owner's groups) is read through an index,
    not a scan of every group, so create_group costs the same with many groups."""
    store = ServerStore(db_url)
    try:
        if db_url.startswith("postgresql"):

            def plan(conn: Any) -> str:
                conn.execute("SET LOCAL enable_seqscan = off")
                rows = conn.execute("EXPLAIN " + OWNED_GROUPS, (APP, "owner", "Public")).fetchall()
                return " ".join(r[0] for r in rows)
        else:

            def plan(conn: Any) -> str:
                rows = conn.execute(
                    "EXPLAIN QUERY PLAN " + OWNED_GROUPS, (APP, "owner", "Public")
                ).fetchall()
                return " ".join(r[-1] for r in rows)

        text = await store.run(plan)
        assert "groups_owner" in text, text
    finally:
        await store.close()


async def test_the_due_index_holds_the_claim_order(db_url: str) -> None:
    """A claim takes due rows by next_attempt_at, then id: the due index holds both, so a
    backlog is read in order rather than sorted at each claim; on PostgreSQL the outbox is
    analyzed after every 1,000 changes, so its plan follows a growing backlog."""
    store = ServerStore(db_url)
    try:
        if db_url.startswith("postgresql"):

            def look(conn: Any) -> tuple[str, str]:
                index = conn.execute(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_due'"
                    " AND schemaname = current_schema()"
                ).fetchone()[0]
                options = conn.execute(
                    "SELECT reloptions FROM pg_class WHERE oid = 'outbox'::regclass"
                ).fetchone()[0]
                return index, " ".join(options or ())

            index, options = await store.run(look)
            assert "(next_attempt_at, id)" in index, index
            assert "autovacuum_analyze_threshold=1000" in options, options
        else:
            columns = await store.run(
                lambda c: [r[2] for r in c.execute("PRAGMA index_info(outbox_due)").fetchall()]
            )
            assert columns == ["next_attempt_at", "id"]
    finally:
        await store.close()


async def test_concurrent_subscriptions_respect_the_limit(db_url: str) -> None:
    """Subscriptions racing on separate connections never pass MaxSubscriberNum."""
    stores = [ServerStore(db_url) for _ in range(2)]
    try:
        users = [f"u{i}" for i in range(60)]
        await stores[0].run(
            lambda c: import_accounts_tx(c, call(), [(u, "", "") for u in [*users, "owner"]])
        )
        req = CreateOfficialAccount(
            owner="owner", name="n", oa_id="@TOA#_race", max_subscriber_num=25
        )
        await stores[0].run(lambda c: create_oa_tx(c, call(), req))

        async def subscribe(store: ServerStore, chunk: list[str]) -> dict[str, int]:
            return await store.run(
                lambda c: subscribe_tx(c, call(), "@TOA#_race", chunk, frozenset())
            )

        chunks = [users[i : i + 6] for i in range(0, 60, 6)]
        results = await asyncio.gather(
            *(subscribe(stores[i % 2], chunk) for i, chunk in enumerate(chunks))
        )
        added = [u for r in results for u, code in r.items() if code == 1]
        count = await stores[0].run(
            lambda c: c.execute("SELECT COUNT(*) FROM subscribers").fetchone()[0]
        )
        recorded = await stores[0].run(
            lambda c: c.execute("SELECT subscriber_num FROM official_accounts").fetchone()[0]
        )
        fulls = await stores[0].run(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM outbox WHERE command = ?",
                ("OfficialAccount.CallbackAfterOfficialAccountFull",),
            ).fetchone()[0]
        )
        assert len(added) == count == recorded == 25
        assert fulls == 1
    finally:
        for store in stores:
            await store.close()


async def test_a_before_webhook_record_that_fails_is_logged(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A before-webhook record the database refuses is said in the log, never dropped silently."""
    store = ServerStore(db_url)
    await store.run(lambda c: c.execute("DROP TABLE attempts"))
    with caplog.at_level(logging.ERROR, logger="timhooks.server"):
        store.record_before(
            sdk_app_id=APP,
            command="Group.CallbackBeforeCreateGroup",
            body=b"{}",
            client_ip="127.0.0.1",
            platform="RESTAPI",
            attempt=attempt(True),
        )
        await store.close()  # finishes the queued write
    assert "could not be kept" in caplog.text
