"""CLI test plumbing: the log levels ``main`` sets are put back; a fresh PostgreSQL schema."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _restore_log_levels() -> Iterator[None]:
    """``timhooks -v/-q`` sets the timhooks logger's level; other tests expect the default."""
    loggers = [logging.getLogger(), logging.getLogger("timhooks")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def empty_pg_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TEST_POSTGRES_URL")
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
