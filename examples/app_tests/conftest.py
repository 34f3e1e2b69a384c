"""What this suite adds to timhooks' fixtures: the app under test, and tim_server pointed at it.

``tim_server``, ``tim_webhooks`` and ``tim_app`` come with ``pip install timhooks``; ``tim_app``
serves the ASGI app ``tim_asgi_app`` returns, so the app is defined here. The example app reads
its settings from the environment when imported, so it is imported once, in a session fixture,
with its inbox in a temporary directory.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from timhooks.testing import ServedApp, TimServer

TOKEN = "app-tests-webhook-token"  # noqa: S105 (the test app's webhook token)
EXAMPLES = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fastapi_app(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """examples/fastapi_app.py, imported with its SDKAppID, token and inbox set."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TIM_SDKAPPID", "1400000001")
        env.setenv("TIM_WEBHOOK_TOKEN", TOKEN)
        env.setenv("TIM_INBOX", str(tmp_path_factory.mktemp("inbox") / "inbox.db"))
        env.syspath_prepend(str(EXAMPLES))
        return importlib.import_module("fastapi_app")


@pytest.fixture
def tim_asgi_app(fastapi_app: ModuleType) -> Any:
    """The app under test, for tim_app to serve."""
    return fastapi_app.app


@pytest.fixture
def app(tim_server: TimServer, tim_app: ServedApp, fastapi_app: ModuleType) -> ModuleType:
    """The example app, receiving this test's tim_server webhooks on its callback route."""
    tim_server.set_callback(f"{tim_app.url}/tencent/callback", token=TOKEN)
    return fastapi_app
