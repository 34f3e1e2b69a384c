"""The benchmark harness keeps working: a quick run writes every scenario (no timing checks).

Benchmarks are not tests (issue 5): nothing here asserts how fast anything is, only that
``python bench/run.py --quick`` runs every scenario to the end and writes its report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from benchlib.profiles import markdown, summarize  # noqa: E402

SCENARIOS = "abcdefg"


@pytest.mark.slow
def test_quick_run_writes_every_scenario(tmp_path: Path) -> None:
    """`bench/run.py --quick` writes a report with the machine, method, bars and all scenarios."""
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(out)],
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
    for key in SCENARIOS:
        section = re.search(rf"^## {key}\. .*?(?=^## )", text, re.M | re.S)
        assert section is not None, f"scenario {key} is missing"
        assert "| figure |" in section.group(0), f"scenario {key} has no figures"
    assert "FAILED" not in text
    assert "CPU: " in text
    assert "Python: " in text
    assert len(re.findall(r"^\| [a-d]\. .* \| (yes|\*\*no\*\*|-) \|$", text, re.M)) >= 5


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
