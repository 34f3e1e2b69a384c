"""The pytest plugin (tim_server, tim_webhooks, tim_app): registered by the package, light to
load, and working in an app's own test suite (examples/app_tests, run here as CI runs it)."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from timhooks.protocol import Decision
from timhooks.protocol import events as ev
from timhooks.testing import EventLoopThread, TimServer, WebhookCapture

REPO = Path(__file__).resolve().parents[2]

# Loaded in every pytest run where timhooks is installed (ours included): none of these.
HEAVY = {"asyncio", "uvicorn", "starlette", "sqlite3", "timhooks.server", "timhooks.receiver"}

PROBE = """
import json, sys
import pytest
before = set(sys.modules)
import timhooks.pytest_plugin
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize(
    "name",
    [
        "timhooks.testing",
        "timhooks.devtools.bodies",
        "timhooks.devtools.webhook",
        "timhooks.devtools.rest",
        "timhooks.devtools.scenarios",
        "timhooks.devtools.trigger",
        "timhooks.devtools.forward",
        "timhooks.devtools.checks",
    ],
)
def test_every_public_name_says_what_it_is(name: str) -> None:
    """Each name in the module's __all__ exists, and its classes and functions have a
    docstring (STYLE.md habit 7)."""
    module = importlib.import_module(name)
    assert module.__doc__
    for attr in module.__all__:
        value = getattr(module, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{attr}"


def test_the_plugin_is_a_pytest11_entry_point() -> None:
    """`pip install timhooks` registers timhooks.pytest_plugin with pytest."""
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("timhooks") == "timhooks.pytest_plugin"


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Importing the plugin loads no event loop, server, receiver or database module: a suite
    that uses no fixture pays only for the sans-IO protocol package."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    assert "timhooks.pytest_plugin" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY}
    assert not {m for m in loaded if m.startswith(("timhooks.server", "timhooks.receiver"))}


@pytest.mark.slow
def test_the_example_app_suite_passes() -> None:
    """examples/app_tests, an app's own suite built on the fixtures, passes: the example app
    vetoes and records webhooks from a real Chat backend, end to end in process."""
    done = pytest_run("examples/app_tests", "-q", cwd=REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "7 passed" in done.stdout


@pytest.mark.slow
def test_tim_app_without_the_app_says_what_to_define(tmp_path: Path) -> None:
    """A suite using tim_app without defining tim_asgi_app is told to define it."""
    (tmp_path / "test_x.py").write_text('def test_x(tim_app):\n    """Needs the app."""\n')
    done = pytest_run("-q", cwd=tmp_path)
    assert done.returncode != 0
    assert "add a fixture `tim_asgi_app` returning your ASGI app" in done.stdout


@pytest.mark.slow
def test_the_startup_benchmark_runs() -> None:
    """bench/fixture_startup.py, which measures the fixtures' start-up, runs to its report."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "fixture_startup.py"), "--tests", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| tim_server")]
    assert len(rows) == 3


def test_wait_for_names_what_arrived_instead(tmp_path: Path) -> None:
    """wait_for with nothing of that command: an AssertionError listing what did arrive; and
    answer() refuses an after-webhook or a decision its command does not allow."""
    loop = EventLoopThread()
    try:
        server = TimServer.start(loop, tmp_path / "s.db")
        capture = WebhookCapture.start(loop, tmp_path / "c.db", app_id=server.app_id)
        try:
            server.set_callback(capture.url, token=capture.token)
            server.rest("im_open_login_svc/multiaccount_import", {"AccountList": ["penn"]})
            server.rest(
                "group_open_http_svc/create_group",
                {"Owner_Account": "penn", "Type": "Public", "Name": "g"},
            )
            assert capture.wait_for(ev.AfterCreateGroup).owner_account == "penn"
            with pytest.raises(AssertionError, match=r"no Group\.CallbackAfterGroupFull webhook"):
                capture.wait_for(ev.AfterGroupFull, timeout=0.2)
            with pytest.raises(AssertionError, match=r"Group\.CallbackBeforeCreateGroup"):
                capture.wait_for(ev.AfterGroupFull, timeout=0.05)
            from timhooks.protocol import ConfigError

            with pytest.raises(ConfigError, match="not a before-webhook"):
                capture.answer(ev.AfterGroupFull, Decision.deny())
            with pytest.raises(ConfigError, match="does not allow the decision 'discard'"):
                capture.answer(ev.BeforeCreateGroup, Decision.discard())
        finally:
            capture.close()
            server.close()
    finally:
        loop.close()
