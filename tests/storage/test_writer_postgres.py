"""The PostgreSQL writer: one transaction per operation, and bounded runs after a deadlock."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from timhooks.protocol.errors import StorageError
from timhooks.storage.postgres import PostgresWriter


async def test_operations_of_many_callers_never_share_a_transaction(pg_url: str) -> None:
    """200 operations queued at once run in 200 transactions of their own."""
    writer = PostgresWriter(pg_url)
    try:
        ids = await asyncio.gather(
            *(
                writer.run(lambda c: c.execute("SELECT txid_current()").fetchone()[0])
                for _ in range(200)
            )
        )
    finally:
        await asyncio.to_thread(writer.close)
    assert len(set(ids)) == 200


async def test_a_deadlock_is_run_again_and_both_operations_commit(pg_url: str) -> None:
    """Two operations locking two rows in opposite orders both commit: the victim runs again."""
    writer = PostgresWriter(pg_url)
    try:
        await writer.run(
            lambda c: c.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER)")
        )
        await writer.run(lambda c: c.execute("INSERT INTO pair VALUES (1, 0), (2, 0)"))
        barrier = threading.Barrier(2, timeout=30)
        runs = [0, 0]

        def op(who: int, first: int, second: int) -> Any:
            def run(conn: Any) -> None:
                runs[who] += 1
                conn.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (first,))
                if runs[who] == 1:
                    barrier.wait()  # both now hold one row: the next statements deadlock
                conn.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (second,))

            return run

        await asyncio.gather(writer.run(op(0, 1, 2)), writer.run(op(1, 2, 1)))
        rows = await writer.run(lambda c: c.execute("SELECT n FROM pair ORDER BY id").fetchall())
    finally:
        await asyncio.to_thread(writer.close)
    assert [r[0] for r in rows] == [2, 2]
    assert sorted(runs) == [1, 2]  # the victim ran once more; the other once


async def test_a_persistent_serialization_failure_reaches_the_caller_after_five_runs(
    pg_url: str,
) -> None:
    """A serialization failure every time: five runs, then StorageError, and nothing kept."""
    import psycopg

    writer = PostgresWriter(pg_url)
    runs = 0

    def op(conn: Any) -> None:
        nonlocal runs
        runs += 1
        conn.execute("INSERT INTO kept (n) VALUES (?)", (runs,))
        raise psycopg.errors.SerializationFailure("could not serialize access")

    try:
        await writer.run(lambda c: c.execute("CREATE TABLE kept (n INTEGER)"))
        with pytest.raises(StorageError, match=r"could not serialize access \(5 runs\)"):
            await writer.run(op)
        count = await writer.run(lambda c: c.execute("SELECT COUNT(*) FROM kept").fetchone()[0])
    finally:
        await asyncio.to_thread(writer.close)
    assert runs == 5
    assert count == 0
