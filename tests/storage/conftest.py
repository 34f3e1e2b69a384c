"""Database URLs for the storage contract tests: SQLite always, PostgreSQL when configured.

PostgreSQL tests read TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test); each
test gets a schema of its own, dropped afterwards. Without the variable they are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pg_support import fresh_schema


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: an SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'timhooks.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
