"""Small leaks: what an unauthenticated caller or another local user can read."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import httpx

from timhooks.protocol.decisions import ACK_BODY
from timhooks.receiver import Receiver
from timhooks.server.app import ChatServer
from timhooks.server.config import ServerConfig
from timhooks.storage import open_inbox

APP = 1400000001
KEY = "k" * 64


def _modes(directory: Path, name: str) -> dict[str, int]:
    """The permission bits of a database file and of its -wal and -shm companions."""
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.glob(f"{name}*")}


async def test_the_root_page_names_no_app(tmp_path: Path) -> None:
    """``GET /`` answers without authentication, so it names the software, never an app."""
    server = ChatServer(ServerConfig(db=str(tmp_path / "chat.db"), app_id=APP, key=KEY))
    await server.start()
    try:
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:
            answer = await http.get("/")
        assert answer.status_code == 200
        about = answer.json()
        assert about["name"] == "timhooks"
        assert "version" in about
        assert str(APP) not in json.dumps(about)
    finally:
        await server.stop()


async def test_server_database_files_are_private(tmp_path: Path) -> None:
    """The server's database holds the app's key and token: it and its WAL are 0600."""
    old = os.umask(0o022)
    try:
        server = ChatServer(ServerConfig(db=str(tmp_path / "chat.db"), app_id=APP, key=KEY))
        await server.start()
        await server.stop()
    finally:
        os.umask(old)
    modes = _modes(tmp_path, "chat.db")
    assert "chat.db" in modes
    assert modes == dict.fromkeys(modes, 0o600)


async def test_inbox_files_are_private(tmp_path: Path) -> None:
    """The inbox holds webhook bodies: the database and its WAL and SHM files are 0600."""
    old = os.umask(0o022)
    try:
        receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
        await receiver.start()
        query = f"SdkAppid={APP}&CallbackCommand=Group.CallbackAfterGroupFull"
        body = b'{"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "g1"}'
        answer = await receiver.handle("POST", query, body)
        assert (answer.status, answer.body) == (200, ACK_BODY)
        modes = _modes(tmp_path, "inbox.db")
        # The inbox is open in WAL mode, so its -wal and -shm files exist now.
        assert set(modes) == {"inbox.db", "inbox.db-wal", "inbox.db-shm"}
        assert modes == dict.fromkeys(modes, 0o600)
        await receiver.stop()
    finally:
        os.umask(old)


def test_an_existing_database_keeps_its_permissions(tmp_path: Path) -> None:
    """A file its owner made group-readable (say, for a backup user) is left as it is."""
    path = tmp_path / "inbox.db"
    path.touch()
    path.chmod(0o640)
    inbox = open_inbox(path)
    asyncio.run(inbox.close())
    assert _modes(tmp_path, "inbox.db")["inbox.db"] == 0o640
