"""Database URLs: which backend a URL names, its SQLite file, and how to show it.

``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a plain path give SQLite (the embedded
default); ``postgresql://user@host/db`` (or ``postgres://``) gives PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from timhooks.protocol.errors import ConfigError

__all__ = ["describe_url", "is_postgres", "sqlite_path"]

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
