"""Commands that only read or maintain never create a database: a missing one is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from log_support import Row, seed_inbox, seed_outbox, timhooks

GROUP_FULL = "Group.CallbackAfterGroupFull"

READING_COMMANDS = [
    ("events", "list"),
    ("events", "show", "1"),
    ("events", "replay", "1"),
    ("events", "replay", "--status", "dead", "--yes"),
    ("deliveries", "list"),
    ("deliveries", "show", "1"),
    ("deliveries", "replay", "1"),
    ("deliveries", "replay", "--status", "failed", "--yes"),
    ("db", "prune"),
    ("db", "prune", "--component", "inbox"),
    ("db", "upgrade"),
    ("db", "upgrade", "--component", "server"),
]


@pytest.mark.parametrize("argv", READING_COMMANDS, ids=" ".join)
def test_missing_default_database_is_an_error_and_stays_missing(
    argv: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run where there is no database, each command exits 2 naming the file and the current
    directory, and creates no file."""
    monkeypatch.chdir(tmp_path)
    run = timhooks(capsys, *argv)
    assert run.code == 2, run
    assert "no SQLite database at timhooks" in run.err
    assert f"current directory: {tmp_path}" in run.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [c for c in READING_COMMANDS if c[0] != "db"], ids=" ".join)
def test_mistyped_db_is_an_error_and_stays_missing(
    argv: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--db typo.db` names typo.db in the error and leaves no typo.db behind."""
    monkeypatch.chdir(tmp_path)
    run = timhooks(capsys, *argv, "--db", "typo.db")
    assert run.code == 2
    assert "no SQLite database at typo.db" in run.err
    assert not (tmp_path / "typo.db").exists()


def test_inbox_commands_default_to_the_inbox_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """events list and db prune --component inbox use timhooks-inbox.db, not the server's
    timhooks.db, and create neither."""
    monkeypatch.chdir(tmp_path)
    [entry] = seed_inbox("timhooks-inbox.db", [Row(GROUP_FULL, "done")])
    listed = timhooks(capsys, "events", "list", "--json")
    assert [e["id"] for e in listed.json()] == [entry]
    pruned = timhooks(capsys, "db", "prune", "--component", "inbox", "--json")
    assert pruned.json() == {"component": "inbox", "pruned": 1}
    assert not (tmp_path / "timhooks.db").exists()


def test_deliveries_default_to_the_server_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """deliveries list and db prune read timhooks.db, where serve keeps its outbox."""
    monkeypatch.chdir(tmp_path)
    [row] = seed_outbox("timhooks.db", [Row(GROUP_FULL, "delivered")])
    assert [d["id"] for d in timhooks(capsys, "deliveries", "list", "--json").json()] == [row]
    assert timhooks(capsys, "db", "prune", "--json").json() == {"component": "server", "pruned": 1}
    assert not (tmp_path / "timhooks-inbox.db").exists()


def test_an_empty_file_has_no_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a timhooks database is refused, and gets no tables."""
    db = tmp_path / "empty.db"
    db.touch()
    run = timhooks(capsys, "events", "list", "--db", str(db))
    assert run.code == 2
    assert "no timhooks inbox schema" in run.err
    assert db.stat().st_size == 0


def test_db_upgrade_creates_only_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """db upgrade --create makes both databases at their defaults; later upgrades find them
    up to date; with one present, the other is reported as skipped."""
    monkeypatch.chdir(tmp_path)
    created = timhooks(capsys, "db", "upgrade", "--create", "--json")
    assert created.code == 0, created.err
    assert set(created.json()) == {"server", "inbox"}
    assert all(created.json().values())
    assert {p.name for p in tmp_path.glob("*.db")} == {"timhooks.db", "timhooks-inbox.db"}
    again = timhooks(capsys, "db", "upgrade", "--json")
    assert again.json() == {"server": [], "inbox": []}
    (tmp_path / "timhooks-inbox.db").unlink()
    partial = timhooks(capsys, "db", "upgrade")
    assert partial.code == 0
    assert "inbox: skipped: no SQLite database at timhooks-inbox.db" in partial.out
    assert not (tmp_path / "timhooks-inbox.db").exists()


def test_postgres_schema_never_created_is_an_error(
    empty_pg_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On PostgreSQL, reading an inbox or outbox that was never created says so (exit 2) and
    creates no table there."""
    import psycopg

    for argv in (("events", "list"), ("deliveries", "list"), ("db", "upgrade")):
        run = timhooks(capsys, *argv, "--db", empty_pg_schema)
        assert run.code == 2, run
        assert "schema: it was never created there" in run.err
        assert "postgresql://" in run.err
    with psycopg.connect(empty_pg_schema) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    assert tables == (0,)
