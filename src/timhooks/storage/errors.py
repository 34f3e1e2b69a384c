"""The storage errors a caller may want to tell apart, under ``StorageError`` (both drawn in
the tree of ``timhooks.protocol.errors``).

Each maps no driver error of its own; a driver error (``sqlite3.Error``, ``psycopg.Error``) is
a plain ``StorageError`` naming the database, with the driver's error as its ``__cause__``.
"""

from __future__ import annotations

from timhooks.protocol.errors import StorageError

__all__ = ["DatabaseNotFound", "SchemaMismatch", "StorageError"]


class DatabaseNotFound(StorageError):
    """A database, or a component's schema in it, that was never created where one was expected
    (a command that only reads or maintains opened it)."""


class SchemaMismatch(StorageError):
    """A component's schema is older than this timhooks needs (run ``timhooks db upgrade``) or
    newer than it knows (upgrade timhooks)."""
