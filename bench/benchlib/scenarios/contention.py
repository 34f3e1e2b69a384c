"""g. Mixed contention: many clients adding and removing subscribers and group members on a few
Official Accounts and groups at once, on SQLite and on PostgreSQL with one or several processes.

Each configuration gets a fresh database (an SQLite file, or a fresh PostgreSQL schema dropped
afterwards), the same seeded sequence of calls, and the same checks: the answers counted by
ErrorCode, and every counter equal to its rows at the end.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchlib import tables
from benchlib.calls import admin_usersig, rest_call, rest_target, write_lines
from benchlib.cpu import CpuWindow
from benchlib.harness import Bench, need, order, scenario
from benchlib.results import Bar, Section

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
    sec.sizes = (
        f"{s.contention_clients} connections, {s.warmup:g} s warm-up, "
        f"{s.contention_seconds:g} s measured"
    )
    with scenario(sec, b.say):
        configs = [c for c in CONFIGS if s.pg_url or not c.postgres]
        if not s.pg_url:
            sec.notes.append(
                "The PostgreSQL configurations were skipped: no database (`--pg URL`, or "
                "TEST_POSTGRES_URL)."
            )
        for run in range(s.runs):
            for key in order(run, [c.key for c in configs]):
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
            b.serve(
                db, callback=bare.url + "/", name=f"serve-{n + 1}", dispatch=config.workers == 0
            )
            for n in range(config.servers)
        ]
        workers = [b.worker(db, name=f"worker-{n + 1}") for n in range(config.workers)]
        procs = servers + workers
        sig = admin_usersig()
        _set_up(servers[0].url, sig)
        calls = _calls(work / "calls.jsonl", sig, random.Random(run))
        with CpuWindow(procs) as window:
            result = b.loadgen(
                [p.url + "/" for p in servers],
                "--requests-file",
                str(calls),
                "--cycle",
                "--codes",
                "--connections",
                str(s.contention_clients),
                "--warmup",
                str(s.warmup),
                "--duration",
                str(s.contention_seconds),
                timeout=s.contention_seconds + s.warmup + 120,
            )
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
    base = b.s.pg_url
    need(base is not None, f"{config.label}: no PostgreSQL database (--pg URL)")
    with tables.postgres_schema(str(base), "bench_g") as url:
        try:
            yield url
        finally:
            b.procs.stop_all()  # nothing may hold the schema while it is dropped


def _set_up(server: str, sig: str) -> None:
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
    with httpx.Client(base_url=server, timeout=60) as http:
        for command, body in calls:
            answer = http.post(rest_target(command, sig, nonce=False), json=body).json()
            need(answer.get("ErrorCode") == 0, f"set-up {command} failed: {answer}")


def _call(rng: random.Random, sig: str) -> dict[str, str]:
    """One seeded random call, tagged by its command."""
    users = rng.sample(POOL, rng.randint(1, 5))
    kind = rng.randrange(4)
    if kind == 0:
        command = "official_account_open_http_svc/add_subscriber"
        body: dict[str, Any] = {
            "Official_Account": rng.choice(OAS),
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
    return rest_call(command, sig, body, tag=command, nonce=False)


def _calls(path: Path, sig: str, rng: random.Random) -> Path:
    """The seeded random calls, as loadgen's requests file."""
    return write_lines(path, (_call(rng, sig) for _ in range(CALLS_IN_FILE)))


def _check_counters(db: str, config: Config) -> None:
    """Every subscriber_num and member_num equals its rows, and none passes its limit."""
    rows = tables.counters(db)
    need(len(rows) == len(OAS) + len(GROUPS), f"{config.label}: targets missing: {rows}")
    for target, counter, count in rows:
        need(
            counter == count <= LIMIT,
            f"{config.label}: {target} counts {counter} but has {count} rows",
        )


def _log_count(log: Path, text: str) -> int:
    with contextlib.suppress(OSError):
        return log.read_text(errors="replace").count(text)
    return 0
