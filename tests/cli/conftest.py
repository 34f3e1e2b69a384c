"""CLI test plumbing: the log levels ``main`` sets are put back; a fresh PostgreSQL schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pg_support import fresh_schema


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
    with fresh_schema() as url:
        yield url
