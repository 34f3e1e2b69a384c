"""A fresh PostgreSQL schema for a test: ``with fresh_schema() as url: ...``."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("TEST_POSTGRES_URL")
PG_SKIP = (
    "PostgreSQL tests need TEST_POSTGRES_URL, e.g. "
    "TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test (set by .ci/run when a server "
    "answers on 127.0.0.1:5432)"
)


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL of TEST_POSTGRES_URL whose search_path is a new, empty schema, dropped at the end
    (the test is skipped without TEST_POSTGRES_URL)."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
