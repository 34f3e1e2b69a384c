"""Storage: one interface, two backends chosen by URL.

``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path give SQLite (the embedded
default); ``postgresql://user@host/db`` (or ``postgres://``) gives PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from timhooks.protocol.errors import ConfigError
from timhooks.storage.base import (
    InboxEntry,
    InboxStatus,
    InboxStore,
    NewInboxEntry,
    webhook_digest,
)
from timhooks.storage.engine import BatchWriter
from timhooks.storage.migrations import DatabaseNotFound, Migration, migrate

__all__ = [
    "BatchWriter",
    "DatabaseNotFound",
    "InboxEntry",
    "InboxStatus",
    "InboxStore",
    "NewInboxEntry",
    "describe_url",
    "is_postgres",
    "open_inbox",
    "open_writer",
    "sqlite_path",
    "webhook_digest",
]

_PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str | Path) -> bool:
    """True for a PostgreSQL URL."""
    return str(url).startswith(_PG_SCHEMES)


def describe_url(url: str | Path) -> str:
    """The database URL without its password, for output and logs."""
    text = str(url)
    if "://" not in text or "@" not in text:
        return text
    scheme, rest = text.split("://", 1)
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}" if user else f"{scheme}://{location}"


def sqlite_path(url: str | Path) -> str:
    """The file behind ``sqlite:///relative.db``, ``sqlite:////abs.db`` or a plain path."""
    text = str(url)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        if not rest.startswith("/"):
            raise ConfigError(f"SQLite URL must be sqlite:///path, got {text!r}")
        rest = rest[1:]
        return rest or ":memory:"
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r}; use sqlite:///path.db or"
            " postgresql://user@host/db"
        )
    return text


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

    def setup(conn: Any) -> None:
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
