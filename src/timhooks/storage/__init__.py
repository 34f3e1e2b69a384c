"""Storage: one interface, backends chosen by URL (``sqlite:///path.db`` or a plain path)."""

from __future__ import annotations

from pathlib import Path

from timhooks.protocol.errors import ConfigError
from timhooks.storage.base import (
    InboxEntry,
    InboxStatus,
    InboxStore,
    NewInboxEntry,
    webhook_digest,
)

__all__ = [
    "InboxEntry",
    "InboxStatus",
    "InboxStore",
    "NewInboxEntry",
    "open_inbox",
    "sqlite_path",
    "webhook_digest",
]


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
        raise ConfigError(f"unsupported database URL scheme {scheme!r}; use sqlite:///path.db")
    return text


def open_inbox(url: str | Path, *, synchronous: str = "FULL") -> InboxStore:
    """Open the inbox named by ``url`` (a path or ``sqlite:///path``)."""
    from timhooks.storage.sqlite import SQLiteInbox

    return SQLiteInbox(sqlite_path(url), synchronous=synchronous)
