"""`timhooks events list` lists and filters webhooks of every command, each with its summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopback import timhooks
from timhooks.protocol import COMMANDS, build_query, summarize
from timhooks.receiver import Receiver

pytestmark = pytest.mark.slow

APP = 1400000000
CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
SAMPLES = {p.stem: json.loads(p.read_text())[0] for p in sorted(CATALOG.glob("*.json"))}


async def test_events_list_takes_any_command(tmp_path: Path) -> None:
    """Webhooks of the new commands are stored, listed with a one-line summary each, and
    `--command` selects any of them."""
    db = tmp_path / "inbox.db"
    receiver = Receiver(app_id=APP, inbox=db)
    try:
        for command, body in SAMPLES.items():
            query = build_query(
                sdk_app_id=APP, callback_command=command, client_ip="", opt_platform=""
            )
            answer = await receiver.handle("POST", query, json.dumps(body).encode())
            assert answer.status == 200, (command, answer.body)
    finally:
        await receiver.stop()

    listed = timhooks("events", "list", "--db", str(db), "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == len(SAMPLES)
    for command, body in SAMPLES.items():
        [line] = [x for x in lines if f"  {command}  " in x]
        assert line.endswith(summarize(body)), line

    for command in ("C2C.CallbackBeforeSendMsg", "Push.OfflinePush", "State.StateChange"):
        one = timhooks("events", "list", "--db", str(db), "--command", command, "--json")
        assert one.returncode == 0, one.stderr
        [entry] = json.loads(one.stdout)
        assert entry["command"] == command
        assert entry["phase"] == ("before" if COMMANDS[command].is_before else "after")
