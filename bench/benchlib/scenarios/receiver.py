"""a and b: `timhooks listen` next to a bare ASGI app, storing after-webhooks (a, closed loop)
and answering before-webhooks at a fixed rate (b); and a's profile."""

from __future__ import annotations

import math
import time
from pathlib import Path

from benchlib import tables
from benchlib.harness import Bench, cpu_figures, need, no_errors, order, scenario
from benchlib.procs import BenchError, Proc
from benchlib.profiles import ProfileRun, Recorder
from benchlib.results import Bar, Section, ratio

RECEIVER = "timhooks listen"
BARE = "bare ASGI app"
DURABLE = "durable floor app"
LABELS = {"receiver": RECEIVER, "durable": DURABLE, "bare": BARE}


def receiver_throughput(b: Bench) -> Section:
    """a. `timhooks listen` storing signed unique after-webhooks, vs bench/bare_app.py, and
    bench/durable_app.py (the least a receiver that commits before answering does)."""
    s = b.s
    sec = Section("a", "Receiver: after-webhooks stored durably, vs a bare ASGI app")
    sec.sizes = f"{s.connections} connections, {s.warmup:g} s warm-up, {s.duration:g} s measured"
    with scenario(sec, b.say):
        for run in range(s.runs):
            rps: dict[str, float] = {}
            for side in order(run, tuple(LABELS)):
                db = b.workdir(f"a-{side}") / "inbox.db"
                if side == "receiver":
                    proc = b.listen(db)
                elif side == "durable":
                    proc = b.durable(db)
                else:
                    proc = b.bare()
                label = LABELS[side]
                rps[side] = closed_loop_side(b, sec, label, proc, None if side == "bare" else db)
                b.say(f"  run {run + 1} {label}: {rps[side]:.0f} req/s")
            sec.ratio("receiver / bare (requests/s)").add(ratio(rps["receiver"], rps["bare"]))
            sec.ratio("durable floor / bare (requests/s)").add(ratio(rps["durable"], rps["bare"]))
            sec.ratio("receiver / durable floor (requests/s)").add(
                ratio(rps["receiver"], rps["durable"])
            )
        _receiver_limits(sec)
        sec.bars.append(
            Bar(
                "receiver / bare ASGI app (requests/s)",
                sec.ratio("receiver / bare (requests/s)"),
                0.5,
                True,
            )
        )
    return sec


def closed_loop_side(b: Bench, sec: Section, label: str, proc: Proc, db: Path | None) -> float:
    """``proc`` under the closed loop of signed after-webhooks, then stopped: its requests/s,
    with its figures added to ``sec`` under ``label``; ``db``: the database that must hold a
    row for every answered request."""
    result, window = b.closed_loop(proc)
    b.procs.stop(proc)
    no_errors(result, label)
    if db is not None:
        stored = tables.inbox_rows(db)
        need(
            stored >= result["requests"],
            f"{label}: {stored} rows stored after {result['requests']} answered requests",
        )
    sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
    sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
    sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
    cpu_figures(sec, label, window, proc, result["rps"])
    return float(result["rps"])


def _receiver_limits(sec: Section) -> None:
    """Say, from the figures, what bounds the receiver."""
    listen = sec.figure(f"{RECEIVER}: CPU", "cores", 2).median
    bare = sec.figure(f"{BARE}: CPU", "cores", 2).median
    per_l = sec.figure(f"{RECEIVER}: CPU per request", "µs", 0).median
    per_b = sec.figure(f"{BARE}: CPU per request", "µs", 0).median
    per_d = sec.figure(f"{DURABLE}: CPU per request", "µs", 0).median
    bare_rps = sec.figure(f"{BARE}: requests/s", "req/s", 0).median
    floor = sec.ratio("durable floor / bare (requests/s)").median
    ceiling = 1e6 / per_l if per_l > 0 else math.nan
    sec.notes.append(
        f"What bounds it, measured: `timhooks listen` used {listen:.2f} cores, "
        f"{per_l:,.0f} µs of CPU per request (event loop, SQLite writer thread and inbox "
        f"worker together), where the bare app used {bare:.2f} cores, {per_b:,.0f} µs per "
        f"request. At that cost one core serves at most {ceiling:,.0f} requests/s, "
        f"{ratio(ceiling, bare_rps):.2f}x the bare app's median: the receiver/bare ratio "
        "cannot pass that without less CPU per request. CPU per request is the steadier "
        "figure on a shared machine. Below one core, the rest of the time requests wait for "
        "their batch's commit (fsync): see the SQLite commit latency above and the profile."
    )
    sec.notes.append(
        f"The floor of this design, measured: bench/durable_app.py, which only commits each "
        f"body to SQLite (one writer thread, a transaction per batch, `synchronous=FULL`) "
        f"before answering, reached {floor:.2f}x the bare app, at {per_d:,.0f} µs of CPU per "
        "request. No receiver on uvicorn that answers only after its webhook is on disk, "
        "written from Python, goes faster than that floor on this machine; timhooks listen's "
        "distance from it (receiver / durable floor above) is the cost of what it does on top: "
        "the signature check, parsing into a typed event, the duplicate key, running the "
        "handler and recording it done, metrics."
    )
    p99 = {
        label: sec.figure(f"{label}: p99 latency", "ms", 2).median
        for label in (RECEIVER, DURABLE, BARE)
    }
    sec.notes.append(
        f"Latency, measured: p99 {p99[RECEIVER]:.2f} ms for `timhooks listen`, "
        f"{p99[DURABLE]:.2f} ms for the durable floor and {p99[BARE]:.2f} ms for the bare app: "
        f"the floor alone is {ratio(p99[DURABLE], p99[BARE]):.1f}x the bare app's p99, since "
        "each of its answers waits for a commit (fsync) the bare app never makes. A receiver "
        "of this design answers within that floor plus the CPU it spends per request."
    )


def receiver_before_latency(b: Bench) -> Section:
    """b. Before-webhook round trip at a fixed rate, vs the bare app at the same rate."""
    s = b.s
    sec = Section("b", f"Receiver: before-webhooks at a fixed {s.before_rate:,.0f} requests/s")
    sec.sizes = (
        f"{s.before_rate:,.0f} requests/s over {s.connections} connections, {s.warmup:g} s "
        f"warm-up, {s.duration:g} s measured"
    )
    with scenario(sec, b.say):
        for run in range(s.runs):
            p99: dict[str, float] = {}
            for side in order(run, ("receiver", "bare")):
                proc = (
                    b.listen(b.workdir("b-listen") / "inbox.db") if side == "receiver" else b.bare()
                )
                label = RECEIVER if side == "receiver" else BARE
                result, window = b.closed_loop(
                    proc, "--kind", "before", "--rate", str(s.before_rate)
                )
                b.procs.stop(proc)
                no_errors(result, label)
                if result["requests"] < 0.95 * s.before_rate * s.duration:
                    sec.notes.append(
                        f"run {run + 1}, {label}: only {result['requests']:,} requests were "
                        f"answered in {s.duration:g} s: the fixed rate was not kept up."
                    )
                p99[side] = result["p99_ms"]
                sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
                sec.figure(f"{label}: load generator send lag p99", "ms", 2).add(
                    result.get("send_lag_p99_ms", math.nan)
                )
                sec.figure(f"{label}: requests/s achieved", "req/s", 0).add(result["rps"])
                cpu_figures(sec, label, window, proc, result["rps"])
                b.say(f"  run {run + 1} {label}: p99 {result['p99_ms']:.2f} ms")
            sec.figure("p99 added by the receiver over the bare app", "ms", 2).add(
                p99["receiver"] - p99["bare"]
            )
        sec.bars.append(
            Bar(
                f"before-webhook p99 at {s.before_rate:,.0f} req/s",
                sec.figure(f"{RECEIVER}: p99 latency", "ms", 2),
                5.0,
                False,
            )
        )
    return sec


def profile_receiver(b: Bench) -> ProfileRun:
    """The receiver (a) under the closed-loop load."""
    s = b.s
    run = ProfileRun(
        "Receiver hot path (scenario a): `timhooks listen`",
        f"{s.connections} connections of signed unique after-webhooks; py-spy attached for "
        f"{s.profile_seconds:g} s after 1 s of load.",
    )
    try:
        listener = b.listen(b.workdir("p-listen") / "inbox.db")
        load = b.background_load(listener, s.profile_seconds + 2)
        time.sleep(1)
        rec = Recorder(listener.pid, b.workdir("profile-receiver"), "receiver")
        time.sleep(s.profile_seconds)
        rec.finish(run)
        load.wait(60)
        b.procs.stop(listener)
    except BenchError as exc:
        run.error = str(exc)
    return run
