"""m: what counting costs: scenario a's receiver and scenario c's dispatcher, each with its
metrics on (the default) and off (``--no-metrics``), side by side in the same run."""

from __future__ import annotations

import time

from benchlib import tables
from benchlib.harness import Bench, cpu_figures, need, no_errors, order, scenario
from benchlib.results import Bar, Section, ratio
from benchlib.scenarios.dispatcher import _drain

_SIDES = ("on", "off")


def metrics_cost(b: Bench) -> Section:
    """m. Receiver requests/s and dispatcher webhooks/s with metrics on, over off."""
    s = b.s
    sec = Section("m", "Metrics: the receiver and the dispatcher with metrics on and off")
    sec.sizes = (
        f"receiver: {s.connections} connections, {s.warmup:g} s warm-up, {s.duration:g} s "
        f"measured; dispatcher: {s.outbox_rows:,} pending after-webhooks per drain"
    )
    with scenario(sec, b.say):
        for run in range(s.runs):
            rps: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for side in order(run, _SIDES):
                db = b.workdir(f"m-listen-{side}") / "inbox.db"
                proc = b.listen(db, metrics=side == "on")
                result, window = b.closed_loop(proc)
                b.procs.stop(proc)
                label = f"timhooks listen, metrics {side}"
                no_errors(result, label)
                stored = tables.inbox_rows(db)
                need(stored >= result["requests"], f"{label}: inbox holds {stored} rows")
                rps[side] = result["rps"]
                sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
                cpu_figures(sec, label, window, proc, result["rps"])
                cpu[side] = sec.figure(f"{label}: CPU per request", "µs", 0).values[-1]
                b.say(f"  run {run + 1} {label}: {result['rps']:.0f} req/s")
            sec.ratio("receiver: metrics on / off (requests/s)").add(ratio(rps["on"], rps["off"]))
            sec.ratio("receiver: metrics on / off (CPU per request)").add(
                ratio(cpu["on"], cpu["off"])
            )
            rate: dict[str, float] = {}
            bare = b.bare()
            for side in order(run, _SIDES):
                db = b.workdir(f"m-serve-{side}") / "server.db"
                tables.fill_outbox(db, s.outbox_rows, seed=f"{time.time_ns()}")
                label = f"dispatcher -> bare, metrics {side}"
                stats, window, serve = _drain(b, sec, db, bare, label=label, metrics=side == "on")
                rate[side] = stats["rate"]
                sec.figure(f"{label}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
                cores = window.cores(serve.name)
                per = cores / stats["rate"] * 1e6 if stats["rate"] > 0 else float("nan")
                cpu[f"d-{side}"] = per
                sec.figure(f"{label}: timhooks serve CPU per webhook", "µs", 0).add(per)
                b.say(f"  run {run + 1} {label}: {stats['rate']:.0f} webhooks/s")
            b.procs.stop(bare)
            sec.ratio("dispatcher: metrics on / off (webhooks/s)").add(
                ratio(rate["on"], rate["off"])
            )
            sec.ratio("dispatcher: metrics on / off (CPU per webhook)").add(
                ratio(cpu["d-on"], cpu["d-off"])
            )
        for name in (
            "receiver: metrics on / off (requests/s)",
            "dispatcher: metrics on / off (webhooks/s)",
        ):
            sec.bars.append(Bar(name, sec.ratio(name), 0.95, True))
        sec.notes.append(
            "Throughput on a shared machine drifts by more than the cost measured here; CPU per "
            "request (or per webhook) is the steadier figure: its ratio on/off above 1.00 is "
            "what counting costs."
        )
    return sec
