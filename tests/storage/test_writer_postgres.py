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


def _txid(conn: Any) -> int:
    txid: int = conn.execute("SELECT txid_current()").fetchone()[0]
    return txid


async def test_operations_of_one_key_share_a_transaction_one_at_a_time(pg_url: str) -> None:
    """200 operations of one key, queued while the first runs, take two transactions in turn."""
    writer = PostgresWriter(pg_url)
    first_running = threading.Event()
    release = threading.Event()
    running = 0
    most = 0
    guard = threading.Lock()

    def op(conn: Any) -> int:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        if not first_running.is_set():
            first_running.set()
            release.wait(30)  # the others queue meanwhile
        try:
            return _txid(conn)
        finally:
            with guard:
                running -= 1

    try:
        futures = [writer.submit(op, key=("group", 1, "g1"))]
        await asyncio.to_thread(first_running.wait, 30)
        futures += [writer.submit(op, key=("group", 1, "g1")) for _ in range(199)]
        release.set()
        ids = [await asyncio.wrap_future(f) for f in futures]
    finally:
        await asyncio.to_thread(writer.close)
    assert len(set(ids)) == 2
    assert most == 1


async def test_a_failing_operation_in_a_shared_transaction_rolls_back_alone(pg_url: str) -> None:
    """In a key's shared transaction, a failing operation keeps nothing and the others commit."""
    writer = PostgresWriter(pg_url)
    started, release = threading.Event(), threading.Event()
    key = ("oa", 1, "@TOA#_x")

    def insert(n: int, fail: bool = False) -> Any:
        def op(conn: Any) -> int:
            if n == 0:
                started.set()
                release.wait(30)  # the others queue meanwhile
            conn.execute("INSERT INTO kept (n) VALUES (?)", (n,))
            if fail:
                conn.execute("SELECT 1 / 0")  # a driver error: the transaction is aborted
            return _txid(conn)

        return op

    try:
        await writer.run(lambda c: c.execute("CREATE TABLE kept (n INTEGER)"))
        futures = [writer.submit(insert(0), key=key)]
        await asyncio.to_thread(started.wait, 30)
        futures += [writer.submit(insert(n, fail=n == 2), key=key) for n in (1, 2, 3)]
        release.set()
        first, one = [await asyncio.wrap_future(f) for f in futures[:2]]
        with pytest.raises(StorageError, match="division by zero"):
            await asyncio.wrap_future(futures[2])
        three = await asyncio.wrap_future(futures[3])
        rows = await writer.run(lambda c: c.execute("SELECT n FROM kept ORDER BY n").fetchall())
    finally:
        await asyncio.to_thread(writer.close)
    assert [r[0] for r in rows] == [0, 1, 3]
    assert one == three != first


async def test_a_deadlock_in_a_shared_transaction_runs_each_operation_alone(pg_url: str) -> None:
    """A deadlock in a key's shared transaction rolls it back; each operation then runs alone."""
    import psycopg

    writer = PostgresWriter(pg_url)
    started, release = threading.Event(), threading.Event()
    key = ("oa", 1, "@TOA#_y")
    runs = [0, 0, 0, 0]

    def insert(n: int) -> Any:
        def op(conn: Any) -> int:
            runs[n] += 1
            if n == 0:
                started.set()
                release.wait(30)  # the others queue meanwhile
            conn.execute("INSERT INTO kept (n) VALUES (?)", (n,))
            if n == 2 and runs[n] == 1:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            return _txid(conn)

        return op

    try:
        await writer.run(lambda c: c.execute("CREATE TABLE kept (n INTEGER)"))
        futures = [writer.submit(insert(0), key=key)]
        await asyncio.to_thread(started.wait, 30)
        futures += [writer.submit(insert(n), key=key) for n in (1, 2, 3)]
        release.set()
        ids = [await asyncio.wrap_future(f) for f in futures]
        rows = await writer.run(lambda c: c.execute("SELECT n FROM kept ORDER BY n").fetchall())
    finally:
        await asyncio.to_thread(writer.close)
    assert [r[0] for r in rows] == [0, 1, 2, 3]
    assert len(set(ids[1:])) == 3  # 1, 2 and 3 ran alone after the shared try
    assert runs == [1, 2, 2, 1]  # 3 had not run yet when 2 met the deadlock
