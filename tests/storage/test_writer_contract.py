"""The writer's contract on both backends: one SQL text, reads, errors and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from timhooks.protocol.errors import StorageError
from timhooks.storage import (
    BatchWriter,
    Connection,
    DatabaseNotFound,
    Migration,
    SchemaMismatch,
    open_writer,
)

NOTES = (
    Migration(
        1,
        "notes",
        (
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL,"
            " kind TEXT NOT NULL DEFAULT 'INTEGER; REAL?')",
        ),
    ),
)


def open_notes(url: str, migrations: tuple[Migration, ...] = NOTES, **kw: bool) -> BatchWriter:
    return open_writer(url, component="notes", migrations=migrations, **kw)


def add(text: str) -> Callable[[Connection], int]:
    def op(conn: Connection) -> int:
        return int(
            conn.execute("INSERT INTO notes (text) VALUES (?) RETURNING id", (text,)).fetchone()[0]
        )

    return op


async def close(writer: BatchWriter) -> None:
    await asyncio.to_thread(writer.close)


async def test_question_marks_and_percents_in_literals_are_text(db_url: str) -> None:
    """A ``?`` or ``%`` in a literal, a quoted name or a comment is text; only code ``?`` binds."""
    writer = open_notes(db_url)
    try:
        row = await writer.run(
            lambda c: c.execute(
                "SELECT '?%' || ? AS \"odd?%\", '50%' LIKE '5%', ? -- a ? and a % here\n",
                ("x", 7),
            ).fetchone()
        )
        bare = await writer.run(lambda c: c.execute("SELECT '100%', 'why?'").fetchone())
    finally:
        await close(writer)
    assert (row["odd?%"], bool(row[1]), row[2]) == ("?%x", True, 7)
    assert tuple(bare) == ("100%", "why?")


async def test_postgresql_dollar_quotes_and_escape_strings_are_text(pg_url: str) -> None:
    """PostgreSQL's dollar quotes, E'' strings and nested comments keep their ``?`` and ``%``."""
    writer = open_notes(pg_url)
    try:
        row = await writer.run(
            lambda c: c.execute(
                r"SELECT $$a?b%$$, $q$it's ?$q$, E'it\'s ?%', /* x /* ? */ % */ ?::int",
                (5,),
            ).fetchone()
        )
    finally:
        await close(writer)
    assert tuple(row) == ("a?b%", "it's ?", "it's ?%", 5)


async def test_rows_read_by_name_and_by_index(db_url: str) -> None:
    """A row gives a column by name or by position, its names, and unpacks like a tuple."""
    writer = open_notes(db_url)
    try:
        await writer.run(add("hello"))
        row = await writer.read(lambda c: c.execute("SELECT id, text FROM notes").fetchone())
    finally:
        await close(writer)
    note_id, text = row
    assert (row["text"], row[1], text, note_id == row["id"]) == ("hello", "hello", "hello", True)
    assert list(row.keys()) == ["id", "text"]


async def test_a_read_sees_every_write_committed_before_it(db_url: str) -> None:
    """Once a write's await returns, a read made after it sees the write."""
    writer = open_notes(db_url)
    try:
        seen = []
        for n in range(20):
            await writer.run(add(f"n{n}"))
            seen.append(
                await writer.read(lambda c: c.execute("SELECT COUNT(*) FROM notes").fetchone()[0])
            )
    finally:
        await close(writer)
    assert seen == list(range(1, 21))


async def test_a_write_inside_a_read_is_refused_and_kept_nowhere(db_url: str) -> None:
    """A read that tries to write fails with StorageError, and its write is not kept."""
    writer = open_notes(db_url)
    try:
        with pytest.raises(StorageError, match=r"(?i)read.?only"):
            await writer.read(add("sneaky"))
        count = await writer.read(lambda c: c.execute("SELECT COUNT(*) FROM notes").fetchone()[0])
    finally:
        await close(writer)
    assert count == 0


async def test_sqlite_reads_do_not_wait_for_a_transaction_being_written(tmp_path: Path) -> None:
    """On SQLite a read runs while the writer is inside a transaction, and sees the state
    before it; the write is seen once committed."""
    writer = open_notes(f"sqlite:///{tmp_path / 'notes.db'}")
    inside, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> None:
        conn.execute("INSERT INTO notes (text) VALUES ('late')")
        inside.set()
        release.wait(30)

    def count(conn: Connection) -> int:
        return int(conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0])

    try:
        await writer.run(add("early"))
        pending = writer.submit(slow)
        await asyncio.to_thread(inside.wait, 30)
        during = await writer.read(count)
        release.set()
        await asyncio.wrap_future(pending)
        after = await writer.read(count)
    finally:
        release.set()
        await close(writer)
    assert (during, after) == (1, 2)


async def test_reads_and_writes_after_close_are_refused(db_url: str) -> None:
    """A closed writer refuses reads and writes with a StorageError naming the database."""
    writer = open_notes(db_url)
    await writer.read(lambda c: c.execute("SELECT 1").fetchone())
    await close(writer)
    with pytest.raises(StorageError, match="is closed"):
        await writer.read(lambda c: c.execute("SELECT 1").fetchone())
    with pytest.raises(StorageError, match="is closed"):
        await writer.run(add("late"))


async def test_a_driver_error_keeps_its_cause(db_url: str) -> None:
    """A failed statement is a StorageError naming the database, the driver's error its cause."""
    writer = open_notes(db_url)
    try:
        with pytest.raises(StorageError) as failed_write:
            await writer.run(lambda c: c.execute("INSERT INTO missing VALUES (1)"))
        with pytest.raises(StorageError) as failed_read:
            await writer.read(lambda c: c.execute("SELECT nothing FROM notes"))
    finally:
        await close(writer)
    driver = sqlite3.Error if db_url.startswith("sqlite") else _psycopg_error()
    for failed in (failed_write.value, failed_read.value):
        assert str(failed).startswith(writer.describe)
        assert isinstance(failed.__cause__, driver)
        assert failed.__suppress_context__


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


async def test_migrations_run_statements_as_written(db_url: str) -> None:
    """A migration's statements run one by one, ``;`` and type names in literals untouched,
    on both backends; a script string is split only where code ends a statement."""
    migrations = (
        *NOTES,
        Migration(
            2,
            "a script",
            "INSERT INTO notes (text) VALUES ('a; b');\n"
            "INSERT INTO notes (text, kind) VALUES ('-- c; d', 'BLOB');",
        ),
    )
    writer = open_notes(db_url, migrations)
    try:
        rows = await writer.read(
            lambda c: c.execute("SELECT text, kind FROM notes ORDER BY id").fetchall()
        )
    finally:
        await close(writer)
    assert [tuple(r) for r in rows] == [("a; b", "INTEGER; REAL?"), ("-- c; d", "BLOB")]


async def test_an_outdated_or_newer_schema_is_a_schema_mismatch(db_url: str) -> None:
    """A schema behind this timhooks (upgrade refused) or ahead of it is SchemaMismatch,
    saying what to do."""
    open_notes(db_url).close()
    newer = (*NOTES, Migration(2, "more", ("CREATE INDEX notes_text ON notes (text)",)))
    with pytest.raises(SchemaMismatch, match="run `timhooks db upgrade`"):
        open_notes(db_url, newer, upgrade=False)
    open_notes(db_url, newer).close()
    with pytest.raises(SchemaMismatch, match="upgrade timhooks"):
        open_notes(db_url)


async def test_a_database_without_the_schema_is_not_created_on_request(db_url: str) -> None:
    """``create=False`` on a database that never had the component's schema is
    DatabaseNotFound, and leaves it without one."""
    other = Migration(1, "another component", ("CREATE TABLE other (id INTEGER)",))
    open_writer(db_url, component="other", migrations=(other,)).close()
    with pytest.raises(DatabaseNotFound, match="no timhooks notes schema"):
        open_notes(db_url, create=False)
    open_notes(db_url).close()
    open_notes(db_url, create=False).close()


async def test_an_upsert_inserts_then_updates_only_the_columns_named(db_url: str) -> None:
    """The dialect's upsert inserts a new row, and on a repeat of its key changes only the
    columns it names (the rest keep their first values)."""
    writer = open_notes(db_url)

    def put(conn: Connection, text: str, kind: str) -> None:
        sql = conn.dialect.upsert("notes", ("id", "text", "kind"), ("id",), update=("text",))
        conn.execute(sql, (1, text, kind))

    try:
        await writer.run(lambda c: put(c, "first", "original"))
        await writer.run(lambda c: put(c, "second", "ignored"))
        rows = await writer.read(lambda c: c.execute("SELECT id, text, kind FROM notes").fetchall())
    finally:
        await close(writer)
    assert [tuple(r) for r in rows] == [(1, "second", "original")]
