"""The README's deployment of ``receiver.asgi`` under the user's own uvicorn, with
``--http timhooks.hosting:LimitedHttpProtocol``: webhooks served, the limits in force."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import pytest

from loopback import HOST, free_port, running
from timhooks.protocol import build_query, compute_sign

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APP = 1400000001
TOKEN = "own-uvicorn-token"


def test_the_fastapi_example_under_uvicorn_keeps_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn fastapi_app:app --http timhooks.hosting:LimitedHttpProtocol answers a webhook
    200 and a head over 64 KiB 431, closing that connection."""
    port = free_port()
    monkeypatch.setenv("TIM_SDKAPPID", str(APP))
    monkeypatch.setenv("TIM_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("TIM_INBOX", str(tmp_path / "inbox.db"))
    argv = [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES)]
    argv += ["--http", "timhooks.hosting:LimitedHttpProtocol", "--host", HOST]
    argv += ["--port", str(port), "--log-level", "warning"]
    command = "Group.CallbackAfterGroupFull"
    now = int(time.time())
    query = build_query(
        sdk_app_id=APP,
        callback_command=command,
        client_ip=HOST,
        opt_platform="Web",
        request_time=now,
        sign=compute_sign(TOKEN, now),
    )
    body = json.dumps({"CallbackCommand": command, "GroupId": "@TGS#1", "EventTime": 1}).encode()

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
            answer = await http.post(f"/tencent/callback?{query}", content=body)
            assert answer.status_code == 200, answer.text
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"POST /tencent/callback HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 70_000)
        answer_bytes = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer_bytes.startswith(b"HTTP/1.1 431 "), answer_bytes[:80]

    with running(argv, port, tmp_path / "out", tmp_path / "err"):
        asyncio.run(scenario())
