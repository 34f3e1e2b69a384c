"""s: openim/sendmsg calls/s with C2C.CallbackBeforeSendMsg and C2C.CallbackAfterSendMsg on,
beside add_subscriber (100 new subscribers a call, its webhooks on too) in the same run, on one
`timhooks serve` whose app backend is `timhooks listen`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from benchlib import tables
from benchlib.calls import admin_usersig, pool_user, rest_call, subscriber_calls, write_lines
from benchlib.cpu import CpuWindow
from benchlib.harness import Bench, need, no_errors, order, scenario, wait_for
from benchlib.procs import Proc
from benchlib.results import Bar, Section, ratio
from timhooks.protocol.events import C2CBeforeSendMsg

TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "bench"}}]
SENDERS = 100  # pool users that send to each other in turn


def sendmsg_throughput(b: Bench) -> Section:
    """s. sendmsg with both C2C message webhooks on, against add_subscriber."""
    s = b.s
    calls = s.rest_calls
    before = C2CBeforeSendMsg.command
    sec = Section("s", "Server REST: sendmsg with its webhooks on, against add_subscriber")
    sec.sizes = (
        f"batches of {calls} calls over {s.rest_connections} connections; add_subscriber adds 100"
        " new subscribers a call to an Official Account that starts empty"
    )
    with scenario(sec, b.say):
        work = b.workdir("s-sendmsg")
        db = work / "server.db"
        world = tables.fill_rest_world(
            db,
            runs=s.runs,
            pool=max(calls * 100, SENDERS),
            oa_size=0,
            groups_per_run=0,
            group_size=0,
            group_max=1,
        )
        listener = b.listen(work / "inbox.db")
        serve = b.serve(db, callback=listener.url + "/")  # every command on
        sig = admin_usersig()
        b.calls(serve, _sendmsg_calls(work / "warm-send.jsonl", sig, 5, "warm"), connections=2)
        b.calls(
            serve, subscriber_calls(work / "warm-oa.jsonl", world.warm_oa, sig, 5), connections=2
        )
        for run in range(s.runs):
            rates: dict[str, float] = {}
            for name in order(run, ("sendmsg", "add_subscriber")):
                path = work / f"{run}-{name}.jsonl"
                if name == "sendmsg":
                    file = _sendmsg_calls(path, sig, calls, f"r{run}")
                    stored, seen = _messages(db), tables.before_webhooks(db, before)
                else:
                    file = subscriber_calls(path, world.empty_oa[run], sig, calls)
                with CpuWindow([serve, listener]) as window:
                    result = b.calls(serve, file, connections=s.rest_connections)
                serve.check_alive()
                no_errors(result, name)
                need(result["requests"] == calls, f"{name}: {result['requests']} of {calls}")
                if name == "sendmsg":
                    _check_sent(db, serve, listener, stored + calls, seen + calls)
                else:
                    num, rows = tables.oa_subscribers(db, world.empty_oa[run])
                    need(num == rows == calls * 100, f"subscriber_num {num}, rows {rows}")
                rates[name] = result["rps"]
                sec.figure(f"{name}: calls/s", "calls/s", 1).add(result["rps"])
                sec.figure(f"{name}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{name}: p99 latency", "ms", 2).add(result["p99_ms"])
                sec.figure(f"{name}: timhooks serve CPU", "cores", 2).add(window.cores("serve"))
                b.say(f"  run {run + 1} {name}: {result['rps']:.1f} calls/s")
            sec.ratio("sendmsg / add_subscriber (calls/s)").add(
                ratio(rates["sendmsg"], rates["add_subscriber"])
            )
        b.procs.stop(serve)
        b.procs.stop(listener)
        sec.bars.append(Bar("sendmsg / add_subscriber", sec.ratios[0], 1.0, True))
    return sec


def _sendmsg_calls(path: Path, sig: str, calls: int, tag: str) -> Path:
    """``calls`` sendmsg calls between pool users, each with its own MsgRandom."""
    return write_lines(
        path,
        (
            rest_call(
                "openim/sendmsg",
                sig,
                {
                    "From_Account": pool_user(k % SENDERS),
                    "To_Account": pool_user((k + 1) % SENDERS),
                    "MsgRandom": k,
                    "MsgBody": TEXT,
                    "CloudCustomData": tag,
                },
            )
            for k in range(calls)
        ),
    )


def _messages(db: Path) -> int:
    """One-to-one messages stored."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM c2c_messages").fetchone()[0]
    return count


def _check_sent(db: Path, serve: Proc, listener: Proc, stored: int, seen: int) -> None:
    """Every call stored its message and sent its before-webhook (recorded just after)."""
    need(_messages(db) == stored, f"{_messages(db)} messages stored, expected {stored}")
    before = C2CBeforeSendMsg.command
    settled, _ = wait_for(
        lambda: tables.before_webhooks(db, before) == seen, cap=10, alive=[serve, listener]
    )
    need(settled, f"{tables.before_webhooks(db, before)} before-webhooks, expected {seen}")
