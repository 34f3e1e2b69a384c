"""The integration examples in examples/ run as the README shows them."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from receiver_support import ACK, APP, GROUP_FULL, OA_CREATE, body, eventually, query

from loopback import HOST, free_port, reap, wait_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
README = Path(__file__).resolve().parents[2] / "README.md"
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
C2C_SEND = "C2C.CallbackBeforeSendMsg"
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
    one-to-one messages are allowed, denied, rejected with 120001 or rewritten; the four
    after-webhook samples reach their handlers; unsigned and GET requests are refused."""
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

        async def moderated(text: str) -> Any:
            sample = json.loads((CATALOG / f"{C2C_SEND}.json").read_text())[0]
            sample["MsgBody"] = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]
            r = await http.post(signed_url(C2C_SEND), content=json.dumps(sample).encode())
            assert r.status_code == 200
            return r.json()

        assert await moderated("hello") == ACK
        assert await moderated("buy spam now") == DENY
        assert (await moderated("a red packet"))["ErrorCode"] == 120001
        rewritten = await moderated("darn it")
        assert rewritten["ErrorCode"] == 0
        assert rewritten["MsgBody"] == [
            {"MsgType": "TIMTextElem", "MsgContent": {"Text": "**** it"}}
        ]

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


@pytest.mark.parametrize("name", ["fastapi_app", "flask_app"])
def test_examples_refuse_to_run_unsigned(
    name: str, load_example: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without TIM_WEBHOOK_TOKEN an example stops with a message instead of accepting unsigned
    webhooks."""
    monkeypatch.delenv("TIM_WEBHOOK_TOKEN")
    with pytest.raises(SystemExit, match="set TIM_WEBHOOK_TOKEN"):
        load_example(name)


def test_readme_shows_the_examples_as_they_are() -> None:
    """The README's receiver code is the FastAPI example below its docstring, and its Flask
    excerpt is the Flask example's, character for character."""
    section = README.read_text().split("## Receiving webhooks in your app", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    fastapi_code = (EXAMPLES / "fastapi_app.py").read_text()
    assert len(blocks) == 2
    assert fastapi_code.endswith("\n" + blocks[0])
    assert blocks[0].startswith("import logging\n")
    assert blocks[1] in (EXAMPLES / "flask_app.py").read_text()
    assert "cd examples" in section


def run_example(tmp_path: Path, argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start an example server from examples/ as the README says, its inbox in ``tmp_path``."""
    env = {
        **os.environ,
        "TIM_SDKAPPID": str(APP),
        "TIM_WEBHOOK_TOKEN": TOKEN,
        "TIM_INBOX": str(tmp_path / "inbox.db"),
    }
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        process = subprocess.Popen(argv, cwd=EXAMPLES, env=env, stdout=out, stderr=err)
    wait_port(port, process, log=tmp_path / "err")
    return process


def send_signed(port: int) -> str:
    """Post a signed AfterGroupFull and a veto to the example; return the Sign used."""
    url = signed_url(GROUP_FULL)
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10) as http:
        stored = http.post(url, content=body(GROUP_FULL, GroupId="@TGS#cli"))
        assert (stored.status_code, stored.json()) == (200, ACK)
        veto = http.post(signed_url(OA_CREATE), content=body(OA_CREATE, Name="forbidden"))
        assert (veto.status_code, veto.json()) == (200, DENY)
    [sign] = parse_qs(url.split("?", 1)[1])["Sign"]
    return sign


@pytest.mark.slow
def test_flask_example_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """`flask --app flask_app run`, then Ctrl-C: exit 0, no traceback, no WAL file left, the
    stored webhook kept; the access log shows requests without their Sign."""
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", "flask_app", "run", "--port", str(port)]
    process = run_example(tmp_path, argv, port)
    try:
        sign = send_signed(port)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        reap(process)
    log = (tmp_path / "err").read_text() + (tmp_path / "out").read_text()
    assert "Traceback" not in log
    assert "POST /tencent/callback?" in log
    assert "Sign=(hidden)" in log
    assert sign not in log
    assert sorted(p.name for p in tmp_path.glob("inbox.db*")) == ["inbox.db"]


@pytest.mark.slow
def test_fastapi_example_keeps_signs_out_of_the_access_log(tmp_path: Path) -> None:
    """`uvicorn fastapi_app:app` logs each request without its Sign, and stops cleanly."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--port", str(port)]
    process = run_example(tmp_path, argv, port)
    try:
        sign = send_signed(port)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        reap(process)
    log = (tmp_path / "err").read_text() + (tmp_path / "out").read_text()
    assert "POST /tencent/callback?" in log
    assert "Sign=(hidden)" in log
    assert sign not in log
    assert "Traceback" not in log
