"""The database file is locked, read-only or full: a clear error, no corruption, recovery.

REST calls answer an envelope with an ErrorCode and an ErrorInfo (never a 500); the receiver
answers 503 (Tencent may retry); `PRAGMA integrity_check` is ok afterwards, and everything
works again once the fault clears.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults_support import (
    AFTER_CREATE_GROUP,
    APP,
    KEY,
    Server,
    inbox_group_ids,
    integrity,
    listening,
    outbox,
    serving,
)

from loopback import HOST, timhooks
from timhooks.protocol import build_query, generate_usersig
from timhooks.receiver import Receiver
from timhooks.server.app import ChatServer
from timhooks.server.config import ServerConfig

pytestmark = pytest.mark.slow

INTERNAL = 10002

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another process holds the database's write lock until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        assert process.stdout.readline().strip() == "locked"
        yield
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def group_webhook(group_id: str) -> tuple[str, bytes]:
    query = build_query(
        sdk_app_id=APP, callback_command=AFTER_CREATE_GROUP, client_ip=HOST, opt_platform="Web"
    )
    body = {"CallbackCommand": AFTER_CREATE_GROUP, "GroupId": group_id, "EventTime": 1}
    return f"/im?{query}", json.dumps(body).encode()


@contextmanager
def serving_and_listening(db: Path, inbox: Path) -> Iterator[tuple[Server, httpx.Client]]:
    """`serve` on ``db`` sending AfterCreateGroup to `listen` on ``inbox``, and a client of
    the listener for posting webhooks to it directly."""
    with (
        listening(inbox) as listener,
        serving(db, "--callback-commands", AFTER_CREATE_GROUP, callback_url=listener.url) as srv,
        httpx.Client(base_url=f"http://{HOST}:{listener.port}", timeout=30) as http,
    ):
        yield srv, http


def test_locked_database_gives_clear_errors_and_recovers(tmp_path: Path) -> None:
    """While another process holds the write lock, REST calls answer ErrorCode 10002 naming
    the lock and `listen` answers 503; both work again once the lock is released."""
    db, inbox = tmp_path / "chat.db", tmp_path / "inbox.db"
    with serving_and_listening(db, inbox) as (srv, http):
        assert srv.create_group("before-lock")["ErrorCode"] == 0
        with locked(db):
            answer = srv.create_group("while-locked")
            assert answer["ActionStatus"] == "FAIL"
            assert answer["ErrorCode"] == INTERNAL
            assert "locked" in answer["ErrorInfo"], answer
        assert srv.create_group("after-lock")["ErrorCode"] == 0
        names = {r["body"]["Name"] for r in outbox(db)}
        assert names == {"before-lock", "after-lock"}  # the refused change left no trace

        with locked(inbox):
            path, body = group_webhook("@TGS#while-locked")
            r = http.post(path, content=body)
            assert r.status_code == 503
            assert r.json()["ActionStatus"] == "FAIL"
            assert r.json()["ErrorInfo"]
        path, body = group_webhook("@TGS#after-unlock")
        assert http.post(path, content=body).status_code == 200
        assert "@TGS#after-unlock" in inbox_group_ids(inbox)
    assert integrity(db) == "ok"
    assert integrity(inbox) == "ok"


def chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def read_only(db: Path) -> Iterator[None]:
    """Make the database and its WAL immutable (even root cannot write them) for the block.

    File modes do not stop root, so this uses the immutable attribute; the -shm file is left
    alone (SQLite maps it into memory, and a write fault there is a SIGBUS, not an error).
    """
    wal = db.with_name(db.name + "-wal")
    try:
        chattr("+i", db, wal)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a file immutable here (chattr +i): {exc}")
    try:
        yield
    finally:
        chattr("-i", db, wal)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr (e2fsprogs)")
def test_read_only_database_gives_clear_errors_and_recovers(tmp_path: Path) -> None:
    """When the database files turn read-only under a running server and listener, REST calls
    answer an ErrorCode with SQLite's reason and `listen` answers 503; both recover."""
    db, inbox = tmp_path / "chat.db", tmp_path / "inbox.db"
    with serving_and_listening(db, inbox) as (srv, http):
        assert srv.create_group("before")["ErrorCode"] == 0
        with read_only(db):
            answer = srv.create_group("while-read-only")
            assert answer["ErrorCode"] == INTERNAL, answer
            assert "storage unavailable" in answer["ErrorInfo"], answer
        assert srv.create_group("after")["ErrorCode"] == 0

        path, body = group_webhook("@TGS#first")
        assert http.post(path, content=body).status_code == 200
        with read_only(inbox):
            path, body = group_webhook("@TGS#while-read-only")
            r = http.post(path, content=body)
            assert r.status_code == 503, r.text
        path, body = group_webhook("@TGS#after")
        assert http.post(path, content=body).status_code == 200
        assert {"@TGS#first", "@TGS#after"} <= set(inbox_group_ids(inbox))
        assert "@TGS#while-read-only" not in inbox_group_ids(inbox)
    assert integrity(db) == "ok"
    assert integrity(inbox) == "ok"


def test_read_only_database_at_start_is_a_clear_error(tmp_path: Path) -> None:
    """`timhooks serve` on a database it cannot open exits 2 with one line naming the file."""
    missing_dir = tmp_path / "file-not-dir"
    missing_dir.write_text("")
    result = timhooks("serve", "--db", str(missing_dir / "chat.db"))
    assert result.returncode == 2, result
    assert result.stderr.startswith("timhooks: error:"), result.stderr
    assert "Traceback" not in result.stderr


# Disk full: a small tmpfs or loop file system needs root and mount rights, which CI machines
# do not promise; SQLite's own limit gives the same SQLITE_FULL error on the same connection:
# ``PRAGMA max_page_count`` caps the file at its current size, so the next growth fails exactly
# as on a full disk. It has to be set on the writer's own connection, hence the in-process run.


async def _page_limit(run: Any, pages: int | None) -> None:
    def op(conn: Any) -> None:
        limit = pages if pages is not None else conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {int(limit)}")

    await run(op)


async def test_disk_full_server_refuses_cleanly_and_recovers(tmp_path: Path) -> None:
    """With the disk full, a change answers ErrorCode 10002 ("full"), leaves no row behind, and
    the same change succeeds once space is back; the file passes integrity_check."""
    db = tmp_path / "chat.db"
    server = ChatServer(ServerConfig(db=str(db), app_id=APP, key=KEY, dispatch=False))
    await server.start()
    try:
        sig = generate_usersig(APP, KEY, "administrator", now=int(time.time()))
        params = {"sdkappid": str(APP), "identifier": "administrator", "usersig": sig}
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:

            async def create(name: str) -> dict[str, Any]:
                body = {"Type": "Public", "Name": name, "Introduction": "x" * 60_000}
                r = await http.post(
                    "/v4/group_open_http_svc/create_group", params=params, json=body
                )
                assert r.status_code == 200
                answer: dict[str, Any] = r.json()
                return answer

            assert (await create("fits"))["ErrorCode"] == 0
            await _page_limit(server.store.run, None)  # the disk is now full
            full = await create("does-not-fit")
            assert full["ErrorCode"] == INTERNAL, full
            assert "full" in full["ErrorInfo"], full
            await _page_limit(server.store.run, 1_000_000_000)  # space is back
            again = await create("fits-again")
            assert again["ErrorCode"] == 0, again
    finally:
        await server.stop()
    assert integrity(db) == "ok"
    conn = sqlite3.connect(db)
    try:
        names = sorted(row[0] for row in conn.execute("SELECT name FROM groups"))
    finally:
        conn.close()
    assert names == ["fits", "fits-again"]  # the refused change left nothing behind


async def test_disk_full_receiver_answers_503_and_recovers(tmp_path: Path) -> None:
    """With the inbox's disk full an after-webhook gets 503 and is not half-stored; once space
    is back the same webhook (Tencent's retry) gets 200 and is stored once."""
    db = tmp_path / "inbox.db"
    receiver = Receiver(app_id=APP, inbox=db)
    try:
        path, _ = group_webhook("@TGS#x")
        query = path.split("?", 1)[1]
        big = json.dumps(
            {"CallbackCommand": AFTER_CREATE_GROUP, "GroupId": "@TGS#big", "Name": "y" * 60_000}
        ).encode()
        small = group_webhook("@TGS#small")[1]
        assert (await receiver.handle("POST", query, small)).status == 200
        # The inbox's writer is private; reaching its connection is the point of this test.
        writer = receiver.inbox._db  # type: ignore[attr-defined]
        await _page_limit(writer.run, None)
        refused = await receiver.handle("POST", query, big)
        assert refused.status == 503
        assert json.loads(refused.body)["ErrorInfo"]
        await _page_limit(writer.run, 1_000_000_000)
        assert (await receiver.handle("POST", query, big)).status == 200
        assert (await receiver.handle("POST", query, big)).status == 200  # a retry: stored once
    finally:
        await receiver.stop()
    assert sorted(inbox_group_ids(db)) == ["@TGS#big", "@TGS#small"]
    assert integrity(db) == "ok"
