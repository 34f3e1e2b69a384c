"""f: peak RSS of `timhooks listen` after receiving many after-webhooks, and of `timhooks serve`
after delivering many from its outbox."""

from __future__ import annotations

import math
import time

from benchlib import tables
from benchlib.calls import TOKEN
from benchlib.harness import Bench, no_errors, scenario, wait_for
from benchlib.results import Section

MIB = 1024.0


def _mib(kb: int | None) -> float:
    return kb / MIB if kb else math.nan


def memory(b: Bench) -> Section:
    """f. Peak RSS of `timhooks listen` and `timhooks serve` after many events."""
    s = b.s
    n = s.memory_events
    sec = Section("f", f"Memory: peak RSS after {n:,} events")
    sec.sizes = (
        f"{n:,} events each, {s.connections} connections to `timhooks listen`, at most "
        f"{s.memory_cap:g} s each"
    )
    with scenario(sec, b.say):
        for run in range(s.runs):
            work = b.workdir("f-memory")
            inbox = work / "inbox.db"
            listener = b.listen(inbox)
            start_rss = listener.memory().get("VmRSS")
            result = b.loadgen(
                listener.url + "/",
                "--token",
                TOKEN,
                "--connections",
                str(s.connections),
                "--requests",
                str(n),
                "--duration",
                str(s.memory_cap),
                timeout=s.memory_cap + 60,
            )
            no_errors(result, "timhooks listen")
            handled, _ = wait_for(
                lambda inbox=inbox: tables.pending_inbox(inbox) == 0,
                cap=s.memory_cap,
                alive=[listener],
                every=0.5,
            )
            mem = listener.memory()
            b.procs.stop(listener)
            if result["requests"] < n or not handled:
                sec.notes.append(
                    f"run {run + 1}: timhooks listen answered {result['requests']:,} of {n:,} "
                    f"requests; handlers {'done' if handled else 'still pending'} at the cap."
                )
            sec.figure("timhooks listen: events received", "events", 0).add(result["requests"])
            sec.figure("timhooks listen: RSS after start-up", "MiB", 1).add(_mib(start_rss))
            sec.figure("timhooks listen: peak RSS (VmHWM)", "MiB", 1).add(_mib(mem.get("VmHWM")))

            db = work / "server.db"
            tables.fill_outbox(db, n, seed=f"mem{run}-{time.time_ns()}")
            bare = b.bare()
            serve = b.serve(db, callback=bare.url + "/")
            start_rss = serve.memory().get("VmRSS")
            wait_for(
                lambda db=db: tables.pending_outbox(db) == 0,
                cap=s.memory_cap,
                alive=[serve, bare],
                every=0.5,
            )
            mem = serve.memory()
            b.procs.stop(serve)
            b.procs.stop(bare)
            delivered = tables.delivered_outbox(db)
            if delivered < n:
                sec.notes.append(
                    f"run {run + 1}: timhooks serve delivered {delivered:,} of {n:,} within "
                    f"{s.memory_cap:g} s (the dispatcher's rate, scenario c, bounds it)."
                )
            sec.figure("timhooks serve: events delivered", "events", 0).add(delivered)
            sec.figure("timhooks serve: RSS after start-up", "MiB", 1).add(_mib(start_rss))
            sec.figure("timhooks serve: peak RSS (VmHWM)", "MiB", 1).add(_mib(mem.get("VmHWM")))
            b.say(f"  run {run + 1}: serve {_mib(mem.get('VmHWM')):.0f} MiB peak")
    return sec
