"""schemathesis against /openapi.json: every command, generated bodies and query values, on a
live server on loopback; no server error, and every answer is the documented envelope."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings

from fakes import AckTransport
from timhooks.protocol import generate_usersig
from timhooks.server.app import ChatServer
from timhooks.server.config import ServerConfig

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow

APP = 1400000097
KEY = "schemathesis-key"
ADMIN = "administrator"
USER = "penn"
PER_OPERATION = 25


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # not the main thread: no signal handlers


@contextlib.contextmanager
def live_server(db: Path) -> Iterator[tuple[str, ChatServer]]:
    """A ChatServer under uvicorn on 127.0.0.1 in a thread; webhooks go to AckTransport."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    server = ChatServer(
        ServerConfig(db=str(db), app_id=APP, key=KEY, dispatch=False),
        transport=AckTransport(),
    )
    uv = _Uvicorn(uvicorn.Config(server.asgi, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(uv.serve(sockets=[sock])))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not uv.started:
            assert thread.is_alive(), "server stopped before it started"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}", server
    finally:
        uv.should_exit = True
        thread.join(30)
        sock.close()


def fuzz(operation: Any, url: str, codes: Counter[str]) -> None:
    """Run PER_OPERATION generated calls of one operation against the live server."""
    who = USER if "timhooks_client" in operation.path else ADMIN

    @given(case=operation.as_strategy())
    @settings(
        max_examples=PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # Generated query values are kept, but the credentials must be real for the call to go
        # past the UserSig check into the command (the REST fuzz test covers forged ones).
        case.query = {
            **(case.query or {}),
            "sdkappid": str(APP),
            "identifier": who,
            "usersig": generate_usersig(APP, KEY, who, now=int(time.time())),
        }
        response = case.call(base_url=url, timeout=30)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )
        data = response.json()
        code = data["ErrorCode"]
        assert (data["ActionStatus"] == "OK") == (code == 0), data
        if code != 0:
            assert data["ErrorInfo"], data
        codes["ok" if code == 0 else str(code)] += 1

    check()


SHARDS = 4  # the operations are split over this many tests, which xdist runs side by side


@pytest.mark.parametrize("shard", range(SHARDS))
def test_rest_api_conforms_to_its_openapi_document(tmp_path: Path, shard: int) -> None:
    """For every operation in /openapi.json (this shard's share, by position), generated calls
    with a valid UserSig never get a server error, and every answer matches the document:
    HTTP 200, JSON, the envelope."""
    codes: Counter[str] = Counter()
    with live_server(tmp_path / "chat.db") as (url, server):
        with httpx.Client(base_url=url) as http:
            sig = generate_usersig(APP, KEY, ADMIN, now=int(time.time()))
            params = {"sdkappid": str(APP), "identifier": ADMIN, "usersig": sig}
            body = {"AccountList": [USER, "jared"]}
            r = http.post("/v4/im_open_login_svc/multiaccount_import", params=params, json=body)
            assert r.json()["ErrorCode"] == 0
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = sorted(
            (result.ok() for result in schema.get_all_operations()), key=lambda op: op.path
        )
        commands = {f"/v4/{service}/{name}" for service, name in server.rest.commands}
        assert {op.path for op in operations} == commands

        mine = operations[shard::SHARDS]
        for operation in mine:
            fuzz(operation, url, codes)
    total = sum(codes.values())
    print(f"\nschemathesis: {total} calls over {len(mine)} operations: {dict(codes)}")
    assert codes["ok"] > 0
