"""Every webhook ``timhooks serve``'s Chat backend sends reaches ``timhooks listen`` (the real
command, in its own process) signed, verified and parsed into its typed event: each command of
``served.SENT_BY_SERVE`` made by a real change (``timhooks trigger --via-server``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from devtools_support import APP, cli

from loopback import listening
from served import SENT_BY_SERVE
from timhooks.protocol import COMMANDS, parse_event
from timhooks.testing import EventLoopThread, TimServer

TOKEN = "listen-token-for-every-webhook"


def test_every_webhook_serve_sends_arrives_at_timhooks_listen_typed(
    capsys: pytest.CaptureFixture[str], testing_loop: EventLoopThread, tmp_path: Path
) -> None:
    """One Chat backend whose callback URL is ``timhooks listen --token``: after a real change
    for each of the 43 webhooks, listen has printed each one (``--json``: the event's wire form,
    written from the typed model) and kept each in its inbox (a before-webhook as a record of the
    answer it gave)."""
    server = TimServer.start(testing_loop, tmp_path / "serve.db", app_id=APP)
    inbox = tmp_path / "inbox.db"
    try:
        with listening(inbox, APP, "--token", TOKEN) as (_, port, out):
            server.set_callback(f"http://127.0.0.1:{port}/", token=TOKEN)
            for command in sorted(SENT_BY_SERVE):
                argv = ["trigger", command, "--via-server", server.url, "--app-id", str(APP)]
                run = cli(capsys, *argv, "--key", server.key)
                assert run.code == 0, (command, run.err)

            def printed() -> dict[str, list[dict[str, object]]]:
                lines = [json.loads(line) for line in out.read_text().splitlines() if line]
                found: dict[str, list[dict[str, object]]] = {}
                for line in lines:
                    found.setdefault(str(line["command"]), []).append(line)
                return found

            deadline = time.monotonic() + 30
            while not set(seen := printed()) >= SENT_BY_SERVE:
                assert time.monotonic() < deadline, sorted(SENT_BY_SERVE - set(seen))
                time.sleep(0.05)
    finally:
        server.close()
    for command in SENT_BY_SERVE:
        spec = COMMANDS[command]
        for line in seen[command]:
            assert line["sdk_app_id"] == APP
            payload = line["payload"]
            assert isinstance(payload, dict)
            # What listen printed is the typed event written back: it reads as the same model.
            event = parse_event(json.dumps(payload), command=command)
            assert type(event) is spec.model
            assert event.to_wire() == payload
            assert (line["id"] is None) == spec.is_before
    listed = cli(capsys, "events", "list", "--db", str(inbox), "--limit", "1000", "--json")
    assert listed.code == 0, listed.err
    stored = {(row["command"], row["phase"]) for row in json.loads(listed.out)}
    assert stored == {(c, "before" if COMMANDS[c].is_before else "after") for c in SENT_BY_SERVE}
