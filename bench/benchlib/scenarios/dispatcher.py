"""c: the outbox dispatcher of `timhooks serve` draining a pre-filled outbox, next to plain
client loops posting the same requests, and end to end to `timhooks listen`; and its profile."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from benchlib import tables
from benchlib.calls import group_full_body, signed_after_query, write_lines
from benchlib.cpu import CpuWindow
from benchlib.harness import Bench, need, no_errors, order, scenario, wait_for
from benchlib.procs import BENCH, PYTHON, BenchError, Proc, run_json
from benchlib.profiles import ProfileRun, Recorder
from benchlib.results import Bar, Section, ratio

TO_BARE = "dispatcher -> bare"
FLOOR = "outbox floor (bench/outbox_floor.py) -> bare"
TO_LISTEN = "dispatcher -> timhooks listen"
IN_FLIGHT = "attempts in flight (average, of 32)"


def dispatcher_throughput(b: Bench) -> Section:
    """c. The outbox dispatcher of `timhooks serve`, vs plain client loops, and end to end."""
    s = b.s
    sec = Section("c", "Dispatcher: after-webhooks delivered from the outbox")
    sec.sizes = (
        f"{s.outbox_rows:,} pending after-webhooks per drain, stopped after {s.drain_cap:g} s; "
        f"{s.connections} requests in flight for the client loops, the httpx loop for "
        f"{s.yardstick_cap:g} s"
    )
    with scenario(sec, b.say):
        serve_loop = "asyncio"
        for run in range(s.runs):
            rates: dict[str, float] = {}
            bare = b.bare()
            for side in order(run, ("dispatcher", "floor", "raw")):
                if side == "dispatcher":
                    rate, serve_loop = _dispatch(b, sec, bare)
                    rates["dispatcher"] = rate
                elif side == "floor":
                    rates["floor"] = _floor(b, sec, bare)
                else:
                    rates.update(_raw_clients(b, sec, bare, run))
            if s.pg_url:
                for workers in order(run, (1, 2)):
                    rates[f"pg{workers}"] = _workers(b, sec, bare, workers)
            b.procs.stop(bare)
            rates["e2e"] = _end_to_end(b, sec)
            other = "uvloop" if serve_loop == "asyncio" else "asyncio"
            sec.ratio(f"dispatcher / raw sockets on {serve_loop} (serve's loop)").add(
                ratio(rates["dispatcher"], rates[f"sockets/{serve_loop}"])
            )
            sec.ratio(f"dispatcher / raw sockets on {other}").add(
                ratio(rates["dispatcher"], rates[f"sockets/{other}"])
            )
            sec.ratio(f"outbox floor / raw sockets on {serve_loop}").add(
                ratio(rates["floor"], rates[f"sockets/{serve_loop}"])
            )
            sec.ratio("dispatcher / outbox floor").add(ratio(rates["dispatcher"], rates["floor"]))
            if s.pg_url:
                sec.ratio(f"1 worker on PostgreSQL / raw sockets on {serve_loop}").add(
                    ratio(rates["pg1"], rates[f"sockets/{serve_loop}"])
                )
                sec.ratio("2 workers / 1 worker on PostgreSQL").add(
                    ratio(rates["pg2"], rates["pg1"])
                )
            sec.ratio("dispatcher / raw httpx loop").add(ratio(rates["dispatcher"], rates["httpx"]))
            sec.ratio("dispatcher to timhooks listen / to bare").add(
                ratio(rates["e2e"], rates["dispatcher"])
            )
        sec.notes.append(f"`timhooks serve` ran on the {serve_loop} event loop.")
        sec.bars.append(
            Bar(
                "dispatcher / raw client loop (asyncio sockets, serve's loop)",
                sec.ratios[0],
                0.8,
                True,
            )
        )
        if s.pg_url:
            sec.bars.append(
                Bar(
                    "1 timhooks worker on PostgreSQL / raw client loop",
                    sec.ratio(f"1 worker on PostgreSQL / raw sockets on {serve_loop}"),
                    0.5,
                    True,
                )
            )
            sec.bars.append(
                Bar(
                    "2 timhooks workers / 1 on PostgreSQL",
                    sec.ratio("2 workers / 1 worker on PostgreSQL"),
                    1.6,
                    True,
                )
            )
        _dispatcher_limits(sec, serve_loop)
        if s.pg_url:
            _worker_limits(sec, serve_loop)
    return sec


def _drain(
    b: Bench,
    sec: Section,
    db: Path,
    serve_to: Proc,
    *,
    label: str,
    loops: list[str] | None = None,
    metrics: bool = True,
) -> tuple[dict[str, Any], CpuWindow, Proc]:
    """Start `timhooks serve` on a pre-filled outbox and let it deliver to ``serve_to`` until
    the outbox is empty or the cap; the attempt statistics it recorded."""
    s = b.s
    serve = b.serve(db, callback=serve_to.url + "/", metrics=metrics)
    if loops is not None:
        loops.append(_event_loop_of(serve))
    with CpuWindow([serve, serve_to]) as window:
        done, _ = wait_for(
            lambda: tables.pending_outbox(db) == 0, cap=s.drain_cap, alive=[serve, serve_to]
        )
    b.procs.stop(serve)
    stats = tables.delivery_stats(db)
    _check_drain(b, sec, label, stats, done)
    return stats, window, serve


def _check_drain(b: Bench, sec: Section, label: str, stats: dict[str, Any], done: bool) -> None:
    """Every attempt of a drain succeeded; a drain stopped at the cap says so in a note."""
    need(stats["failed"] == 0, f"{label}: {stats['failed']:.0f} failed attempts: {stats['errors']}")
    if not done:
        sec.notes.append(
            f"{label}: the drain was stopped after {b.s.drain_cap:g} s with {stats['ok']:,.0f} "
            f"of {b.s.outbox_rows:,} delivered; the rate is over those."
        )


def _dispatch(b: Bench, sec: Section, bare: Proc) -> tuple[float, str]:
    """The dispatcher's drain to the bare app: its rate and the event loop it ran on."""
    db = b.workdir("c-serve") / "server.db"
    tables.fill_outbox(db, b.s.outbox_rows, seed=f"{time.time_ns()}")
    loops: list[str] = []
    stats, window, serve = _drain(b, sec, db, bare, label=TO_BARE, loops=loops)
    cores = window.cores(serve.name)
    sec.figure(f"{TO_BARE}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{TO_BARE}: attempt p50 latency", "ms", 2).add(stats["p50_ms"])
    sec.figure(f"{TO_BARE}: attempt p99 latency", "ms", 2).add(stats["p99_ms"])
    sec.figure(f"{TO_BARE}: {IN_FLIGHT}", "requests", 1).add(stats["in_flight"])
    sec.figure(f"{TO_BARE}: timhooks serve CPU", "cores", 2).add(cores)
    sec.figure(f"{TO_BARE}: timhooks serve CPU per webhook", "µs", 0).add(
        cores / stats["rate"] * 1e6 if stats["rate"] > 0 else math.nan
    )
    sec.figure(f"{TO_BARE}: other processes' CPU", "cores", 2).add(window.other_cores)
    b.say(f"  {TO_BARE}: {stats['rate']:.0f} webhooks/s")
    return stats["rate"], loops[0] if loops else "asyncio"


def _floor(b: Bench, sec: Section, bare: Proc) -> float:
    """bench/outbox_floor.py draining the same outbox to the bare app: its rate."""
    s = b.s
    db = b.workdir("c-floor") / "server.db"
    tables.fill_outbox(db, s.outbox_rows, seed=f"{time.time_ns()}")
    url = f"{bare.url}/?{signed_after_query(int(time.time()))}"
    result = run_json(
        [PYTHON, str(BENCH / "outbox_floor.py"), url, "--db", str(db)],
        timeout=s.drain_cap + 60,
        cwd=b.root,
    )
    stats = tables.delivery_stats(db)
    need(stats["failed"] == 0, f"{FLOOR}: {stats['failed']:.0f} failed attempts")
    need(stats["ok"] == s.outbox_rows, f"{FLOOR}: {stats['ok']} of {s.outbox_rows} delivered")
    sec.figure(f"{FLOOR}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{FLOOR}: {IN_FLIGHT}", "requests", 1).add(stats["in_flight"])
    sec.figure(f"{FLOOR}: CPU per webhook", "µs", 0).add(
        result["cpu_s"] / result["delivered"] * 1e6 if result["delivered"] else math.nan
    )
    b.say(f"  {FLOOR}: {stats['rate']:.0f} webhooks/s")
    return float(stats["rate"])


def _workers(b: Bench, sec: Section, bare: Proc, workers: int) -> float:
    """``workers`` `timhooks worker` processes draining a PostgreSQL outbox to the bare app:
    their rate, and the CPU of the workers, the app and the rest (PostgreSQL's own)."""
    s = b.s
    assert s.pg_url is not None
    label = f"{workers} timhooks worker{'s' if workers > 1 else ''} on PostgreSQL -> bare"
    with tables.postgres_schema(s.pg_url, "bench_c") as url:
        tables.fill_outbox(url, s.outbox_rows, seed=f"{time.time_ns()}")
        # A server run once stores the app and its callback URL, which the workers read.
        b.procs.stop(b.serve(url, callback=bare.url + "/", dispatch=False))
        procs = [b.worker(url, name=f"worker{n + 1}", settle=0) for n in range(workers)]
        with CpuWindow([*procs, bare]) as window:
            done, _ = wait_for(
                lambda: tables.pending_outbox(url) == 0, cap=s.drain_cap, alive=procs, every=0.05
            )
        for proc in procs:
            b.procs.stop(proc)
        stats = tables.delivery_stats(url)
    _check_drain(b, sec, label, stats, done)
    own = sum(window.cores(p.name) for p in procs)
    sec.figure(f"{label}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{label}: {IN_FLIGHT}", "requests", 1).add(stats["in_flight"] / workers)
    sec.figure(f"{label}: workers' CPU", "cores", 2).add(own)
    sec.figure(f"{label}: workers' CPU per webhook", "µs", 0).add(
        own / stats["rate"] * 1e6 if stats["rate"] > 0 else math.nan
    )
    sec.figure(f"{label}: bare app CPU", "cores", 2).add(window.cores(bare.name))
    sec.figure(f"{label}: other processes' CPU (PostgreSQL)", "cores", 2).add(window.other_cores)
    b.say(f"  {label}: {stats['rate']:.0f} webhooks/s")
    return float(stats["rate"])


def _event_loop_of(proc: Proc) -> str:
    """uvloop if the process has uvloop's extension mapped (it runs its loop), else asyncio."""
    try:
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
    except OSError:
        return "asyncio"
    return "uvloop" if "uvloop/loop." in maps else "asyncio"


def _raw_clients(b: Bench, sec: Section, bare: Proc, run: int) -> dict[str, float]:
    """The yardsticks: the same requests from raw socket loops on both event loops, and from an
    httpx loop; their rates by name."""
    s = b.s
    work = b.workdir("c-raw")
    query = signed_after_query(int(time.time()))
    now = time.time()
    bodies = (group_full_body(f"raw{run}-{i}", now) for i in range(s.outbox_rows))
    requests = write_lines(
        work / "requests.jsonl",
        ({"target": f"/?{query}", "body": body.decode()} for body in bodies),
    )
    rates: dict[str, float] = {}
    for loop in ("asyncio", "uvloop"):
        label = f"raw asyncio sockets on {loop} -> bare"
        result = b.loadgen(
            bare.url + "/",
            "--requests-file",
            str(requests),
            "--connections",
            str(s.connections),
            "--duration",
            str(s.drain_cap),
            "--loop",
            loop,
            timeout=s.drain_cap + 60,
        )
        no_errors(result, label)
        rates[f"sockets/{loop}"] = result["rps"]
        sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
        sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
        sec.figure(f"{label}: client CPU per request", "µs", 0).add(
            result["cpu_s"] / result["requests"] * 1e6 if result["requests"] else math.nan
        )
        b.say(f"  {label}: {result['rps']:.0f} req/s")
    label = "raw httpx loop (asyncio) -> bare"
    with CpuWindow([bare]) as window:
        result = b.rawclient(bare.url, requests, loop="asyncio", cap=s.yardstick_cap)
    no_errors(result, label)
    rates["httpx"] = result["rps"]
    sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
    sec.figure(f"{label}: client CPU", "cores", 2).add(window.load_cores)
    sec.figure(f"{label}: client CPU per request", "µs", 0).add(
        window.load_cpu / result["requests"] * 1e6 if result["requests"] else math.nan
    )
    b.say(f"  {label}: {result['rps']:.0f} req/s")
    return rates


def _end_to_end(b: Bench, sec: Section) -> float:
    """The same drain to `timhooks listen`; its rate."""
    work = b.workdir("c-e2e")
    db = work / "server.db"
    tables.fill_outbox(db, b.s.outbox_rows, seed=f"{time.time_ns()}")
    inbox = work / "inbox.db"
    listener = b.listen(inbox)
    stats, window, _ = _drain(b, sec, db, listener, label=TO_LISTEN)
    b.procs.stop(listener)
    stored = tables.inbox_rows(inbox)
    need(stored == stats["ok"], f"{TO_LISTEN}: {stats['ok']} delivered but {stored} stored")
    sec.figure(f"{TO_LISTEN}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{TO_LISTEN}: attempt p50 latency", "ms", 2).add(stats["p50_ms"])
    sec.figure(f"{TO_LISTEN}: {IN_FLIGHT}", "requests", 1).add(stats["in_flight"])
    sec.figure(f"{TO_LISTEN}: timhooks serve CPU", "cores", 2).add(window.cores("serve"))
    sec.figure(f"{TO_LISTEN}: timhooks listen CPU", "cores", 2).add(window.cores("listen"))
    b.say(f"  {TO_LISTEN}: {stats['rate']:.0f} webhooks/s")
    return float(stats["rate"])


def _dispatcher_limits(sec: Section, loop: str) -> None:
    """Say, from the figures, what bounds the dispatcher."""
    serve = sec.figure(f"{TO_BARE}: timhooks serve CPU", "cores", 2).median
    per_hook = sec.figure(f"{TO_BARE}: timhooks serve CPU per webhook", "µs", 0).median
    flight = sec.figure(f"{TO_BARE}: {IN_FLIGHT}", "requests", 1).median
    p50 = sec.figure(f"{TO_BARE}: attempt p50 latency", "ms", 2).median
    raw = f"raw asyncio sockets on {loop} -> bare"
    per_req = sec.figure(f"{raw}: client CPU per request", "µs", 0).median
    sockets = sec.figure(f"{raw}: requests/s", "req/s", 0).median
    sec.notes.append(
        f"What bounds it, measured: `timhooks serve` used {serve:.2f} cores while "
        f"dispatching, {per_hook:,.0f} µs of CPU per webhook (HTTP client, claims and attempt "
        f"records in SQLite); the raw socket loop on the same event loop needed {per_req:,.0f} "
        f"µs per request for {sockets:,.0f} requests/s. On average {flight:.1f} of the "
        f"32 allowed attempts were in flight (attempt p50 {p50:.2f} ms): the rest of the time "
        "a slot waited for the dispatcher itself (claiming rows, committing the attempt "
        "record) rather than for the receiver. "
        + (
            "Near one core, the process is CPU-bound: its event loop and SQLite writer "
            "thread share the GIL; the profile below shows on what."
            if serve >= 0.85
            else "Below one core, it is bound by those waits more than by CPU."
        )
    )
    floor = sec.ratio(f"outbox floor / raw sockets on {loop}").median
    per_floor = sec.figure(f"{FLOOR}: CPU per webhook", "µs", 0).median
    share = sec.ratio("dispatcher / outbox floor").median
    sec.notes.append(
        f"The floor of this design, measured: bench/outbox_floor.py, the same raw socket loop "
        f"fed by one claim statement per wave of 128 rows and recording every attempt that ended "
        f"meanwhile in one transaction (SQLite, `synchronous=FULL`, one writer thread), reached "
        f"{floor:.2f}x the raw loop, at {per_floor:,.0f} µs of CPU per webhook. No dispatcher "
        "in Python that claims each webhook before posting it and records its attempt after, in "
        "SQLite, goes faster than that floor on this machine; the dispatcher reached "
        f"{share:.2f}x of it. The rest is the cost of what it does on top: a deadline per "
        "attempt, reading the answer into a decision (ActionStatus, ErrorCode), the retry "
        "schedule, the attempt's response and error kept for the delivery log, and metrics."
    )


def _worker_limits(sec: Section, loop: str) -> None:
    """Say, from the figures, what bounds the workers on PostgreSQL."""
    one = "1 timhooks worker on PostgreSQL -> bare"
    two = "2 timhooks workers on PostgreSQL -> bare"
    parts = []
    for label in (one, two):
        workers = sec.figure(f"{label}: workers' CPU", "cores", 2).median
        app = sec.figure(f"{label}: bare app CPU", "cores", 2).median
        other = sec.figure(f"{label}: other processes' CPU (PostgreSQL)", "cores", 2).median
        parts.append(
            f"{label.split(' on ')[0]}: the workers used {workers:.2f} cores, the app "
            f"{app:.2f}, PostgreSQL and the rest {other:.2f}: {workers + app + other:.2f} of "
            f"the machine's {os.cpu_count()} cores"
        )
    per = sec.figure(f"{one}: workers' CPU per webhook", "µs", 0).median
    rate = sec.figure(f"{one}: webhooks/s", "webhooks/s", 0).median
    rest = sec.figure(f"{one}: other processes' CPU (PostgreSQL)", "cores", 2).median
    app = sec.figure(f"{one}: bare app CPU", "cores", 2).median
    raw = sec.figure(f"raw asyncio sockets on {loop} -> bare: requests/s", "req/s", 0).median
    goal = 0.5 * raw
    need = (per + (rest + app) / rate * 1e6) * goal / 1e6 if rate > 0 else math.nan
    sec.notes.append(
        "What bounds the workers on PostgreSQL, measured: " + "; ".join(parts) + ". One worker "
        f"spends {per:,.0f} µs of CPU per webhook (its claims and records are round trips to "
        "PostgreSQL, each a transaction that PostgreSQL also spends CPU on), PostgreSQL and "
        f"the rest {rest / rate * 1e6:,.0f} µs and the app {app / rate * 1e6:,.0f} µs. At "
        f"half the raw loop's rate ({goal:,.0f} webhooks/s) the three would need {need:.1f} "
        f"cores at these costs, of the machine's {os.cpu_count()}. Where the processes "
        "together use every core, a second worker can only take CPU from the first, from "
        "PostgreSQL and from the app: two workers scale only with cores to spare."
    )


def profile_dispatcher(b: Bench) -> ProfileRun:
    """The dispatcher (c) draining the outbox to the bare receiver."""
    s = b.s
    rows = 2 * s.outbox_rows
    run = ProfileRun(
        "Dispatcher (scenario c): `timhooks serve` draining its outbox to the bare app",
        f"{rows:,} pending after-webhooks; py-spy attached once the server listens, for "
        f"{s.profile_seconds:g} s or until the outbox is empty.",
    )
    try:
        db = b.workdir("p-dispatch") / "server.db"
        tables.fill_outbox(db, rows, seed=f"prof{time.time_ns()}")
        bare = b.bare()
        serve = b.serve(db, callback=bare.url + "/")
        rec = Recorder(serve.pid, b.workdir("profile-dispatcher"), "dispatcher")
        wait_for(lambda: tables.pending_outbox(db) == 0, cap=s.profile_seconds, alive=[serve, bare])
        rec.finish(run)
        b.procs.stop(serve)
        b.procs.stop(bare)
    except BenchError as exc:
        run.error = str(exc)
    return run
