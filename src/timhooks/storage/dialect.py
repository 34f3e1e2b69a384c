"""What differs between the backends' SQL and transactions, owned in one place per backend.

The storage code writes each statement once, in the SQL both backends share, with ``?``
placeholders and SQLite-flavoured DDL types; it asks the connection's ``Dialect`` for the rest
(row locks, the BEGIN statement, DDL types, the migration lock, which errors are transient).
The two instances are ``timhooks.storage.sqlite.SQLITE`` and
``timhooks.storage.postgres.postgresql_dialect()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from timhooks.storage.sqltext import segments

__all__ = ["Dialect", "TypeMap"]

# (a type name as the portable DDL writes it, as a pattern; the backend's name for it)
TypeMap = tuple[tuple[re.Pattern[str], str], ...]


def _same(sql: str) -> str:
    return sql


@dataclass(frozen=True, slots=True)
class Dialect:
    """One backend's SQL and transaction behaviour."""

    name: str
    # Starts an operation's transaction; SQLite's BEGIN IMMEDIATE takes the write lock at once,
    # so a transaction never fails half-way on a lock held by another process.
    begin: str
    # Starts a read-only transaction (a snapshot: every statement of a read sees one state).
    begin_read: str
    # Appended to a SELECT that reads rows it will change (SQLite's writer lock covers it).
    for_update: str
    # Appended to the SELECT of a claim shared by many processes: rows another claimer holds
    # are skipped, not waited for (SQLite has one writer).
    skip_locked: str
    driver_errors: tuple[type[Exception], ...]
    # Errors after which the whole transaction can run again and may succeed (a deadlock
    # victim, a serialization failure, a lock timeout).
    transient_errors: tuple[type[Exception], ...]
    # True: operations that arrive together share one transaction, each in a savepoint (one
    # writer, so no row locks and no deadlock). False: an operation is a transaction of its
    # own, except operations of one key (see ``timhooks.storage.engine``).
    group_commit: bool
    # True where a failed statement leaves the transaction usable (SQLite), so a
    # one-statement operation needs no savepoint; PostgreSQL aborts the transaction instead.
    single_is_atomic: bool
    # A query with one parameter, a table name: one row if that table exists, none if not.
    table_exists: str
    # A statement with one parameter, a key, that holds other processes' migrations until this
    # transaction ends; None where BEGIN already does (SQLite's write lock).
    migration_lock: str | None
    ddl_types: TypeMap = ()
    # A statement as the driver takes it (its placeholder style), from the ``?`` form.
    driver_sql: Callable[[str], str] = _same
    # True where the driver binds a list as an array and ``unnest`` turns arrays into rows
    # (PostgreSQL): many rows are then written by one statement, each executed once, rather
    # than one execution per row.
    arrays: bool = False

    def ddl(self, statement: str) -> str:
        """A portable DDL statement with this backend's type names (literals untouched)."""
        if not self.ddl_types:
            return statement
        parts = []
        for code, text in segments(statement):
            if code:
                for pattern, replacement in self.ddl_types:
                    text = pattern.sub(replacement, text)
            parts.append(text)
        return "".join(parts)

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        *,
        update: Sequence[str] | None = None,
    ) -> str:
        """An INSERT of ``columns`` (``?`` placeholders) that, where a row with the same ``key``
        exists, sets its ``update`` columns instead (default: every column not in ``key``; none:
        the row is left as it is). SQLite 3.24 and PostgreSQL 9.5 share the form."""
        changed = [c for c in columns if c not in key] if update is None else list(update)
        sets = ", ".join(f"{c} = excluded.{c}" for c in changed)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        return (
            f"INSERT INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT ({', '.join(key)}) {action}"
        )
