"""What a console page reads from its request: a posted form, a listing's filters, a row id.

A field that does not read is kept as an error to show beside it, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request

from timhooks.protocol.errors import ConfigError
from timhooks.storage.filters import LogFilter

__all__ = ["Filters", "Form", "Replayable", "path_id"]


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form's fields (the first value of each) and every pair as sent."""

    fields: Mapping[str, str]
    pairs: Sequence[tuple[str, str]] = ()

    def get(self, name: str, default: str = "") -> str:
        """A field's value, or ``default``."""
        return self.fields.get(name, default)

    def all(self, name: str) -> list[str]:
        """Every value of a field that repeats (checkboxes)."""
        return [value for key, value in self.pairs if key == name]


def _time(text: str, name: str) -> float | None:
    """A time from a filter field: epoch seconds or ``YYYY-MM-DDTHH:MM[:SS]`` in UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name}: {text!r} is not a time; write 2024-05-01T09:30 (UTC) or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _positive(text: str, name: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ConfigError(f"{name}: {text!r} is not a number; write digits only")
    return int(text)


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of a listing, read from its query (or a bulk replay's form), with an error
    per field that did not read."""

    values: dict[str, str]
    log: LogFilter
    errors: dict[str, str] = field(default_factory=dict)

    FIELDS = ("status", "command", "app", "since", "until", "q")

    @classmethod
    def read(cls, params: Mapping[str, str], statuses: Sequence[str]) -> Filters:
        """The filters in ``params``; a bad field is left out and its error kept."""
        values = {name: params.get(name, "").strip() for name in (*cls.FIELDS, "before")}
        errors: dict[str, str] = {}
        found: dict[str, Any] = {}
        if values["status"]:
            if values["status"] in statuses:
                found["status"] = values["status"]
            else:
                errors["status"] = f"status must be one of {', '.join(statuses)}"
        if values["command"]:
            found["command"] = values["command"]
        if values["q"]:
            found["body_contains"] = values["q"]
        for name, key, read in (
            ("app", "app_id", _positive),
            ("before", "before_id", _positive),
            ("since", "since", _time),
            ("until", "until", _time),
        ):
            try:
                found[key] = read(values[name], name)
            except ConfigError as exc:
                errors[name] = str(exc)
        return cls(values=values, log=LogFilter(**found), errors=errors)

    def query(self, **changes: str | int | None) -> str:
        """This listing's query string, with ``changes`` (None drops a field)."""
        merged: dict[str, Any] = {k: v for k, v in self.values.items() if v}
        for key, value in changes.items():
            if value is None or value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        return urlencode(merged)

    @property
    def hidden(self) -> list[tuple[str, str]]:
        """The filter fields to carry in a form (not the page)."""
        return [(k, self.values[k]) for k in self.FIELDS if self.values.get(k)]


class Replayable(Protocol):
    """A log whose finished rows a filter can make pending again (the outbox, the inbox)."""

    async def replay_count(self, where: LogFilter) -> tuple[int, int]: ...

    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]: ...


def path_id(request: Request) -> int | None:
    """The page's ``{id}``, or None when it is not a row id."""
    text = str(request.path_params.get("id", ""))
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
