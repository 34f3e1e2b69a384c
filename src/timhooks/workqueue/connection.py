"""What the work queue's statements need of a storage connection (``timhooks.storage``'s
``Connection`` is one): ``?`` SQL, rows by column name, and the dialect's row-lock clause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["QueueConnection"]


class QueueDialect(Protocol):
    """The part of a storage ``Dialect`` a claim needs."""

    @property
    def skip_locked(self) -> str:
        """`` FOR UPDATE SKIP LOCKED`` where claimers share a database (PostgreSQL), else ``""``."""
        ...


class QueueConnection(Protocol):
    """A connection inside a transaction, as the claim and replay statements use it."""

    @property
    def dialect(self) -> QueueDialect:
        """Its backend's SQL."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any:
        """Run one statement; its cursor."""
        ...
