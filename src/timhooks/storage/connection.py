"""What an operation gets: a connection speaking ``?`` SQL, whose rows read by name or index.

Both backends' connections satisfy ``Connection`` (``sqlite3`` natively, psycopg through
``timhooks.storage.postgres.PostgresConnection``). An operation is a function of one, run in a
transaction by ``timhooks.storage.engine.BatchWriter``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from timhooks.storage.dialect import Dialect

__all__ = [
    "Connection",
    "Cursor",
    "OwnedConnection",
    "Row",
    "for_update",
    "skip_locked",
]


class Row(Protocol):
    """A result row: ``row["column"]``, ``row[0]``, or unpacked like a tuple."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """A statement's result: its rows, or how many rows it changed."""

    @property
    def rowcount(self) -> int: ...
    # A Row, or None when no row is left. Typed Any as in DB-API's typeshed stubs, so that
    # ``execute(...).fetchone()[0]`` on a query that always yields a row needs no check.
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Row]: ...
    def __iter__(self) -> Iterator[Row]: ...


class Connection(Protocol):
    """A connection inside an operation's transaction; ``?`` placeholders on both backends."""

    @property
    def dialect(self) -> Dialect: ...
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Cursor: ...


class OwnedConnection(Connection, Protocol):
    """A connection as the writer holds it: it also closes it (operations never do)."""

    def close(self) -> None: ...


def for_update(conn: Connection) -> str:
    """`` FOR UPDATE`` where the backend locks rows (SQLite's writer lock covers it)."""
    return conn.dialect.for_update


def skip_locked(conn: Connection) -> str:
    """`` FOR UPDATE SKIP LOCKED`` for claims shared by many processes (PostgreSQL)."""
    return conn.dialect.skip_locked
