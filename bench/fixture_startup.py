"""How long the pytest fixtures of ``timhooks.pytest_plugin`` take to start, per test.

Writes a throwaway suite of ``--tests`` tests per fixture set into a temporary directory, runs
each suite with pytest in a subprocess, and reports every test's setup time: pytest's own
duration of the "setup" phase, which is everything the fixtures do before the test body runs (a
new database, the app, the server listening on its port, the callback set). The first test of a
session is reported apart: it also pays the one-time imports and the background loop's start.
Teardown is reported too; a test's servers stop in the background, so it is short.

    python bench/fixture_startup.py               # 30 tests per fixture set
    python bench/fixture_startup.py --tests 100

Not a test: nothing here asserts a speed (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SUITES = {
    "tim_server": "tim_server",
    "tim_server + tim_webhooks": "tim_server, tim_webhooks",
    "tim_server + tim_app (callback set)": "tim_server, tim_app",
}

CONFTEST = """
import json, os
from pathlib import Path

import pytest

from timhooks.receiver import Receiver

_receiver = Receiver(app_id=1400000001, token="t", inbox=os.environ["BENCH_INBOX"])
_durations = []


@pytest.fixture
def tim_asgi_app():
    return _receiver.asgi


def pytest_runtest_logreport(report):
    if report.when in ("setup", "teardown"):
        _durations.append((report.nodeid, report.when, report.duration))


def pytest_sessionfinish(session):
    Path(os.environ["BENCH_OUT"]).write_text(json.dumps(_durations))
"""


def suite(fixtures: str, count: int) -> str:
    body = "tim_server.set_callback(tim_app.url, token='t')" if "tim_app" in fixtures else "pass"
    tests = [f"def test_{n}({fixtures}):\n    {body}\n" for n in range(count)]
    return "\n\n".join(tests)


def measure(fixtures: str, count: int, work: Path) -> dict[str, list[float]]:
    work.mkdir()
    (work / "conftest.py").write_text(CONFTEST)
    (work / "test_startup.py").write_text(suite(fixtures, count))
    (work / "pytest.ini").write_text("[pytest]\n")
    out = work / "durations.json"
    env = {"BENCH_INBOX": str(work / "inbox.db"), "BENCH_OUT": str(out)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=work,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the suite failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    rows = json.loads(out.read_text())
    setups = [d for _, when, d in rows if when == "setup"]
    teardowns = [d for _, when, d in rows if when == "teardown"]
    return {"first": setups[:1], "setup": setups[1:], "teardown": teardowns[:-1]}


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=30, help="tests per fixture set")
    args = parser.parse_args()
    if args.tests < 2:
        parser.error("--tests: at least 2 (the first test of a session is reported apart)")
    print(f"setup and teardown per test, {args.tests} tests per fixture set (ms)\n")
    print("| fixtures | first test | setup median | setup p90 | setup max | teardown median |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, fixtures) in enumerate(SUITES.items()):
            found = measure(fixtures, args.tests, Path(tmp) / f"suite{n}")
            setup = sorted(found["setup"])
            p90 = setup[int(len(setup) * 0.9) - 1]
            print(
                f"| {label} | {ms(found['first'])} | {ms(setup)} | {p90 * 1000:.0f} |"
                f" {setup[-1] * 1000:.0f} | {ms(found['teardown'])} |"
            )
    print("\nfirst test: also the session's one-time imports and the background loop's start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
