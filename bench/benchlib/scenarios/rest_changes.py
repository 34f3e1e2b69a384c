"""r: REST calls that make one durable change each (add_subscriber of one user, create_group),
beside `timhooks listen` storing one after-webhook per request, in the same run."""

from __future__ import annotations

from benchlib import tables
from benchlib.calls import admin_usersig, group_calls, subscriber_calls
from benchlib.cpu import CpuWindow
from benchlib.harness import Bench, cpu_figures, need, no_errors, order, scenario
from benchlib.procs import Proc
from benchlib.results import Bar, Section, ratio
from benchlib.scenarios.receiver import RECEIVER, closed_loop_side

SIDES = ("listen", "add_subscriber", "create_group")
LABELS = {
    "listen": RECEIVER,
    "add_subscriber": "add_subscriber, 1 user a call",
    "create_group": "create_group, owner only",
}


def rest_changes(b: Bench) -> Section:
    """r. add_subscriber (one user) and create_group against `timhooks listen`'s rate."""
    s = b.s
    calls = s.change_calls
    sec = Section("r", "Server REST: one durable change per call, against `timhooks listen`")
    sec.sizes = (
        f"{s.connections} connections; batches of {calls:,} calls; `timhooks listen` for "
        f"{s.duration:g} s after {s.warmup:g} s of warm-up"
    )
    with scenario(sec, b.say):
        work = b.workdir("r-changes")
        db = work / "server.db"
        pool = 2 * calls * s.runs + 10
        world = tables.fill_rest_world(
            db, runs=s.runs, pool=pool, oa_size=0, groups_per_run=0, group_size=0, group_max=1
        )
        serve = b.serve(db, callback=None)
        sig = admin_usersig()
        warm = work / "warm.jsonl"
        b.calls(serve, subscriber_calls(warm, world.warm_oa, sig, 5, per_call=1), connections=2)
        b.calls(serve, group_calls(warm, sig, 5, start=pool - 5), connections=2)
        for run in range(s.runs):
            rates: dict[str, float] = {}
            for side in order(run, SIDES):
                label = LABELS[side]
                if side == "listen":
                    inbox = work / f"{run}-inbox.db"
                    rates[side] = closed_loop_side(b, sec, label, b.listen(inbox), inbox)
                    continue
                path = work / f"{run}-{side}.jsonl"
                first = (2 * run + (side == "create_group")) * calls
                if side == "add_subscriber":
                    file = subscriber_calls(
                        path, world.empty_oa[run], sig, calls, start=first, per_call=1
                    )
                    groups_before = 0
                else:
                    file = group_calls(path, sig, calls, start=first)
                    groups_before = tables.group_count(db)
                with CpuWindow([serve]) as window:
                    result = b.calls(serve, file, connections=s.connections)
                serve.check_alive()
                no_errors(result, label)
                need(result["requests"] == calls, f"{label}: {result['requests']} of {calls}")
                if side == "add_subscriber":
                    num, rows = tables.oa_subscribers(db, world.empty_oa[run])
                    need(num == rows == calls, f"subscriber_num {num}, rows {rows} of {calls}")
                else:
                    made = tables.group_count(db) - groups_before
                    need(made == calls, f"{made} groups created by {calls} calls")
                rates[side] = result["rps"]
                _figures(sec, label, result, window, serve)
                b.say(f"  run {run + 1} {label}: {result['rps']:,.0f} calls/s")
            for side in SIDES[1:]:
                sec.ratio(f"{side} / timhooks listen (calls/s per request/s)").add(
                    ratio(rates[side], rates["listen"])
                )
        b.procs.stop(serve)
        for side, r in zip(SIDES[1:], sec.ratios, strict=True):
            sec.bars.append(Bar(f"REST {side} / timhooks listen", r, 0.5, True))
    return sec


def _figures(
    sec: Section, label: str, result: dict[str, float], window: CpuWindow, proc: Proc
) -> None:
    sec.figure(f"{label}: calls/s", "calls/s", 0).add(result["rps"])
    sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
    sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
    cpu_figures(sec, label, window, proc, result["rps"])
