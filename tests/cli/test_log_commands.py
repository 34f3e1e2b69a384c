"""`events` and `deliveries`: shared filters, bulk replay, show, and output safe for a terminal."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from log_support import APP, OTHER_APP, T0, Row, seed_inbox, seed_outbox, timhooks

from timhooks.cli.logs import parse_when
from timhooks.delivery.sender import Attempt
from timhooks.protocol.errors import ConfigError
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.server.store import DeliveryStatus, ServerStore
from timhooks.storage import open_writer

GROUP_FULL = "Group.CallbackAfterGroupFull"
NEW_MEMBER = "Group.CallbackAfterNewMemberJoin"
BEFORE_CREATE = "Group.CallbackBeforeCreateGroup"

# (group name, seeder, its failed status, its finished status)
LOGS = {
    "events": (seed_inbox, "dead", "done"),
    "deliveries": (seed_outbox, "failed", "delivered"),
}


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def statuses(capsys: pytest.CaptureFixture[str], group: str, db: str) -> dict[int, str]:
    rows = timhooks(capsys, group, "list", "--db", db, "--json", "--limit", "100000").json()
    return {row["id"]: row["status"] for row in rows}


def test_since_and_until_read_durations_dates_and_epoch_seconds() -> None:
    """--since/--until take 30m/2h/7d ago, ISO dates and times (UTC unless an offset is
    given) and epoch seconds; anything else is a clear error."""
    now = 1_700_000_000.0
    assert parse_when("90s", now=now) == now - 90
    assert parse_when("30m", now=now) == now - 1800
    assert parse_when("2h", now=now) == now - 7200
    assert parse_when("7d", now=now) == now - 7 * 86400
    assert parse_when("1w", now=now) == now - 7 * 86400
    assert parse_when("1700000123.5", now=now) == 1700000123.5
    assert parse_when("2023-11-14", now=now) == 1699920000.0
    assert parse_when("2023-11-14T22:13:20Z", now=now) == 1700000000.0
    assert parse_when("2023-11-15T06:13:20+08:00", now=now) == 1700000000.0
    with pytest.raises(ConfigError, match="cannot read the time 'yesterday'"):
        parse_when("yesterday", now=now)


@pytest.mark.parametrize("group", LOGS)
def test_filters_select_the_same_rows_for_list_and_replay(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--status, --command, --app-id, --since and --until narrow `list`, and `replay` with the
    same flags replays exactly the rows `list` showed."""
    seed, failed, finished = LOGS[group]
    db = str(tmp_path / "log.db")
    rows = [
        Row(GROUP_FULL, failed, at=T0),
        Row(GROUP_FULL, failed, at=T0 + 60),
        Row(GROUP_FULL, failed, at=T0 + 120, app_id=OTHER_APP),
        Row(NEW_MEMBER, failed, at=T0 + 180),
        Row(GROUP_FULL, finished, at=T0 + 240),
        Row(GROUP_FULL, failed, at=T0 + 300),
    ]
    ids = seed(db, rows)
    flags = [
        "--status", failed, "--command", GROUP_FULL, "--app-id", str(APP),
        "--since", str(T0 + 60), "--until", "2023-11-14T22:18:20Z",
    ]  # fmt: skip
    listed = timhooks(capsys, group, "list", "--db", db, "--json", *flags)
    assert listed.code == 0, listed.err
    assert [row["id"] for row in listed.json()] == [ids[1]]
    assert [row["id"] for row in timhooks(capsys, group, "list", "--db", db, "--json").json()] == (
        ids[::-1]
    )
    everything_failed = timhooks(capsys, group, "list", "--db", db, "--json", "--status", failed)
    assert {row["id"] for row in everything_failed.json()} == set(ids) - {ids[4]}

    replayed = timhooks(capsys, group, "replay", "--db", db, "--json", "--yes", *flags)
    assert replayed.code == 0, replayed.err
    assert replayed.json() == {"matched": 1, "replayed": 1, "ids": [ids[1]]}
    after = statuses(capsys, group, db)
    assert after[ids[1]] == "pending"
    assert [after[i] for i in ids if i != ids[1]] == [failed, failed, failed, finished, failed]


@pytest.mark.parametrize("group", LOGS)
def test_bulk_replay_of_170_failures_is_one_command(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`replay --status failed --yes` makes 170 failures pending in batches (one storage call
    per batch, none per row), leaves the rest alone, and sums up at the end."""
    seed, failed, finished = LOGS[group]
    db = str(tmp_path / "log.db")
    failures = seed(db, [Row(GROUP_FULL, failed, at=T0 + i) for i in range(170)])
    others = seed(
        db, [Row(GROUP_FULL, finished, at=T0 + 500), Row(GROUP_FULL, "pending", at=T0 + 501)]
    )
    calls: dict[str, int] = {"replay_many": 0, "replay": 0}
    store_class = type(_open(group, db))

    for name in calls:
        original = getattr(store_class, name)

        def counted(self: Any, *args: Any, _name: str = name, _f: Any = original, **kw: Any) -> Any:
            calls[_name] += 1
            return _f(self, *args, **kw)

        monkeypatch.setattr(store_class, name, counted)
    monkeypatch.setattr("timhooks.cli.logs._BATCH", 50)
    run = timhooks(capsys, group, "replay", "--db", db, "--status", failed, "--yes")
    assert run.code == 0, run.err
    noun = "inbox entries" if group == "events" else "deliveries"
    assert run.out.startswith(f"replayed 170 {noun}; a running")
    assert calls == {"replay_many": 5, "replay": 0}  # 50 + 50 + 50 + 20, then none left
    after = statuses(capsys, group, db)
    assert {after[i] for i in failures} == {"pending"}
    assert [after[i] for i in others] == [finished, "pending"]


def _open(group: str, db: str) -> Any:
    from timhooks.cli.deliveries import OUTBOX_LOG
    from timhooks.cli.events import INBOX_LOG

    log = INBOX_LOG if group == "events" else OUTBOX_LOG
    store = log.open(db)
    asyncio.run(store.close())
    return store


@pytest.mark.parametrize("group", LOGS)
def test_bulk_replay_asks_first(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --yes a bulk replay shows the count and asks on the terminal (no: nothing
    changes, exit 1); off a terminal it refuses with exit 2 and says to add --yes."""
    seed, failed, _ = LOGS[group]
    db = str(tmp_path / "log.db")
    ids = seed(db, [Row(GROUP_FULL, failed, at=T0 + i) for i in range(3)])

    refused = timhooks(capsys, group, "replay", "--db", db, "--status", failed)
    assert refused.code == 2
    assert "3 " in refused.err
    assert "add --yes" in refused.err

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    declined = timhooks(capsys, group, "replay", "--db", db, "--status", failed)
    assert declined.code == 1
    assert "Replay 3 " in declined.err
    assert set(statuses(capsys, group, db).values()) == {failed}

    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    accepted = timhooks(capsys, group, "replay", "--db", db, "--status", failed)
    assert accepted.code == 0, accepted.err
    assert {statuses(capsys, group, db)[i] for i in ids} == {"pending"}


def test_bulk_replay_draws_progress_on_a_terminal_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal stderr gets a progress bar that reaches the total; elsewhere nothing."""
    db = str(tmp_path / "out.db")
    seed_outbox(db, [Row(GROUP_FULL, "failed", at=T0 + i) for i in range(120)])
    monkeypatch.setattr("timhooks.cli.logs._BATCH", 50)
    piped = timhooks(capsys, "deliveries", "replay", "--db", db, "--status", "failed", "--yes")
    assert piped.err == ""
    seed_outbox(db, [Row(GROUP_FULL, "failed", at=T0 + i) for i in range(120)])
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    capsys.readouterr()
    from timhooks.cli import main

    assert main(["deliveries", "replay", "--db", db, "--status", "failed", "--yes"]) == 0
    drawn = terminal.getvalue()
    assert "\rreplaying [" + "#" * 12 + "." * 18 + "] 50/120" in drawn  # 30 * 50 // 120 = 12
    assert drawn.endswith("\rreplaying [" + "#" * 30 + "] 120/120\n")


@pytest.mark.parametrize("group", LOGS)
def test_replay_needs_an_id_or_a_filter(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bare `replay` (which would take everything) is refused; so are an id and filters."""
    seed, failed, _ = LOGS[group]
    db = str(tmp_path / "log.db")
    [one] = seed(db, [Row(GROUP_FULL, failed)])
    bare = timhooks(capsys, group, "replay", "--db", db, "--yes")
    assert bare.code == 2
    assert "give an ID, or filters" in bare.err
    both = timhooks(capsys, group, "replay", str(one), "--db", db, "--status", failed)
    assert both.code == 2
    assert statuses(capsys, group, db) == {one: failed}


@pytest.mark.parametrize("group", LOGS)
def test_before_webhook_records_are_never_bulk_replayed(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bulk replay over every status skips before-webhook records (answered at the time)."""
    seed, failed, _ = LOGS[group]
    db = str(tmp_path / "log.db")
    before_status = "answered" if group == "events" else "fallback"
    [before] = seed(db, [Row(BEFORE_CREATE, before_status, phase="before")])
    [after] = seed(db, [Row(GROUP_FULL, failed)])
    run = timhooks(capsys, group, "replay", "--db", db, "--since", "0", "--yes", "--json")
    assert run.json()["ids"] == [after]
    assert statuses(capsys, group, db)[before] == before_status


def test_failed_before_webhook_is_a_fallback_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A before-webhook that failed is recorded as `fallback` (the failure policy answered it):
    `--status failed` lists only after-webhooks that can be replayed."""
    db = str(tmp_path / "out.db")
    [after] = seed_outbox(db, [Row(GROUP_FULL, "failed")])

    async def record() -> None:
        store = ServerStore(db)
        store.record_before(
            sdk_app_id=APP,
            command=BEFORE_CREATE,
            body=Row(BEFORE_CREATE, "x").body(),
            client_ip="127.0.0.1",
            platform="RESTAPI",
            attempt=Attempt("http://127.0.0.1:9/im", T0, 2000.0, None, "timed out", None),
        )
        await store.close()

    asyncio.run(record())
    failed = timhooks(capsys, "deliveries", "list", "--db", db, "--status", "failed", "--json")
    assert [row["id"] for row in failed.json()] == [after]
    [fallback] = timhooks(
        capsys, "deliveries", "list", "--db", db, "--status", "fallback", "--json"
    ).json()
    assert (fallback["command"], fallback["phase"]) == (BEFORE_CREATE, "before")


async def test_migration_relabels_old_failed_before_webhooks(tmp_path: Path) -> None:
    """A database from before `fallback` existed has its failed before-webhook records
    relabelled on upgrade; failed after-webhooks stay failed."""
    db = tmp_path / "old.db"
    old = open_writer(db, component="server", migrations=SERVER_MIGRATIONS[:2])
    for phase in ("before", "after"):
        await old.run(
            lambda conn, phase=phase: conn.execute(
                "INSERT INTO outbox (sdk_app_id, command, phase, body, status, created_at)"
                " VALUES (?, ?, ?, ?, 'failed', ?)",
                (APP, GROUP_FULL, phase, b"{}", T0),
            )
        )
    old.close()
    store = ServerStore(db)
    try:
        rows = await store.deliveries()
    finally:
        await store.close()
    assert {row.phase: row.status for row in rows} == {
        "before": DeliveryStatus.FALLBACK,
        "after": DeliveryStatus.FAILED,
    }


def test_deliveries_show_counts_agree_with_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a replay the attempt count still counts every attempt in the log, and `show`
    prints each attempt with its answer or error."""
    db = str(tmp_path / "out.db")
    [row] = seed_outbox(db, [Row(GROUP_FULL, "delivered")], attempts=2)

    async def reset_round() -> None:  # what a replay leaves: the round's count starts again
        store = ServerStore(db)
        await store.run(lambda conn: conn.execute("UPDATE outbox SET attempts = 1"))
        await store.close()

    asyncio.run(reset_round())
    shown = timhooks(capsys, "deliveries", "show", str(row), "--db", db)
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert "attempts=2" in lines[0]
    assert '  "CallbackCommand": "Group.CallbackAfterGroupFull",' in lines  # indented JSON
    attempt_lines = [line for line in lines if line.startswith("  #")]
    assert len(attempt_lines) == 2
    assert "HTTP 500" in attempt_lines[0]
    assert "HTTP 200" in attempt_lines[1]
    assert "      error:  HTTP status 500" in lines
    assert "      answer: down" in lines
    assert '      answer: {"ActionStatus":"OK","ErrorCode":0}' in lines
    as_json = timhooks(capsys, "deliveries", "show", str(row), "--db", db, "--json").json()
    assert as_json["attempts"] == len(as_json["attempts_log"]) == 2
    [listed] = timhooks(capsys, "deliveries", "list", "--db", db, "--json").json()
    assert listed["attempts"] == 2


def test_deliveries_show_counts_an_attempt_its_process_never_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attempt cut short by a killed process (claimed, never logged) still counts, and
    `show` says why the log has one line fewer."""
    db = str(tmp_path / "out.db")
    [row] = seed_outbox(db, [Row(GROUP_FULL, "delivered")], attempts=1)

    async def claimed_twice() -> None:
        store = ServerStore(db)
        await store.run(lambda conn: conn.execute("UPDATE outbox SET attempts = 2"))
        await store.close()

    asyncio.run(claimed_twice())
    lines = timhooks(capsys, "deliveries", "show", str(row), "--db", db).out.splitlines()
    assert "attempts=2" in lines[0]
    assert len([line for line in lines if line.startswith("  #")]) == 1
    assert lines[-1] == "  (1 more: the process making it stopped before recording it)"
    [listed] = timhooks(capsys, "deliveries", "list", "--db", db, "--json").json()
    assert listed["attempts"] == 2


HOSTILE = "@TGS#evil\n  999  done  forged line\x1b]0;pwned\x07\x1b[2J\u202egnp.exe\x85"


@pytest.mark.parametrize(
    ("argv", "seed"),
    [
        (("events", "list"), seed_inbox),
        (("events", "show", "1"), seed_inbox),
        (("deliveries", "list"), seed_outbox),
        (("deliveries", "show", "1"), seed_outbox),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_human_output_escapes_control_characters(
    argv: tuple[str, ...],
    seed: Callable[[str, list[Row]], list[int]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A GroupId with a newline, escape sequences and a bidi override prints as one escaped
    line (no forged line, no terminal title); --json keeps it exact."""
    db = str(tmp_path / "log.db")
    payload = {"GroupId": HOSTILE}
    seed(db, [Row(GROUP_FULL, "dead" if seed is seed_inbox else "failed", payload=payload)])
    human = timhooks(capsys, *argv, "--db", db)
    assert human.code == 0, human.err
    for unsafe in ("\x1b", "\x07", "\u202e", "\x85"):
        assert unsafe not in human.out
    assert "forged line" in human.out
    if "show" in argv:
        assert '  "CallbackCommand": "Group.CallbackAfterGroupFull",' in human.out.splitlines()
    assert not any(line.lstrip().startswith("999  done") for line in human.out.splitlines())
    # Lines escape as Python does, JSON payloads as JSON does.
    assert "\\x1b]0;pwned\\x07" in human.out or "\\u001b]0;pwned\\u0007" in human.out
    exact = timhooks(capsys, *argv, "--db", db, "--json").json()
    item = exact[0] if isinstance(exact, list) else exact
    assert item["payload"]["GroupId"] == HOSTILE
    assert json.loads(timhooks(capsys, *argv, "--db", db, "--json").out) == exact
