"""Which rows of a log a listing or a bulk replay takes: one filter for the inbox and the outbox.

``timhooks events list|replay`` and ``timhooks deliveries list|replay`` take the same flags; each
store turns a ``LogFilter`` into the same WHERE clause over its own time column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LogFilter"]


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Rows by status, CallbackCommand, SDKAppID and time (``since <= t < until``, epoch
    seconds); ``after_id`` keeps rows newer than one already seen (following a log),
    ``before_id`` rows older than one (the next page of a listing, newest first);
    ``body_contains`` rows whose body holds that text (the console's search)."""

    status: str | None = None
    command: str | None = None
    app_id: int | None = None
    since: float | None = None
    until: float | None = None
    after_id: int | None = None
    before_id: int | None = None
    body_contains: str | None = None

    @property
    def narrows(self) -> bool:
        """True if it leaves some rows out (a bulk replay needs at least one condition)."""
        return any(
            value is not None
            for value in (
                self.status,
                self.command,
                self.app_id,
                self.since,
                self.until,
                self.body_contains,
            )
        )

    def where(self, time_column: str, dialect: str = "sqlite") -> tuple[list[str], list[Any]]:
        """SQL conditions (``?`` placeholders) and their parameters; ``time_column`` is the
        table's arrival time (the inbox's ``received_at``, the outbox's ``created_at``);
        ``dialect`` the connection's (``conn.dialect``), for the body search."""
        conditions: list[str] = []
        params: list[Any] = []
        for condition, value in (
            ("status = ?", self.status),
            ("command = ?", self.command),
            ("sdk_app_id = ?", self.app_id),
            (f"{time_column} >= ?", self.since),
            (f"{time_column} < ?", self.until),
            ("id > ?", self.after_id),
            ("id < ?", self.before_id),
        ):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        if self.body_contains:
            # The body's bytes hold the text's UTF-8, case and all: instr() on SQLite,
            # position() on PostgreSQL (both search a BLOB or bytea byte for byte).
            if dialect == "postgresql":
                conditions.append("position(? in body) > 0")
            else:
                conditions.append("instr(body, ?) > 0")
            params.append(self.body_contains.encode())
        return conditions, params
