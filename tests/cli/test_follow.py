"""`events list --follow` and `deliveries list --follow` as real processes, stopped by Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from log_support import T0, Row, seed_inbox, seed_outbox

from loopback import reap, timhooks_argv

pytestmark = pytest.mark.slow

GROUP_FULL = "Group.CallbackAfterGroupFull"
NEW_MEMBER = "Group.CallbackAfterNewMemberJoin"
LOGS = {"events": (seed_inbox, "dead"), "deliveries": (seed_outbox, "failed")}


def printed(out: Path) -> list[dict[str, Any]]:
    """The complete JSON lines the follower printed so far."""
    lines = out.read_text().split("\n")[:-1]  # the last piece may be half written
    return [json.loads(line) for line in lines]


def wait_for(out: Path, count: int, process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while len(rows := printed(out)) < count:
        assert process.poll() is None, "the follower exited"
        assert time.monotonic() < deadline, f"{len(rows)} of {count} rows printed"
        time.sleep(0.05)
    return rows


@pytest.mark.parametrize("group", LOGS)
def test_follow_prints_new_matching_rows_until_ctrl_c(group: str, tmp_path: Path) -> None:
    """--follow prints the matching rows there are, oldest first, then each new matching one
    once as it arrives; Ctrl-C ends it with exit 0 and no traceback."""
    seed, status = LOGS[group]
    db = str(tmp_path / "log.db")
    old = seed(db, [Row(GROUP_FULL, status, at=T0 + i) for i in range(3)])
    out, err = tmp_path / "follow.out", tmp_path / "follow.err"
    argv = timhooks_argv(group, "list", "--db", db, "--follow", "--json", "--limit", "2")
    with open(out, "wb") as out_file, open(err, "wb") as err_file:
        process = subprocess.Popen(
            [*argv, "--command", GROUP_FULL], stdout=out_file, stderr=err_file
        )
    try:
        assert [row["id"] for row in wait_for(out, 2, process)] == old[1:]
        seed(db, [Row(NEW_MEMBER, status, at=T0 + 10)])  # filtered out
        new = seed(db, [Row(GROUP_FULL, status, at=T0 + 11), Row(GROUP_FULL, status, at=T0 + 12)])
        rows = wait_for(out, 4, process)
        assert [row["id"] for row in rows] == [*old[1:], *new]
        assert {row["command"] for row in rows} == {GROUP_FULL}
        time.sleep(1.2)  # two more polls: nothing is printed twice
        assert len(printed(out)) == 4
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    finally:
        reap(process)
    assert "Traceback" not in err.read_text()
