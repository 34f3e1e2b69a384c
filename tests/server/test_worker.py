"""``timhooks worker``: a Worker delivers, from the server's database, what a Chat backend
committed, to the URL the app has stored."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from fakes import AckTransport
from timhooks.protocol import generate_usersig
from timhooks.server.app import ChatServer
from timhooks.server.config import CallbackConfig, ServerConfig
from timhooks.server.worker import Worker

APP = 1400000042
KEY = "worker-key"
ADMIN = "administrator"


class Recorder(AckTransport):
    """Answers every webhook OK and keeps the command of each."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[str] = []

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        """Keep the webhook's CallbackCommand, then answer OK."""
        self.commands += parse_qs(urlsplit(url).query)["CallbackCommand"]
        return await super().post(url, body, connect_to=connect_to)


async def test_a_worker_delivers_what_a_chat_backend_committed(tmp_path: Path) -> None:
    """After-webhooks a Chat backend committed with its own dispatcher off are delivered by a
    Worker on the same database, with the app's stored webhook settings."""
    db = str(tmp_path / "chat.db")
    callback = CallbackConfig(url="http://127.0.0.1:9/im")
    server = ChatServer(
        ServerConfig(db=db, app_id=APP, key=KEY, callback=callback, dispatch=False),
        transport=Recorder(),
    )
    await server.start()
    sig = generate_usersig(APP, KEY, ADMIN, now=int(time.time()))
    params = {"sdkappid": str(APP), "identifier": ADMIN, "usersig": sig}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.asgi), base_url="http://chat"
    ) as http:
        for path, body in (
            ("im_open_login_svc/multiaccount_import", {"AccountList": ["penn"]}),
            (
                "group_open_http_svc/create_group",
                {"Owner_Account": "penn", "Type": "Public", "Name": "g"},
            ),
        ):
            answer = (await http.post(f"/v4/{path}", params=params, json=body)).json()
            assert answer["ErrorCode"] == 0, answer
    await server.stop()

    delivered = Recorder()
    worker = Worker(ServerConfig(db=db), transport=delivered)
    await worker.start()
    try:
        deadline = time.monotonic() + 10
        while await worker.store.pending_count():
            assert time.monotonic() < deadline, "the worker delivered nothing within 10 s"
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    assert delivered.commands == ["Group.CallbackAfterCreateGroup"]
