"""PostgreSQL, for many processes on one database: several connections, row locks, SKIP LOCKED.

Operations are written with ``?`` placeholders for both backends; this adapter turns them into
psycopg's ``%s`` and gives rows that read by column name or by index, like ``sqlite3.Row``.
"""

from __future__ import annotations

import functools
from typing import Any

from timhooks.protocol.errors import ConfigError
from timhooks.storage.engine import BatchWriter, Dialect

__all__ = ["PostgresConnection", "PostgresWriter", "postgres_dialect"]


class Row(tuple[Any, ...]):
    """A result row readable by index or by column name."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names."""
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    index = {col.name: i for i, col in enumerate(cursor.description or ())}

    def make(values: Any) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


@functools.lru_cache(maxsize=1024)
def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresConnection:
    """A psycopg connection speaking the storage code's SQL."""

    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = None) -> Any:
        """Run one statement."""
        return self.raw.execute(_pg(sql), params)

    def executemany(self, sql: str, params: Any) -> Any:
        """Run one statement for each parameter tuple."""
        cursor = self.raw.cursor()
        cursor.executemany(_pg(sql), params)
        return cursor

    def executescript(self, script: str) -> None:
        """Run several statements without parameters."""
        self.raw.execute(script)

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def postgres_dialect(url: str, *, threads: int = 4) -> Dialect:
    """How to open and use a PostgreSQL database."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError("PostgreSQL needs psycopg: pip install 'timhooks[postgres]'") from None

    def connect() -> PostgresConnection:
        raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory)
        return PostgresConnection(raw)

    from timhooks.storage import describe_url

    errors = psycopg.errors
    return Dialect(
        name="postgresql",
        connect=connect,
        begin="BEGIN",
        driver_errors=(psycopg.Error,),
        transient_errors=(
            errors.DeadlockDetected,
            errors.SerializationFailure,
            errors.LockNotAvailable,
        ),
        describe=f"PostgreSQL database {describe_url(url)}",
        group_commit=False,
        single_is_atomic=False,
        threads=threads,
    )


class PostgresWriter(BatchWriter):
    """A BatchWriter on a PostgreSQL database."""

    def __init__(self, url: str, *, setup: Any = None, threads: int = 4) -> None:
        super().__init__(postgres_dialect(url, threads=threads), setup=setup)
