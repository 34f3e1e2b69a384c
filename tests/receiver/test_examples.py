"""The integration examples in examples/ run as the README shows them."""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from receiver_support import ACK, APP, GROUP_FULL, OA_CREATE, body, eventually, query

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
TOKEN = "example-token"
DENY = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 1}


@pytest.fixture
def load_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Import an example as a fresh module, configured by environment as in production."""
    monkeypatch.setenv("TIM_SDKAPPID", str(APP))
    monkeypatch.setenv("TIM_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("TIM_INBOX", str(tmp_path / "inbox.db"))

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            f"example_{name}_{uuid.uuid4().hex}", EXAMPLES / f"{name}.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def seed(stem: str) -> tuple[str, bytes]:
    payload = next(SEEDS.glob(f"{stem}_*.json")).read_bytes()
    return json.loads(payload)["CallbackCommand"], payload


def signed_url(command: str) -> str:
    return f"/tencent/callback?{query(command, token=TOKEN)}"


async def test_fastapi_example(load_example: Any) -> None:
    """FastAPI: the veto allows, denies "forbidden" names and rejects long ones with 120001;
    the four after-webhook samples reach their handlers; unsigned and GET requests are refused."""
    example = load_example("fastapi_app")
    app = example.app
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):

        async def veto(name: str) -> Any:
            r = await http.post(signed_url(OA_CREATE), content=body(OA_CREATE, Name=name))
            assert r.status_code == 200
            return r.json()

        assert await veto("TestOfficialAccount") == ACK
        assert await veto("my Forbidden channel") == DENY
        assert await veto("x" * 40) == {
            "ActionStatus": "OK",
            "ErrorInfo": "official account names are at most 32 characters",
            "ErrorCode": 120001,
        }

        for stem in ("000", "001", "002", "004"):
            command, payload = seed(stem)
            r = await http.post(signed_url(command), content=payload)
            assert (r.status_code, r.json()) == (200, ACK)

        async def all_handled() -> bool:
            return bool(
                example.full_accounts
                and example.unsubscribed
                and example.recalled
                and example.full_groups
            )

        await eventually(all_handled)
        assert example.full_accounts == {"@TOA#_test_OA_for_penn"}
        assert example.unsubscribed == {
            ("@TOA#_test_OA_for_penn", "jared"),
            ("@TOA#_test_OA_for_penn", "leckie"),
        }
        assert example.recalled == {"71_1_1698741698"}
        assert example.full_groups == {"@TGS#2J4SZEAEL"}

        unsigned = await http.post(
            f"/tencent/callback?{query(GROUP_FULL)}", content=body(GROUP_FULL)
        )
        assert unsigned.status_code == 401
        assert (await http.get(signed_url(GROUP_FULL))).status_code == 405
        assert (await http.post(signed_url(GROUP_FULL) + "&x=1", content=b"[]")).status_code == 400


def test_flask_example(load_example: Any) -> None:
    """Flask: the sync adapter answers the veto and stores and handles after-webhooks."""
    example = load_example("flask_app")
    try:
        http = example.app.test_client()
        allowed = http.post(signed_url(OA_CREATE), data=body(OA_CREATE, Name="Daily news"))
        assert (allowed.status_code, allowed.get_json()) == (200, ACK)
        denied = http.post(signed_url(OA_CREATE), data=body(OA_CREATE, Name="forbidden fruit"))
        assert (denied.status_code, denied.get_json()) == (200, DENY)
        assert denied.headers["Content-Type"] == "application/json"

        command, payload = seed("002")
        stored = http.post(signed_url(command), data=payload)
        assert (stored.status_code, stored.get_json()) == (200, ACK)
        deadline = time.monotonic() + 10
        while not example.full_groups and time.monotonic() < deadline:
            time.sleep(0.01)
        assert example.full_groups == {"@TGS#2J4SZEAEL"}

        unsigned = http.post(f"/tencent/callback?{query(GROUP_FULL)}", data=body(GROUP_FULL))
        assert unsigned.status_code == 401
        assert "no Sign" in unsigned.get_json()["ErrorInfo"]
        too_big = http.post(signed_url(GROUP_FULL), data=b" " * (example.receiver.max_body + 1))
        assert too_big.status_code == 413
    finally:
        example.hooks.close()
