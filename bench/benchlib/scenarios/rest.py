"""d: REST add_subscriber and add_group_member on empty and on large targets, pre-filled in SQL,
over `timhooks serve`'s REST API with webhooks off; and add_subscriber's profile."""

from __future__ import annotations

import math
from pathlib import Path

from benchlib import tables
from benchlib.calls import admin_usersig, member_calls, subscriber_calls
from benchlib.cpu import CpuWindow
from benchlib.harness import Bench, need, no_errors, order, scenario
from benchlib.procs import BenchError, Proc
from benchlib.profiles import ProfileRun, Recorder
from benchlib.results import Bar, Section, ratio


def rest_scaling(b: Bench) -> Section:
    """d. add_subscriber and add_group_member on empty vs large targets."""
    s = b.s
    calls = s.rest_calls
    groups = max(1, math.ceil(calls * 100 / (s.group_max - s.group_size)))
    per_group = (s.group_max - s.group_size) // 100
    sec = Section("d", "Server REST: add_subscriber and add_group_member, empty vs large")
    sec.sizes = (
        f"Official Accounts of 0 and {s.oa_size:,} subscribers; {groups} empty groups and "
        f"{groups} of {s.group_size:,} members (MaxMemberCount {s.group_max:,}, so {per_group} "
        f"calls fill a group); batches of {calls} calls over {s.rest_connections} connections"
    )
    with scenario(sec, b.say):
        work = b.workdir("d-rest")
        db = work / "server.db"
        b.say("  pre-filling the database")
        world = tables.fill_rest_world(
            db,
            runs=s.runs,
            pool=calls * 100,
            oa_size=s.oa_size,
            groups_per_run=groups,
            group_size=s.group_size,
            group_max=s.group_max,
        )
        serve = b.serve(db, callback=None)
        sig = admin_usersig()
        _rest_warmup(b, serve, work, world, sig)
        for run in range(s.runs):
            rates: dict[str, float] = {}
            batches = {
                "add_subscriber, 0 subscribers": ("oa", [world.empty_oa[run]], 0),
                f"add_subscriber, {s.oa_size:,} subscribers": (
                    "oa",
                    [world.large_oa[run]],
                    s.oa_size,
                ),
                "add_group_member, empty group": ("group", world.empty_groups[run], 0),
                f"add_group_member, group of {s.group_size:,}": (
                    "group",
                    world.large_groups[run],
                    s.group_size,
                ),
            }
            names = list(batches)
            for name in order(run, names[:2]) + order(run, names[2:]):
                kind, targets, before = batches[name]
                path = work / f"{run}-{len(rates)}.jsonl"
                if kind == "oa":
                    file = subscriber_calls(path, targets[0], sig, calls)
                else:
                    file = member_calls(path, targets, sig, calls, per_group)
                with CpuWindow([serve]) as window:
                    result = b.calls(serve, file, connections=s.rest_connections)
                serve.check_alive()
                no_errors(result, name)
                need(result["requests"] == calls, f"{name}: {result['requests']} of {calls}")
                _check_growth(db, kind, targets, before, calls * 100, per_group)
                rates[name] = result["rps"]
                sec.figure(f"{name}: calls/s", "calls/s", 1).add(result["rps"])
                sec.figure(f"{name}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{name}: p99 latency", "ms", 2).add(result["p99_ms"])
                sec.figure(f"{name}: timhooks serve CPU", "cores", 2).add(window.cores("serve"))
                b.say(f"  run {run + 1} {name}: {result['rps']:.1f} calls/s")
            sec.ratio(f"add_subscriber: {s.oa_size:,} / 0 subscribers (calls/s)").add(
                ratio(rates[names[1]], rates[names[0]])
            )
            sec.ratio(f"add_group_member: group of {s.group_size:,} / empty (calls/s)").add(
                ratio(rates[names[3]], rates[names[2]])
            )
        b.procs.stop(serve)
        sec.bars.append(Bar("add_subscriber large / empty", sec.ratios[0], 0.8, True))
        sec.bars.append(Bar("add_group_member large / empty", sec.ratios[1], 0.8, True))
    return sec


def _check_growth(
    db: Path, kind: str, targets: list[str], before: int, added: int, per_group: int
) -> None:
    """Every call added its 100: the counter and the rows both grew by exactly that."""
    if kind == "oa":
        oa = targets[0]
        num, rows = tables.oa_subscribers(db, oa)
        need(
            num == rows == before + added,
            f"{oa}: subscriber_num {num}, rows {rows}, expected {before + added}",
        )
        return
    used = math.ceil(added / (per_group * 100))
    for group in targets[:used]:
        num, rows = tables.group_members(db, group)
        want = before + min(per_group * 100, added)
        added -= per_group * 100
        need(num == rows == want, f"{group}: member_num {num}, rows {rows}, expected {want}")


def _rest_warmup(b: Bench, serve: Proc, work: Path, world: tables.RestWorld, sig: str) -> None:
    """A few unmeasured calls, so the first measured batch does not pay for cold caches."""
    file = subscriber_calls(work / "warm-oa.jsonl", world.warm_oa, sig, 5)
    b.calls(serve, file, connections=2)
    file = member_calls(work / "warm-group.jsonl", [world.warm_group], sig, 5, 10)
    b.calls(serve, file, connections=2)


def profile_rest(b: Bench) -> ProfileRun:
    """add_subscriber (d) on large Official Accounts."""
    s = b.s
    accounts = 4
    per_account = 10 * s.rest_calls // 2
    run = ProfileRun(
        f"REST add_subscriber (scenario d): `timhooks serve`, Official Accounts with "
        f"{s.oa_size:,} subscribers",
        f"{accounts * per_account:,} calls of 100 new subscribers ({per_account:,} to each of "
        f"{accounts} Official Accounts of {s.oa_size:,}), {s.rest_connections} connections, "
        "webhooks off; py-spy attached for the whole batch.",
    )
    try:
        work = b.workdir("p-rest")
        db = work / "server.db"
        world = tables.fill_rest_world(
            db,
            runs=accounts,
            pool=per_account * 100,
            oa_size=s.oa_size,
            groups_per_run=0,
            group_size=s.group_size,
            group_max=s.group_max,
        )
        serve = b.serve(db, callback=None)
        sig = admin_usersig()
        files = [
            subscriber_calls(work / f"calls{i}.jsonl", oa, sig, per_account)
            for i, oa in enumerate(world.large_oa)
        ]
        calls = work / "calls.jsonl"
        calls.write_text("".join(f.read_text() for f in files))
        rec = Recorder(serve.pid, b.workdir("profile-rest"), "rest")
        result = b.calls(serve, calls, connections=s.rest_connections)
        rec.finish(run)
        no_errors(result, "add_subscriber")
        run.sizes += f" {result['rps']:.0f} calls/s while profiled."
        b.procs.stop(serve)
    except BenchError as exc:
        run.error = str(exc)
    return run
