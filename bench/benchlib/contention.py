"""g. Mixed contention: many clients adding and removing subscribers and group members on a few
Official Accounts and groups at once, on SQLite and on PostgreSQL with one or several processes.

Each configuration gets a fresh database (an SQLite file, or a fresh PostgreSQL schema dropped
afterwards), the same seeded sequence of calls, and the same checks: the answers counted by
ErrorCode, and every counter equal to its rows at the end.
"""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from benchlib import prefill
from benchlib.procs import BENCH, HOST, PYTHON, CpuWindow, Proc, free_port, run_json
from benchlib.results import Bar, Section
from benchlib.scenarios import TOKEN, Bench, _need, _order, _scenario

APP_ID = prefill.APP_ID
POOL = [f"mix{i:03d}" for i in range(100)]
LIMIT = 80  # MaxSubscriberNum and MaxMemberCount: a group is full now and then (10014)
OAS = ("@TOA#_mix1", "@TOA#_mix2")
GROUPS = ("mix-group-1", "mix-group-2")
CALLS_IN_FILE = 5_000  # the load generator cycles through them
BUSINESS = {"0", "10014"}  # OK, and a full group: what this load may answer


@dataclass(frozen=True)
class Config:
    """One way to run the server: backend, REST processes and dispatching workers."""

    key: str
    label: str
    postgres: bool
    servers: int
    workers: int  # 0: the servers dispatch themselves


CONFIGS = (
    Config("sqlite", "SQLite, 1 serve", postgres=False, servers=1, workers=0),
    Config("pg1", "PostgreSQL, 1 serve", postgres=True, servers=1, workers=0),
    Config("pg2", "PostgreSQL, 2 serve + 2 worker", postgres=True, servers=2, workers=2),
)


def mixed_contention(b: Bench) -> Section:
    """g. Mixed add/remove of subscribers and members: SQLite, PostgreSQL x1, PostgreSQL x2+2."""
    s = b.s
    sec = Section(
        "g",
        f"Mixed contention: {s.contention_clients} clients adding and removing subscribers "
        "and members",
    )
    sec.method = [
        "Configurations: `timhooks serve` on SQLite; `timhooks serve` on PostgreSQL; two "
        "`timhooks serve --no-dispatch` and two `timhooks worker` on one PostgreSQL database "
        "(the load spread over both servers). Each run starts them fresh on a fresh database "
        "(a new SQLite file, or a new PostgreSQL schema, dropped afterwards), with every "
        "webhook on and sent to bench/bare_app.py (before-webhooks allow, after-webhooks are "
        "dispatched during the load).",
        f"Set-up through the REST API: {len(POOL)} accounts, 2 Official Accounts "
        f"(MaxSubscriberNum {LIMIT}) and 2 Public groups (MaxMemberCount {LIMIT}), each "
        f"holding {LIMIT // 2} of the accounts to begin with.",
        f"Load: bench/loadgen.py, {s.contention_clients} keep-alive connections, closed loop, "
        f"{s.warmup:g} s warm-up then {s.contention_seconds:g} s measured, cycling through "
        f"{CALLS_IN_FILE:,} seeded random calls: add_subscriber, delete_subscriber, "
        "add_group_member or delete_group_member (a quarter each) of 1 to 5 accounts of the "
        "pool in random order, on one of the 4 targets at random.",
        "Answers are counted by ErrorCode: 0, and 10014 (a full group) are what this load "
        "may answer; 10002 is a storage failure (on PostgreSQL a deadlock that was not "
        "resolved). Log lines naming a deadlock are counted in the servers' and workers' "
        "logs (a deadlock PostgreSQL broke and timhooks ran again, or one that failed).",
        "Checked after each run: every Official Account's subscriber_num and every group's "
        "member_num equals its rows. PostgreSQL's own CPU counts as other processes' CPU.",
    ]
    with _scenario(sec, b.say):
        configs = [c for c in CONFIGS if s.pg_url or not c.postgres]
        if not s.pg_url:
            sec.notes.append(
                "The PostgreSQL configurations were skipped: no database (`--pg URL`, or "
                "TEST_POSTGRES_URL)."
            )
        for run in range(s.runs):
            for key in _order(run, [c.key for c in configs]):
                config = next(c for c in configs if c.key == key)
                _measure(b, sec, config, run)
        for config in configs:
            sec.bars.append(
                Bar(
                    f"{config.label}: p99 under mixed contention",
                    sec.figure(f"{config.label}: p99 latency", "ms", 1),
                    1000.0,
                    False,
                )
            )
    return sec


def _measure(b: Bench, sec: Section, config: Config, run: int) -> None:
    s = b.s
    work = b.workdir(f"g-{config.key}")
    with _database(b, config, work) as db:
        bare = b.bare()
        servers = [
            _serve(b, db, bare, n, dispatch=config.workers == 0) for n in range(config.servers)
        ]
        workers = [_worker(b, db, n) for n in range(config.workers)]
        procs = servers + workers
        sig = prefill.admin_usersig()
        _set_up(servers[0], sig)
        calls = _calls(work / "calls.jsonl", sig, random.Random(run))
        argv = [PYTHON, str(BENCH / "loadgen.py"), *(p.url + "/" for p in servers)]
        argv += ["--app-id", str(APP_ID), "--requests-file", str(calls), "--cycle", "--codes"]
        argv += ["--connections", str(s.contention_clients), "--warmup", str(s.warmup)]
        argv += ["--duration", str(s.contention_seconds)]
        with CpuWindow(procs) as window:
            result = run_json(argv, timeout=s.contention_seconds + s.warmup + 120, cwd=b.root)
        for proc in procs:
            proc.check_alive()
        _check_counters(db, config)
        for proc in [*procs, bare]:
            b.procs.stop(proc)
        deadlocks = sum(_log_count(p.log, "deadlock detected") for p in procs)
    label = config.label
    codes: dict[str, int] = result.get("codes", {})
    sec.figure(f"{label}: calls/s", "calls/s", 0).add(result["rps"])
    sec.figure(f"{label}: p50 latency", "ms", 1).add(result["p50_ms"])
    sec.figure(f"{label}: p99 latency", "ms", 1).add(result["p99_ms"])
    sec.figure(f"{label}: answers with ErrorCode 10002", "answers", 0).add(codes.get("10002", 0))
    sec.figure(f"{label}: answers with ErrorCode 10014 (group full)", "answers", 0).add(
        codes.get("10014", 0)
    )
    other = sum(n for code, n in codes.items() if code not in BUSINESS and code != "10002")
    sec.figure(f"{label}: answers with any other non-zero ErrorCode", "answers", 0).add(other)
    sec.figure(f"{label}: failed HTTP requests", "requests", 0).add(result["errors"])
    sec.figure(f"{label}: log lines naming a deadlock", "lines", 0).add(deadlocks)
    sec.figure(f"{label}: timhooks CPU (all its processes)", "cores", 2).add(
        sum(window.cores(p.name) for p in procs)
    )
    sec.figure(f"{label}: other processes' CPU (PostgreSQL included)", "cores", 2).add(
        window.other_cores
    )
    by_code = ", ".join(f"{code}: {n:,}" for code, n in sorted(codes.items()))
    sec.notes.append(f"run {run + 1}, {label}: answers by ErrorCode {{{by_code}}}.")
    b.say(
        f"  run {run + 1} {label}: {result['rps']:.0f} calls/s, p99 {result['p99_ms']:.0f} ms, "
        f"codes {by_code}"
    )


@contextlib.contextmanager
def _database(b: Bench, config: Config, work: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh PostgreSQL schema dropped at the end."""
    if not config.postgres:
        yield str(work / "server.db")
        return
    import psycopg

    base = b.s.pg_url
    assert base is not None
    schema = f"bench_g_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in base else "?"
    try:
        yield f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        b.procs.stop_all()  # nothing may hold the schema while it is dropped
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _serve(b: Bench, db: str, bare: Proc, n: int, *, dispatch: bool) -> Proc:
    port = free_port()
    argv = [PYTHON, "-m", "timhooks", "serve", "--db", db, "--app-id", str(APP_ID)]
    argv += ["--key", prefill.KEY, "--host", HOST, "--port", str(port)]
    argv += ["--callback-url", bare.url + "/", "--callback-token", TOKEN]
    if not dispatch:
        argv.append("--no-dispatch")
    return b.procs.start(f"serve-{n + 1}", argv, port=port)


def _worker(b: Bench, db: str, n: int) -> Proc:
    argv = [PYTHON, "-m", "timhooks", "worker", "--db", db]
    return b.procs.start(f"worker-{n + 1}", argv, port=None)


def _target(command: str, sig: str) -> str:
    return (
        f"/v4/{command}?sdkappid={APP_ID}&identifier={prefill.ADMIN}&usersig={quote(sig)}"
        "&contenttype=json"
    )


def _set_up(server: Proc, sig: str) -> None:
    """The accounts, Official Accounts and groups, half full, through the REST API."""
    half = POOL[: LIMIT // 2]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("im_open_login_svc/multiaccount_import", {"AccountList": ["mixowner", *POOL[:50]]}),
        ("im_open_login_svc/multiaccount_import", {"AccountList": POOL[50:]}),
    ]
    for oa in OAS:
        calls.append(
            (
                "official_account_open_http_svc/create_official_account",
                {
                    "Owner_Account": "mixowner",
                    "Name": oa,
                    "OfficialAccountUserID": oa,
                    "MaxSubscriberNum": LIMIT,
                },
            )
        )
        calls.append(
            (
                "official_account_open_http_svc/add_subscriber",
                {
                    "Official_Account": oa,
                    "SubscriberList": [{"Subscriber_Account": u} for u in half],
                },
            )
        )
    for group in GROUPS:
        calls.append(
            (
                "group_open_http_svc/create_group",
                {
                    "Owner_Account": "mixowner",
                    "Type": "Public",
                    "Name": group,
                    "GroupId": group,
                    "MaxMemberCount": LIMIT,
                },
            )
        )
        calls.append(
            (
                "group_open_http_svc/add_group_member",
                {"GroupId": group, "MemberList": [{"Member_Account": u} for u in half[1:]]},
            )
        )
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for command, body in calls:
            answer = http.post(_target(command, sig), json=body).json()
            _need(answer.get("ErrorCode") == 0, f"set-up {command} failed: {answer}")


def _calls(path: Path, sig: str, rng: random.Random) -> Path:
    """The seeded random calls, as loadgen's requests file (tagged by command)."""
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(CALLS_IN_FILE):
            users = rng.sample(POOL, rng.randint(1, 5))
            kind = rng.randrange(4)
            if kind == 0:
                oa = rng.choice(OAS)
                command = "official_account_open_http_svc/add_subscriber"
                body: dict[str, Any] = {
                    "Official_Account": oa,
                    "SubscriberList": [{"Subscriber_Account": u} for u in users],
                }
            elif kind == 1:
                command = "official_account_open_http_svc/delete_subscriber"
                body = {"Official_Account": rng.choice(OAS), "SubscriberToDel_Account": users}
            elif kind == 2:
                command = "group_open_http_svc/add_group_member"
                body = {
                    "GroupId": rng.choice(GROUPS),
                    "MemberList": [{"Member_Account": u} for u in users],
                }
            else:
                command = "group_open_http_svc/delete_group_member"
                body = {"GroupId": rng.choice(GROUPS), "MemberToDel_Account": users}
            item = {"target": _target(command, sig), "body": json.dumps(body), "tag": command}
            fh.write(json.dumps(item) + "\n")
    return path


_COUNTERS = (
    "SELECT o.oa_id, o.subscriber_num, (SELECT COUNT(*) FROM subscribers s"
    " WHERE s.sdk_app_id = o.sdk_app_id AND s.oa_id = o.oa_id) FROM official_accounts o",
    "SELECT g.group_id, g.member_num, (SELECT COUNT(*) FROM group_members m"
    " WHERE m.sdk_app_id = g.sdk_app_id AND m.group_id = g.group_id) FROM groups g",
)


def _check_counters(db: str, config: Config) -> None:
    """Every subscriber_num and member_num equals its rows, and none passes its limit."""
    rows: list[Any] = []
    if config.postgres:
        import psycopg

        with psycopg.connect(db) as conn:
            for sql in _COUNTERS:
                rows += conn.execute(sql).fetchall()
    else:
        lite = prefill.read_only(Path(db))
        try:
            for sql in _COUNTERS:
                rows += lite.execute(sql).fetchall()
        finally:
            lite.close()
    _need(len(rows) == len(OAS) + len(GROUPS), f"{config.label}: targets missing: {rows}")
    for target, counter, count in rows:
        _need(
            counter == count <= LIMIT,
            f"{config.label}: {target} counts {counter} but has {count} rows",
        )


def _log_count(log: Path, text: str) -> int:
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace").count(text)
    return 0
