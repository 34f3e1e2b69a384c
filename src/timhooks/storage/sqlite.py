"""SQLite, the embedded default: one writer thread, WAL, group commit.

With ``synchronous=FULL`` (the default) a write is on disk when its future resolves, so neither
a killed process nor a power cut loses it; ``NORMAL`` survives a killed process only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timhooks.protocol.errors import StorageError
from timhooks.storage.engine import BatchWriter, Dialect

__all__ = ["SQLiteConnection", "SQLiteWriter", "sqlite_dialect"]

_SYNC_MODES = {"OFF", "NORMAL", "FULL", "EXTRA"}


class SQLiteConnection(sqlite3.Connection):
    """A sqlite3 connection that says which dialect it speaks."""

    dialect = "sqlite"


def sqlite_dialect(path: str, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> Dialect:
    """How to open and use one SQLite file."""
    mode = synchronous.upper()
    if mode not in _SYNC_MODES:
        raise StorageError(f"unknown SQLite synchronous mode {synchronous!r}")

    def connect() -> SQLiteConnection:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, factory=SQLiteConnection
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
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


class SQLiteWriter(BatchWriter):
    """A BatchWriter on one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        setup: Callable[[Any], None] | None = None,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = str(path)
        super().__init__(
            sqlite_dialect(self.path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms),
            setup=setup,
        )
