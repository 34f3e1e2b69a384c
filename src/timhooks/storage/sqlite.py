"""SQLite, the embedded default: one writer thread, WAL, group commit, and a reader.

With ``synchronous=FULL`` (the default) a write is on disk when its future resolves, so neither
a killed process nor a power cut loses it; ``NORMAL`` survives a killed process only. Reads run
on a connection of their own: in WAL mode a reader sees the last commit and neither waits for
the writer nor holds it up (SQLite: "Write-Ahead Logging").
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from timhooks.protocol.errors import StorageError
from timhooks.storage.connection import Connection
from timhooks.storage.dialect import Dialect
from timhooks.storage.engine import BatchWriter, Database
from timhooks.storage.errors import DatabaseNotFound

__all__ = ["SQLITE", "SQLiteConnection", "SQLiteWriter", "sqlite_database"]

_SYNC_MODES = {"OFF", "NORMAL", "FULL", "EXTRA"}

SQLITE = Dialect(
    name="sqlite",
    begin="BEGIN IMMEDIATE",
    begin_read="BEGIN",
    for_update="",
    skip_locked="",
    driver_errors=(sqlite3.Error,),
    transient_errors=(),
    group_commit=True,
    single_is_atomic=True,
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    migration_lock=None,
)


class SQLiteConnection(sqlite3.Connection):
    """A sqlite3 connection that says which dialect it speaks."""

    dialect = SQLITE


def sqlite_database(
    path: str, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000, create: bool = True
) -> Database:
    """How to open one SQLite file; ``create=False`` opens an existing file only."""
    mode = synchronous.upper()
    if mode not in _SYNC_MODES:
        raise StorageError(
            f"unknown SQLite synchronous mode {synchronous!r}; use one of"
            f" {', '.join(sorted(_SYNC_MODES))}"
        )

    existing = f"file:{quote(os.path.abspath(path))}?mode=rw"  # opens, never creates

    def connect() -> SQLiteConnection:
        target, uri = path, False
        if path != ":memory:" and create:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
        elif path != ":memory:":
            if not Path(path).is_file():
                raise DatabaseNotFound(
                    f"no SQLite database at {path} (current directory: {os.getcwd()})"
                )
            # A file deleted meanwhile is an error, not a new empty database.
            target, uri = existing, True
        conn = _open(target, uri=uri, busy_timeout_ms=busy_timeout_ms)
        if create:
            # WAL mode persists in the file: an existing timhooks database has it already, and
            # setting it would write to a file that is not one.
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {mode}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def connect_reader() -> SQLiteConnection:
        # The writer made the file (or found it); query_only makes a write on this connection
        # an error rather than a second writer.
        conn = _open(existing, uri=True, busy_timeout_ms=busy_timeout_ms)
        conn.execute("PRAGMA query_only = ON")
        return conn

    # A database in memory exists on the writer's connection only: reads go through it.
    return Database(
        dialect=SQLITE,
        connect=connect,
        describe=f"SQLite database {path}",
        connect_reader=None if path == ":memory:" else connect_reader,
    )


def _open(target: str, *, uri: bool, busy_timeout_ms: int) -> SQLiteConnection:
    """A connection in autocommit mode (the writer and the reader say BEGIN themselves),
    usable from the thread that runs it, with rows readable by name."""
    conn = sqlite3.connect(
        target, isolation_level=None, check_same_thread=False, factory=SQLiteConnection, uri=uri
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


def _create_private(path: str) -> None:
    """Create the database file readable by its owner only, unless it exists already.

    The server's database holds each app's secret key and webhook token, the inbox holds
    webhook bodies. SQLite gives the -wal and -shm files the database file's permissions, so
    they are private too. An existing file keeps the permissions its owner chose.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect reports why the file cannot be opened, naming the database
    os.close(fd)


class SQLiteWriter(BatchWriter):
    """A BatchWriter on one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        setup: Callable[[Connection], None] | None = None,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        create: bool = True,
    ) -> None:
        super().__init__(
            sqlite_database(
                str(path), synchronous=synchronous, busy_timeout_ms=busy_timeout_ms, create=create
            ),
            setup=setup,
        )
