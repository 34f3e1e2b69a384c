"""A bounded coverage-guided fuzz run (atheris) of the protocol parser finds no crash."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from timhooks.protocol import build_query, generate_usersig

pytestmark = pytest.mark.slow

TARGET = Path(__file__).with_name("atheris_parser.py")
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
# A fixed seed and a fixed number of inputs make the run the same every time (libFuzzer's
# mutations follow the seed); the time limit only bounds a machine far slower than expected.
SEED = 20261130
RUNS = 300_000
SECONDS = 180


def corpus(directory: Path) -> None:
    """Seed inputs for each entry point: real webhooks, queries, answers and a UserSig."""
    inputs = []
    for seed in sorted(SEEDS.glob("*.json")):
        inputs += [b"\x00" + seed.read_bytes(), b"\x01\x00" + seed.read_bytes()]
    query = build_query(
        sdk_app_id=1400000000,
        callback_command="Group.CallbackAfterGroupFull",
        client_ip="127.0.0.1",
        opt_platform="iOS",
        request_time=1669872112,
        sign="17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061",
    )
    inputs += [b"\x02" + query.encode(), b"\x03" + query.encode()]
    inputs += [b"\x04\x00" + b'{"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": "no"}']
    sig = generate_usersig(1400000000, "k", "a", now=int(time.time())).encode()
    inputs += [b"\x05" + sig, b"\x06" + sig]
    for i, data in enumerate(inputs):
        (directory / f"seed-{i:02d}").write_bytes(data)


def test_atheris_finds_no_crash_in_the_parser(tmp_path: Path) -> None:
    """parse_event, parse_query, parse_response and the UserSig checks raise only our own
    errors on everything libFuzzer generates in a bounded run."""
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed (pip install atheris; it needs a CPython wheel)")
    found = tmp_path / "corpus"
    found.mkdir()
    corpus(found)
    result = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            f"-seed={SEED}",
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            "-rss_limit_mb=2048",
            "-max_len=4096",
            f"-artifact_prefix={tmp_path}/",
            str(found),
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=False,
        cwd=tmp_path,
    )
    tail = result.stderr[-3000:]
    assert result.returncode == 0, f"atheris found a crash:\n{tail}"
    assert not list(tmp_path.glob("crash-*")), tail
    runs = re.search(r"Done (\d+) runs", result.stderr)
    assert runs is not None, tail
    print(f"\natheris: {runs.group(1)} inputs (seed {SEED}), no crash")
    assert int(runs.group(1)) >= RUNS
