"""The benchmark harness keeps working: a quick run writes every scenario (no timing checks).

Benchmarks are not tests: nothing here asserts how fast anything is, only that
``python bench/run.py --quick`` runs every scenario to the end and writes its report, that
bench/README.md describes every scenario the report copies it into, and that the tables the
harness fills in SQL are read by timhooks as it wrote them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from benchlib import method, tables  # noqa: E402
from benchlib.profiles import markdown, summarize  # noqa: E402
from benchlib.scenarios import SCENARIOS  # noqa: E402

KEYS = "abcdefgmrs"
PG_URL = os.environ.get("TEST_POSTGRES_URL")


# The scenarios in three quick runs that xdist runs side by side; together, every scenario.
SHARDS = ("abcd", "efg", "mrs")


def test_the_shards_hold_every_scenario_once() -> None:
    assert sorted("".join(SHARDS)) == sorted(KEYS)


@pytest.mark.slow
@pytest.mark.parametrize("keys", SHARDS)
def test_quick_run_writes_every_scenario(tmp_path: Path, keys: str) -> None:
    """`bench/run.py --quick --only KEYS` writes a report with the machine, method, bars and
    those scenarios."""
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--only", keys, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = out.read_text()
    for heading in ("## Summary", "## Machine and conditions", "## Method", "## Profiles"):
        assert heading in text
    for key in keys:
        section = re.search(rf"^## {key}\. .*?(?=^## )", text, re.M | re.S)
        assert section is not None, f"scenario {key} is missing"
        assert "| figure |" in section.group(0), f"scenario {key} has no figures"
        assert "- Checked" in section.group(0), f"scenario {key} does not say what it checked"
        assert "- This run: " in section.group(0), f"scenario {key} does not give its sizes"
    assert "FAILED" not in text
    assert "CPU: " in text
    assert "Python: " in text
    if "a" in keys:
        assert len(re.findall(r"^\| [a-d]\. .* \| (yes|\*\*no\*\*|-) \|$", text, re.M)) >= 5


def test_readme_describes_every_scenario() -> None:
    """bench/README.md writes the method of every scenario, of the profiles and of the figures."""
    assert set(SCENARIOS) == set(KEYS)
    method.check(SCENARIOS)
    for key in KEYS:
        assert any(line.startswith("- Checked") for line in method.readme_part(f"### {key}.")), (
            f"bench/README.md does not say what scenario {key} checks"
        )


def test_readme_part_ends_at_the_next_heading_of_its_level() -> None:
    """A scenario's method is the README text under its heading, up to the next one."""
    text = "# B\n\n## How\n\n- one\n\n### a. A\n\n- aa\n  more\n\n### b. B\n- bb\n## Next\nx\n"
    assert method.readme_part("### a.", text) == ["- aa", "  more"]
    assert method.readme_part("### b.", text) == ["- bb"]
    assert method.readme_part("## How", text)[0] == "- one"
    assert "- bb" in method.readme_part("## How", text)
    assert method.readme_part("### c.", text) == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_filled_outbox_is_what_timhooks_lists_as_pending(backend: str, tmp_path: Path) -> None:
    """The after-webhooks the harness puts in an outbox are timhooks' own pending deliveries."""
    if backend == "postgresql" and not PG_URL:
        pytest.skip("needs TEST_POSTGRES_URL, e.g. postgresql://postgres@127.0.0.1:5432/test")

    def check(url: str) -> None:
        bodies = tables.fill_outbox(url, 3, seed="test")
        assert tables.pending_outbox(url) == 3
        argv = [sys.executable, "-m", "timhooks", "deliveries", "list", "--db", url]
        listed = subprocess.run(
            [*argv, "--status", "pending", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        payloads = [d["payload"] for d in json.loads(listed.stdout)]
        assert sorted(payloads, key=str) == sorted((json.loads(b) for b in bodies), key=str)

    if backend == "sqlite":
        check(str(tmp_path / "server.db"))
    else:
        assert PG_URL is not None
        with tables.postgres_schema(PG_URL, "t_bench") as url:
            check(url)


def test_profile_summary_counts_threads_lines_and_our_functions() -> None:
    """A py-spy raw profile is summarized into threads, hottest lines and timhooks functions."""
    raw = "\n".join(
        [
            "thread (0x1): MainThread;run (uvicorn/server.py:10);handle "
            "(timhooks/receiver/core.py:20);compute_sign (timhooks/protocol/signing.py:30) 6",
            "thread (0x2): timhooks-sqlite-0;_run (timhooks/storage/engine.py:40);_commit "
            "(timhooks/storage/engine.py:50) 3",
            "thread (0x1): MainThread;run (uvicorn/server.py:10) 1",
        ]
    )
    prof = summarize("test", raw)
    assert prof.samples == 10
    assert prof.threads == {"MainThread": 7, "timhooks-sqlite": 3}
    assert prof.modules["timhooks.protocol"] == 6
    assert prof.inclusive["handle (timhooks/receiver/core.py)"] == 6
    text = "\n".join(markdown(prof))
    assert "60.0%" in text
    assert "compute_sign (timhooks/protocol/signing.py:30)" in text
