"""SQLite, the embedded default: one writer thread, WAL, group commit.

With ``synchronous=FULL`` (the default) a write is on disk when its future resolves, so neither
a killed process nor a power cut loses it; ``NORMAL`` survives a killed process only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from timhooks.protocol.errors import StorageError
from timhooks.storage.engine import BatchWriter, Dialect
from timhooks.storage.migrations import DatabaseNotFound

__all__ = ["SQLiteConnection", "SQLiteWriter", "sqlite_dialect"]

_SYNC_MODES = {"OFF", "NORMAL", "FULL", "EXTRA"}


class SQLiteConnection(sqlite3.Connection):
    """A sqlite3 connection that says which dialect it speaks."""

    dialect = "sqlite"


def sqlite_dialect(
    path: str, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000, create: bool = True
) -> Dialect:
    """How to open and use one SQLite file; ``create=False`` opens an existing file only."""
    mode = synchronous.upper()
    if mode not in _SYNC_MODES:
        raise StorageError(f"unknown SQLite synchronous mode {synchronous!r}")

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
            # mode=rw: SQLite opens the file but never creates it (a file deleted meanwhile).
            target, uri = f"file:{quote(os.path.abspath(path))}?mode=rw", True
        conn = sqlite3.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            factory=SQLiteConnection,
            uri=uri,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if create:
            # WAL mode persists in the file: an existing timhooks database has it already, and
            # setting it would write to a file that is not one.
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {mode}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    return Dialect(
        name="sqlite",
        connect=connect,
        begin="BEGIN IMMEDIATE",
        driver_errors=(sqlite3.Error,),
        transient_errors=(),
        describe=f"SQLite database {path}",
        group_commit=True,
        single_is_atomic=True,
    )


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
        setup: Callable[[Any], None] | None = None,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        create: bool = True,
    ) -> None:
        self.path = str(path)
        super().__init__(
            sqlite_dialect(
                self.path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms, create=create
            ),
            setup=setup,
        )
