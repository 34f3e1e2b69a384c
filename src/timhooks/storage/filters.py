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
    seconds); ``after_id`` keeps rows newer than one already seen (following a log)."""

    status: str | None = None
    command: str | None = None
    app_id: int | None = None
    since: float | None = None
    until: float | None = None
    after_id: int | None = None

    @property
    def narrows(self) -> bool:
        """True if it leaves some rows out (a bulk replay needs at least one condition)."""
        return any(
            value is not None
            for value in (self.status, self.command, self.app_id, self.since, self.until)
        )

    def where(self, time_column: str) -> tuple[list[str], list[Any]]:
        """SQL conditions (``?`` placeholders) and their parameters; ``time_column`` is the
        table's arrival time (the inbox's ``received_at``, the outbox's ``created_at``)."""
        conditions: list[str] = []
        params: list[Any] = []
        for condition, value in (
            ("status = ?", self.status),
            ("command = ?", self.command),
            ("sdk_app_id = ?", self.app_id),
            (f"{time_column} >= ?", self.since),
            (f"{time_column} < ?", self.until),
            ("id > ?", self.after_id),
        ):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        return conditions, params
