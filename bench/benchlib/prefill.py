"""Databases filled directly in SQL, in one transaction each, before a server opens them.

The tables are the Chat backend's own (created by its ``ServerStore``); outbox bodies are built from
the event models exactly as the server builds them (``domain.emit``), so the dispatcher sends
what it would send in production.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.usersig import generate_usersig
from timhooks.server.store import ServerStore

APP_ID = 1400000123
KEY = "timhooks-bench-secret-key-0123456789abcdef"
TOKEN = "timhooks-bench-token"  # noqa: S105 (a fixed token of the local benchmark app)
ADMIN = "administrator"

_encoder = msgspec.json.Encoder()


def admin_usersig(app_id: int = APP_ID, key: str = KEY) -> str:
    """A fresh UserSig of the app's admin."""
    return generate_usersig(app_id, key, ADMIN, now=int(time.time()))


def open_server_db(path: Path) -> sqlite3.Connection:
    """A new server database with its schema; the caller fills it in one transaction.

    The schema comes from the server's own store (its migrations), so it is always current.
    """
    asyncio.run(ServerStore(path).close())
    return sqlite3.connect(path, isolation_level=None)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Fold the pre-fill's WAL into the database, so the server does not pay for it later."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def commit_latency(directory: Path, commits: int = 100) -> tuple[float, float]:
    """p50 and p99 (ms) of one-row commits in WAL mode with synchronous=FULL, as the stores
    commit: what every durable write on this filesystem waits for at least."""
    path = directory / "commit-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        times = []
        for i in range(commits):
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    times.sort()
    return times[len(times) // 2] * 1000, times[min(len(times) - 1, int(0.99 * len(times)))] * 1000


def group_full_body(n: str, now: float) -> bytes:
    """A unique Group.CallbackAfterGroupFull body as the server encodes it."""
    event = ev.AfterGroupFull(
        callback_command=ev.AfterGroupFull.command,
        event_time=int(now * 1000),
        group_id=f"@TGS#bench{n}",
    )
    return _encoder.encode(event.to_wire())


def outbox(path: Path, rows: int, *, seed: str, app_id: int = APP_ID) -> list[bytes]:
    """A server database whose outbox holds ``rows`` pending after-webhooks; their bodies."""
    now = time.time()
    bodies = [group_full_body(f"{seed}-{i}", now) for i in range(rows)]
    conn = open_server_db(path)
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip, opt_platform,"
            " status, attempts, next_attempt_at, created_at)"
            " VALUES (?, ?, 'after', ?, '127.0.0.1', 'RESTAPI', 'pending', 0, ?, ?)",
            ((app_id, ev.AfterGroupFull.command, body, now, now) for body in bodies),
        )
        conn.execute("COMMIT")
        _checkpoint(conn)
    finally:
        conn.close()
    return bodies


def _accounts(conn: sqlite3.Connection, users: Iterable[str], app_id: int, now: float) -> None:
    conn.executemany(
        "INSERT INTO accounts (sdk_app_id, user_id, created_at) VALUES (?, ?, ?)",
        ((app_id, u, now) for u in users),
    )


def pool_user(i: int) -> str:
    """The i-th user the measured calls add (imported, subscribed to nothing)."""
    return f"u{i}"


def prefilled_user(i: int) -> str:
    """The i-th user already subscribed or already a member before the measured calls."""
    return f"s{i}"


@dataclass(frozen=True)
class RestWorld:
    """What ``rest_world`` created: per run an empty and a large OA, groups of each kind."""

    empty_oa: list[str]
    large_oa: list[str]
    empty_groups: list[list[str]]
    large_groups: list[list[str]]
    warm_oa: str = "@TOA#_warm"
    warm_group: str = "bench_warm"


def rest_world(
    path: Path,
    *,
    runs: int,
    pool: int,
    oa_size: int,
    groups_per_run: int,
    group_size: int,
    group_max: int,
    app_id: int = APP_ID,
) -> RestWorld:
    """Accounts, Official Accounts and groups for the REST scenarios, in one transaction.

    ``pool`` users are imported for the measured calls; ``oa_size`` more are the subscribers of
    each large OA (subscriber_num kept equal to the rows) and, the first ``group_size`` of them,
    the members of each large group (owner first).
    """
    now = time.time()
    world = RestWorld(
        empty_oa=[f"@TOA#_empty{r}" for r in range(runs)],
        large_oa=[f"@TOA#_large{r}" for r in range(runs)],
        empty_groups=[[f"bench_e{r}_{g}" for g in range(groups_per_run)] for r in range(runs)],
        large_groups=[[f"bench_l{r}_{g}" for g in range(groups_per_run)] for r in range(runs)],
    )
    conn = open_server_db(path)
    try:
        conn.execute("BEGIN")
        _accounts(conn, (pool_user(i) for i in range(pool)), app_id, now)
        _accounts(conn, (prefilled_user(i) for i in range(max(oa_size, group_size))), app_id, now)
        oas = [(oa, 0) for oa in (*world.empty_oa, world.warm_oa)]
        oas += [(oa, oa_size) for oa in world.large_oa]
        conn.executemany(
            "INSERT INTO official_accounts (sdk_app_id, oa_id, owner, name, max_subscriber_num,"
            " subscriber_num, create_time) VALUES (?, ?, ?, ?, 100000000, ?, ?)",
            ((app_id, oa, prefilled_user(0), oa, size, int(now)) for oa, size in oas),
        )
        for oa in world.large_oa:
            conn.executemany(
                "INSERT INTO subscribers (sdk_app_id, oa_id, user_id, subscribe_time)"
                " VALUES (?, ?, ?, ?)",
                ((app_id, oa, prefilled_user(i), int(now)) for i in range(oa_size)),
            )
        groups = [(g, 0) for run in world.empty_groups for g in run] + [(world.warm_group, 0)]
        groups += [(g, group_size) for run in world.large_groups for g in run]
        conn.executemany(
            "INSERT INTO groups (sdk_app_id, group_id, type, name, owner, max_member_count,"
            " member_num, apply_join_option, create_time)"
            " VALUES (?, ?, 'Public', ?, ?, ?, ?, 'NeedPermission', ?)",
            (
                (app_id, g, g, prefilled_user(0) if size else "", group_max, size, int(now))
                for g, size in groups
            ),
        )

        def members(group: str) -> Iterator[tuple[int, str, str, str, int]]:
            yield app_id, group, prefilled_user(0), "Owner", int(now)
            for i in range(1, group_size):
                yield app_id, group, prefilled_user(i), "Member", int(now)

        for run in world.large_groups:
            for group in run:
                conn.executemany(
                    "INSERT INTO group_members (sdk_app_id, group_id, user_id, role, join_time)"
                    " VALUES (?, ?, ?, ?, ?)",
                    members(group),
                )
        conn.execute("COMMIT")
        _checkpoint(conn)
    finally:
        conn.close()
    return world


def accounts_db(path: Path, users: int, *, app_id: int = APP_ID) -> None:
    """A server database with ``users`` imported accounts (``pool_user`` names)."""
    conn = open_server_db(path)
    try:
        conn.execute("BEGIN")
        _accounts(conn, (pool_user(i) for i in range(users)), app_id, time.time())
        conn.execute("COMMIT")
        _checkpoint(conn)
    finally:
        conn.close()


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database another process is writing."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def scalar(path: Path, sql: str, *params: object) -> int:
    """One integer from a read-only query."""
    conn = read_only(path)
    try:
        row = conn.execute(sql, params).fetchone()
        return int(row[0] or 0)
    finally:
        conn.close()
