"""timhooks' tables as the benchmarks fill and read them: the one module that knows their layout.

The schema is timhooks' own, made by its public CLI (``timhooks db upgrade --create``), so it is
always current. The fills then write rows straight into the tables, in one transaction each,
before a server opens the database: 100,000 subscribers or 20,000 pending after-webhooks take
seconds this way, where the REST API would take minutes. The reads are the checks that what a
scenario claims really happened (rows stored, delivered, counted).

When timhooks changes a table, this module is the one place to update.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import math
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchlib.calls import APP_ID, group_full_body, pool_user, prefilled_user
from benchlib.procs import PYTHON, BenchError
from timhooks.protocol.events import AfterGroupFull
from timhooks.storage import is_postgres, sqlite_path


class _Db:
    """A connection to a server database on SQLite or PostgreSQL, with its placeholder."""

    def __init__(self, url: str | Path, *, read_only: bool = False) -> None:
        self.postgres = is_postgres(url)
        self.conn: Any
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(str(url), autocommit=True)
            self.mark = "%s"
        elif read_only:
            # Another process may be writing: a read-only connection never holds it up.
            self.conn = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True, timeout=10)
            self.mark = "?"
        else:
            self.conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
            self.mark = "?"

    def marks(self, n: int) -> str:
        """``n`` placeholders, comma-separated."""
        return ", ".join([self.mark] * n)

    def rows(self, sql: str, *params: object) -> list[Any]:
        """Every row of a query."""
        return list(self.conn.execute(sql, params).fetchall())

    def scalar(self, sql: str, *params: object) -> int:
        """One integer (0 for NULL)."""
        return int(self.rows(sql, *params)[0][0] or 0)

    def insert(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Insert many rows with one statement."""
        if self.postgres:
            with self.conn.cursor() as cur:
                cur.executemany(sql, list(rows))
        else:
            self.conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; on SQLite, its WAL folded into the database afterwards so the
        server does not pay for the fill later."""
        if self.postgres:
            with self.conn.transaction():
                yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


@contextlib.contextmanager
def _open(url: str | Path, *, read_only: bool = True) -> Iterator[_Db]:
    db = _Db(url, read_only=read_only)
    try:
        yield db
    finally:
        db.close()


def _upgrade(url: str | Path) -> None:
    argv = [PYTHON, "-m", "timhooks", "db", "upgrade", "--db", str(url)]
    argv += ["--component", "server", "--create", "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"timhooks db upgrade failed ({done.returncode}): {done.stderr[-2000:]}")


@functools.cache
def _sqlite_template() -> Path:
    """An empty SQLite server database made once per harness process, copied for each new one
    (the CLI's start-up costs more than the copy)."""
    directory = Path(tempfile.mkdtemp(prefix="timhooks-bench-schema-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "server.db"
    _upgrade(path)
    return path


def create_server_db(url: str | Path) -> None:
    """Create the Chat backend's schema at ``url`` (or bring it up to date) with its CLI."""
    if is_postgres(url) or Path(sqlite_path(url)).exists():
        _upgrade(url)
    else:
        shutil.copyfile(_sqlite_template(), sqlite_path(url))


@contextlib.contextmanager
def _filling(url: str | Path) -> Iterator[_Db]:
    """A new server database with its schema, filled in one transaction.

    On PostgreSQL the tables are analyzed afterwards, as autovacuum has analyzed them by the
    time a server holds that many rows (its queue tables after every 1,000 changes:
    ``QUEUE_STATISTICS``, src/timhooks/workqueue/claims.py): the scenarios measure a server
    working on what it holds, not the planner's first guess about a table it never analyzed.
    """
    create_server_db(url)
    with _open(url, read_only=False) as db:
        with db.transaction():
            yield db
        if db.postgres:
            db.conn.execute("ANALYZE")


# --- fills ---------------------------------------------------------------------------------------


def fill_outbox(url: str | Path, rows: int, *, seed: str, app_id: int = APP_ID) -> list[bytes]:
    """A server database whose outbox holds ``rows`` pending after-webhooks; their bodies.

    The bodies are encoded from the event model as the server encodes them, so the dispatcher
    sends what it would send in production.
    """
    now = time.time()
    bodies = [group_full_body(f"{seed}-{i}", now) for i in range(rows)]
    with _filling(url) as db:
        db.insert(
            "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip, opt_platform,"
            " status, attempts, next_attempt_at, created_at)"
            f" VALUES ({db.mark}, {db.mark}, 'after', {db.mark}, '127.0.0.1', 'RESTAPI',"
            f" 'pending', 0, {db.mark}, {db.mark})",
            ((app_id, AfterGroupFull.command, body, now, now) for body in bodies),
        )
    return bodies


def _accounts(db: _Db, users: Iterable[str], app_id: int, now: float) -> None:
    db.insert(
        f"INSERT INTO accounts (sdk_app_id, user_id, created_at) VALUES ({db.marks(3)})",
        ((app_id, u, now) for u in users),
    )


def fill_accounts(path: Path, users: int, *, app_id: int = APP_ID) -> None:
    """A server database with ``users`` imported accounts (``pool_user`` names)."""
    with _filling(path) as db:
        _accounts(db, (pool_user(i) for i in range(users)), app_id, time.time())


@dataclass(frozen=True)
class RestWorld:
    """What ``fill_rest_world`` created: per run an empty and a large OA, groups of each kind."""

    empty_oa: list[str]
    large_oa: list[str]
    empty_groups: list[list[str]]
    large_groups: list[list[str]]
    warm_oa: str = "@TOA#_warm"
    warm_group: str = "bench_warm"


def fill_rest_world(
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
    with _filling(path) as db:
        _accounts(db, (pool_user(i) for i in range(pool)), app_id, now)
        _accounts(db, (prefilled_user(i) for i in range(max(oa_size, group_size))), app_id, now)
        oas = [(oa, 0) for oa in (*world.empty_oa, world.warm_oa)]
        oas += [(oa, oa_size) for oa in world.large_oa]
        db.insert(
            "INSERT INTO official_accounts (sdk_app_id, oa_id, owner, name, max_subscriber_num,"
            f" subscriber_num, create_time) VALUES ({db.marks(4)}, 100000000, {db.marks(2)})",
            ((app_id, oa, prefilled_user(0), oa, size, int(now)) for oa, size in oas),
        )
        for oa in world.large_oa:
            db.insert(
                "INSERT INTO subscribers (sdk_app_id, oa_id, user_id, subscribe_time)"
                f" VALUES ({db.marks(4)})",
                ((app_id, oa, prefilled_user(i), int(now)) for i in range(oa_size)),
            )
        groups = [(g, 0) for run in world.empty_groups for g in run] + [(world.warm_group, 0)]
        groups += [(g, group_size) for run in world.large_groups for g in run]
        db.insert(
            "INSERT INTO groups (sdk_app_id, group_id, type, name, owner, max_member_count,"
            f" member_num, apply_join_option, create_time) VALUES ({db.marks(2)}, 'Public',"
            f" {db.marks(4)}, 'NeedPermission', {db.mark})",
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
                db.insert(
                    "INSERT INTO group_members (sdk_app_id, group_id, user_id, role, join_time)"
                    f" VALUES ({db.marks(5)})",
                    members(group),
                )
    return world


@contextlib.contextmanager
def postgres_schema(base: str, prefix: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database ``base``, dropped at the end; the URL that
    puts it first on the search path."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in base else "?"
    try:
        yield f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- reads ---------------------------------------------------------------------------------------


def inbox_rows(path: Path) -> int:
    """Webhooks a receiver's inbox holds."""
    with _open(path) as db:
        return db.scalar("SELECT COUNT(*) FROM inbox")


def pending_inbox(path: Path) -> int:
    """Webhooks in a receiver's inbox whose handlers have not run yet."""
    with _open(path) as db:
        return db.scalar("SELECT COUNT(*) FROM inbox WHERE status = 'pending'")


def inbox_bodies(path: Path) -> list[bytes]:
    """The body of every webhook a receiver's inbox holds."""
    with _open(path) as db:
        return [bytes(body) for (body,) in db.rows("SELECT body FROM inbox")]


def pending_outbox(url: str | Path) -> int:
    """After-webhooks a server's outbox still has to deliver."""
    with _open(url) as db:
        return db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND phase = 'after'")


def delivered_outbox(path: Path) -> int:
    """After-webhooks a server has delivered."""
    with _open(path) as db:
        return db.scalar(
            "SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND phase = 'after'"
        )


def after_webhooks(path: Path) -> int:
    """After-webhooks a server has put in its outbox (delivered or not)."""
    with _open(path) as db:
        return db.scalar("SELECT COUNT(*) FROM outbox WHERE phase = 'after'")


def outbox_statuses(path: Path) -> dict[str, int]:
    """The outbox's rows by status."""
    with _open(path) as db:
        return {
            str(status): int(n)
            for status, n in db.rows("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        }


def before_webhooks(path: Path, command: str) -> int:
    """Before-webhooks of ``command`` a server has recorded."""
    with _open(path) as db:
        return db.scalar(
            f"SELECT COUNT(*) FROM outbox WHERE phase = 'before' AND command = {db.mark}", command
        )


def delivery_stats(path: str | Path) -> dict[str, Any]:
    """Rate and latency of the after-webhook attempts a server recorded (read after it stopped).

    The rate counts successful attempts between the start of the first attempt and the end of
    the last one, so the server's start-up is not in it.
    """
    with _open(path) as db:
        first, last, attempts, ok, busy = db.rows(
            "SELECT MIN(a.at), MAX(a.at + a.latency_ms / 1000.0), COUNT(*),"
            " SUM(CASE WHEN a.error IS NULL THEN 1 ELSE 0 END), SUM(a.latency_ms) / 1000.0"
            " FROM attempts a JOIN outbox o ON o.id = a.outbox_id WHERE o.phase = 'after'"
        )[0]
        lat = sorted(
            r[0]
            for r in db.rows(
                "SELECT a.latency_ms FROM attempts a JOIN outbox o ON o.id = a.outbox_id"
                " WHERE o.phase = 'after' AND a.error IS NULL"
            )
        )
        errors = [
            r[0]
            for r in db.rows(
                "SELECT DISTINCT a.error FROM attempts a WHERE a.error IS NOT NULL LIMIT 3"
            )
        ]
    span = (last - first) if attempts else 0.0
    ok = int(ok or 0)

    def pick(q: float) -> float:
        return float(lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else math.nan

    return {
        "attempts": int(attempts or 0),
        "ok": ok,
        "failed": int(attempts or 0) - ok,
        "rate": ok / span if span > 0 else math.nan,
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "seconds": span,
        # Attempts in flight on average: the concurrency the dispatcher kept up.
        "in_flight": (busy or 0.0) / span if span > 0 else math.nan,
        "errors": "; ".join(str(e) for e in errors),
    }


def oa_subscribers(path: Path, oa: str) -> tuple[int, int]:
    """An Official Account's subscriber_num and its subscriber rows."""
    with _open(path) as db:
        num = db.scalar(f"SELECT subscriber_num FROM official_accounts WHERE oa_id = {db.mark}", oa)
        rows = db.scalar(f"SELECT COUNT(*) FROM subscribers WHERE oa_id = {db.mark}", oa)
    return num, rows


def group_members(path: Path, group: str) -> tuple[int, int]:
    """A group's member_num and its member rows."""
    with _open(path) as db:
        num = db.scalar(f"SELECT member_num FROM groups WHERE group_id = {db.mark}", group)
        rows = db.scalar(f"SELECT COUNT(*) FROM group_members WHERE group_id = {db.mark}", group)
    return num, rows


def group_count(path: Path) -> int:
    """How many groups the server database holds."""
    with _open(path) as db:
        return db.scalar("SELECT COUNT(*) FROM groups")


_COUNTERS = (
    "SELECT o.oa_id, o.subscriber_num, (SELECT COUNT(*) FROM subscribers s"
    " WHERE s.sdk_app_id = o.sdk_app_id AND s.oa_id = o.oa_id) FROM official_accounts o",
    "SELECT g.group_id, g.member_num, (SELECT COUNT(*) FROM group_members m"
    " WHERE m.sdk_app_id = g.sdk_app_id AND m.group_id = g.group_id) FROM groups g",
)


def counters(url: str | Path) -> list[tuple[str, int, int]]:
    """Every Official Account and group: its id, its counter (subscriber_num or member_num) and
    its rows."""
    with _open(url) as db:
        return [(str(t), int(c), int(n)) for sql in _COUNTERS for t, c, n in db.rows(sql)]
