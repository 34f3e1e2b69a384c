"""Storage: one interface, two backends chosen by URL.

``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path give SQLite (the embedded
default); ``postgresql://user@host/db`` (or ``postgres://``) gives PostgreSQL. Operations are
functions of a ``Connection``, run by a ``BatchWriter`` in transactions (``run``) or read-only
ones (``read``); the connection's ``Dialect`` owns what differs between the backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from timhooks.storage.base import (
    InboxEntry,
    InboxStatus,
    InboxStore,
    NewInboxEntry,
    webhook_digest,
)
from timhooks.storage.connection import Connection, Cursor, Row, for_update, skip_locked
from timhooks.storage.dialect import Dialect
from timhooks.storage.engine import BatchWriter
from timhooks.storage.errors import DatabaseNotFound, SchemaMismatch
from timhooks.storage.migrations import Migration, migrate
from timhooks.storage.urls import describe_url, is_postgres, sqlite_path

__all__ = [
    "BatchWriter",
    "Connection",
    "Cursor",
    "DatabaseNotFound",
    "Dialect",
    "InboxEntry",
    "InboxStatus",
    "InboxStore",
    "Migration",
    "NewInboxEntry",
    "Row",
    "SchemaMismatch",
    "describe_url",
    "for_update",
    "is_postgres",
    "open_inbox",
    "open_writer",
    "skip_locked",
    "sqlite_path",
    "webhook_digest",
]


def open_writer(
    url: str | Path,
    *,
    component: str,
    migrations: Sequence[Migration],
    upgrade: bool = True,
    synchronous: str = "FULL",
    pg_threads: int = 4,
    applied: list[int] | None = None,
    create: bool = True,
) -> BatchWriter:
    """Open the database at ``url`` with ``component``'s schema migrated (or checked).

    The versions a migration applied are appended to ``applied`` when it is given. With
    ``create=False`` (commands that only read or maintain) a missing SQLite file, or a database
    where ``component``'s schema was never created, is ``DatabaseNotFound`` and nothing is made.
    """
    where = describe_url(url)

    def setup(conn: Connection) -> None:
        versions = migrate(conn, component, migrations, allowed=upgrade, create=create, where=where)
        if applied is not None:
            applied.extend(versions)

    if is_postgres(url):
        from timhooks.storage.postgres import PostgresWriter

        return PostgresWriter(str(url), setup=setup, threads=pg_threads)
    from timhooks.storage.sqlite import SQLiteWriter

    return SQLiteWriter(sqlite_path(url), setup=setup, synchronous=synchronous, create=create)


def open_inbox(
    url: str | Path, *, synchronous: str = "FULL", upgrade: bool = True, create: bool = True
) -> InboxStore:
    """Open the receiver's inbox at ``url`` (``create=False``: an existing inbox only)."""
    from timhooks.storage.inbox import INBOX_MIGRATIONS, SqlInbox

    return SqlInbox(
        open_writer(
            url,
            component="inbox",
            migrations=INBOX_MIGRATIONS,
            upgrade=upgrade,
            synchronous=synchronous,
            create=create,
        )
    )
