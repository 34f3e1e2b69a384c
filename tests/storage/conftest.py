"""Database URLs for the storage contract tests: SQLite always, PostgreSQL when configured.

PostgreSQL tests read TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test); each
test gets a schema of its own, dropped afterwards. Without the variable they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("TEST_POSTGRES_URL")
PG_SKIP = (
    "PostgreSQL tests need TEST_POSTGRES_URL, e.g. "
    "TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test (set by .ci/run when a server "
    "answers on 127.0.0.1:5432)"
)


def _with_schema(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_schema(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: an SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'timhooks.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
