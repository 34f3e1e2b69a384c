"""The scenarios of issue 5, each measured against its yardstick in the same run.

Every run starts its processes fresh (fresh databases in the run's temp directory), measures
with a load generator in its own process, checks that what was claimed really happened (rows
stored, delivered, subscribed), and stops everything. Within a run the two sides of a
comparison are measured one after the other, their order alternating between runs so that a
drift of the machine does not always favour the same side.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from benchlib import prefill
from benchlib.procs import (
    BENCH,
    HOST,
    PYTHON,
    BenchError,
    CpuWindow,
    Proc,
    Procs,
    free_port,
    run_json,
)
from benchlib.profiles import Profile, Recording, summarize
from benchlib.results import Bar, Section, ratio
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.events import AfterGroupFull, BeforeCreateOfficialAccount
from timhooks.protocol.query import build_query
from timhooks.protocol.signing import compute_sign

APP_ID = prefill.APP_ID
TOKEN = prefill.TOKEN
MIB = 1024.0


@dataclass(frozen=True)
class Settings:
    """Sizes and durations of one harness run."""

    quick: bool = False
    runs: int = 3
    duration: float = 5.0  # seconds of measured load per closed-loop measurement
    warmup: float = 1.0  # seconds of load before measuring
    connections: int = 32  # load generator connections; dispatcher concurrency is 32 too
    before_rate: float = 1000.0
    outbox_rows: int = 20_000
    drain_cap: float = 15.0  # seconds a drain may take before the rate is read from a part
    yardstick_cap: float = 5.0  # seconds of the (slow) httpx yardstick
    rest_calls: int = 200  # calls per add_subscriber / add_group_member batch
    rest_connections: int = 8
    oa_size: int = 100_000
    group_size: int = 5_000
    group_max: int = 6_000
    create_calls: int = 300  # create_official_account calls per batch (one connection)
    memory_events: int = 100_000
    memory_cap: float = 60.0
    profile: bool = True
    profile_seconds: float = 8.0
    contention_seconds: float = 15.0  # measured seconds of mixed adds and removes (g)
    contention_clients: int = 32
    pg_url: str | None = None  # a PostgreSQL database for g's PostgreSQL configurations

    @classmethod
    def quick_run(cls) -> Settings:
        """A seconds-long smoke run: one run of everything, small sizes."""
        return cls(
            quick=True,
            runs=1,
            duration=0.5,
            warmup=0.2,
            outbox_rows=400,
            drain_cap=1.5,
            yardstick_cap=1.0,
            rest_calls=10,
            oa_size=10_000,
            create_calls=30,
            memory_events=400,
            memory_cap=3.0,
            profile=False,
            profile_seconds=3.0,
            contention_seconds=1.0,
        )


class Bench:
    """Starts the processes of a scenario and runs load generators against them."""

    def __init__(self, settings: Settings, root: Path, procs: Procs, say: Callable[[str], None]):
        self.s = settings
        self.root = root
        self.procs = procs
        self.say = say
        self._dirs = 0

    def workdir(self, name: str) -> Path:
        """A new directory under the run's temp directory."""
        self._dirs += 1
        path = self.root / f"{self._dirs:02d}-{name}"
        path.mkdir()
        return path

    # --- processes --------------------------------------------------------------------------

    def listen(self, db: Path, *, token: str | None = TOKEN) -> Proc:
        """``timhooks listen`` on a fresh port (its event lines go to /dev/null)."""
        port = self._port()
        argv = [PYTHON, "-m", "timhooks", "listen", "--app-id", str(APP_ID), "--host", HOST]
        argv += ["--port", str(port), "--db", str(db)]
        if token:
            argv += ["--token", token]
        return self.procs.start("listen", argv, port=port)

    def bare(self) -> Proc:
        """bench/bare_app.py under uvicorn with the options ``timhooks listen`` uses."""
        port = self._port()
        argv = [PYTHON, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH)]
        argv += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
        argv += ["--no-access-log", "--lifespan", "on", "--ws", "none"]
        # The HTTP protocol with the connection limits timhooks serves with (timhooks/hosting.py).
        argv += ["--http", "timhooks.hosting:LimitedHttpProtocol", "--timeout-keep-alive", "5"]
        return self.procs.start("bare", argv, port=port)

    def serve(self, db: Path, *, callback: str | None) -> Proc:
        """``timhooks serve`` on ``db`` for the bench app, webhooks to ``callback`` (signed)."""
        port = self._port()
        argv = [PYTHON, "-m", "timhooks", "serve", "--db", str(db), "--app-id", str(APP_ID)]
        argv += ["--key", prefill.KEY, "--host", HOST, "--port", str(port)]
        if callback is not None:
            argv += ["--callback-url", callback, "--callback-token", TOKEN]
        return self.procs.start("serve", argv, port=port)

    @staticmethod
    def _port() -> int:
        return free_port()

    # --- load -------------------------------------------------------------------------------

    def loadgen(self, url: str, *args: str, timeout: float) -> dict[str, Any]:
        """Run bench/loadgen.py to completion; its JSON figures."""
        return run_json(
            [PYTHON, str(BENCH / "loadgen.py"), url, "--app-id", str(APP_ID), *args],
            timeout=timeout,
            cwd=self.root,
        )

    def rawclient(self, url: str, requests: Path, *, loop: str, cap: float) -> dict[str, Any]:
        """Run bench/rawclient.py over a requests file; its JSON figures."""
        argv = [PYTHON, str(BENCH / "rawclient.py"), url, "--requests-file", str(requests)]
        argv += ["--connections", str(self.s.connections), "--loop", loop, "--duration", str(cap)]
        return run_json(argv, timeout=cap + 60, cwd=self.root)

    def closed_loop(self, proc: Proc, *extra: str) -> tuple[dict[str, Any], CpuWindow]:
        """Signed after-webhooks from ``connections`` connections for ``duration`` seconds."""
        s = self.s
        args = ["--token", TOKEN, "--connections", str(s.connections)]
        args += ["--duration", str(s.duration), "--warmup", str(s.warmup), *extra]
        with CpuWindow([proc]) as window:
            result = self.loadgen(proc.url + "/", *args, timeout=s.duration + s.warmup + 60)
        proc.check_alive()
        return result, window


# --- helpers ---------------------------------------------------------------------------------


def _order(run: int, sides: Sequence[str]) -> list[str]:
    """The sides in this run's order: as given on even runs, reversed on odd ones."""
    return list(sides) if run % 2 == 0 else list(reversed(sides))


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)


def _no_errors(result: dict[str, Any], what: str) -> None:
    _need(
        int(result.get("errors", 0)) == 0,
        f"{what}: {result.get('errors')} failed requests ({result.get('sample_error', '')})",
    )


def _wait_for(
    check: Callable[[], bool], *, cap: float, alive: Sequence[Proc], every: float = 0.2
) -> tuple[bool, float]:
    """Poll ``check`` until true or ``cap`` seconds; (done, seconds waited)."""
    start = time.perf_counter()
    while True:
        for proc in alive:
            proc.check_alive()
        if check():
            return True, time.perf_counter() - start
        if time.perf_counter() - start > cap:
            return False, time.perf_counter() - start
        time.sleep(every)


def _pending_outbox(db: Path) -> int:
    return prefill.scalar(
        db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND phase = 'after'"
    )


def _pending_inbox(db: Path) -> int:
    return prefill.scalar(db, "SELECT COUNT(*) FROM inbox WHERE status = 'pending'")


def delivery_stats(db: Path) -> dict[str, float]:
    """Rate and latency of the after-webhook attempts a server recorded (read after it stopped).

    The rate counts successful attempts between the start of the first attempt and the end of
    the last one, so the server's start-up is not in it.
    """
    conn = prefill.read_only(db)
    try:
        first, last, attempts, ok, busy = conn.execute(
            "SELECT MIN(a.at), MAX(a.at + a.latency_ms / 1000.0), COUNT(*),"
            " SUM(a.error IS NULL), SUM(a.latency_ms) / 1000.0"
            " FROM attempts a JOIN outbox o ON o.id = a.outbox_id WHERE o.phase = 'after'"
        ).fetchone()
        lat = sorted(
            r[0]
            for r in conn.execute(
                "SELECT a.latency_ms FROM attempts a JOIN outbox o ON o.id = a.outbox_id"
                " WHERE o.phase = 'after' AND a.error IS NULL"
            )
        )
        errors = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT a.error FROM attempts a WHERE a.error IS NOT NULL LIMIT 3"
            )
        ]
    finally:
        conn.close()
    span = (last - first) if attempts else 0.0
    ok = int(ok or 0)

    def pick(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else math.nan

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
        "errors": "; ".join(str(e) for e in errors),  # type: ignore[dict-item]
    }


def _write_lines(path: Path, items: Iterator[dict[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item) + "\n")
    return path


def _signed_after_query(now: int) -> str:
    return build_query(
        sdk_app_id=APP_ID,
        callback_command=AfterGroupFull.command,
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        request_time=now,
        sign=compute_sign(TOKEN, now),
    )


def _rest_target(path: str, usersig: str) -> str:
    return (
        f"/v4/{path}?sdkappid={APP_ID}&identifier={prefill.ADMIN}&usersig={quote(usersig)}"
        f"&random={random.randrange(2**32)}&contenttype=json"
    )


def _mib(kb: int | None) -> float:
    return kb / MIB if kb else math.nan


@contextmanager
def _scenario(section: Section, say: Callable[[str], None]) -> Iterator[Section]:
    """Time a scenario; a failure becomes the section's error instead of ending the harness."""
    start = time.perf_counter()
    say(f"[{section.key}] {section.title}")
    try:
        yield section
    except BenchError as exc:
        section.error = str(exc)
        say(f"[{section.key}] FAILED: {exc}")
    finally:
        section.seconds = time.perf_counter() - start


def _cpu_figures(
    section: Section, prefix: str, window: CpuWindow, proc: Proc, per_second: float
) -> None:
    """CPU of the process under test (cores, and microseconds per request), of the load
    generator and of everything else on the machine."""
    cores = window.cores(proc.name)
    section.figure(f"{prefix}: CPU", "cores", 2).add(cores)
    section.figure(f"{prefix}: CPU per request", "µs", 0).add(
        cores / per_second * 1e6 if per_second > 0 else math.nan
    )
    section.figure(f"{prefix}: load generator CPU", "cores", 2).add(window.load_cores)
    section.figure(f"{prefix}: other processes' CPU", "cores", 2).add(window.other_cores)


# --- a. receiver vs bare -----------------------------------------------------------------------


def receiver_throughput(b: Bench) -> Section:
    """a. `timhooks listen` storing signed unique after-webhooks, vs bench/bare_app.py."""
    s = b.s
    sec = Section("a", "Receiver: after-webhooks stored durably, vs a bare ASGI app")
    sec.method = [
        "`timhooks listen --token` as a subprocess with a fresh inbox, and bench/bare_app.py "
        "under uvicorn with the same options (uvloop, timhooks' connection-limited httptools "
        "protocol, lifespan on, no access log).",
        f"bench/loadgen.py, closed loop: {s.connections} keep-alive connections, unique signed "
        f"Group.CallbackAfterGroupFull bodies, {s.warmup:g} s warm-up then {s.duration:g} s "
        f"measured; the same requests to both.",
        "The receiver answers 200 only after the webhook is committed to SQLite "
        "(WAL, synchronous=FULL); its inbox worker runs the CLI's print handler meanwhile "
        "(output to /dev/null).",
        "Checked: no failed request, and the inbox holds at least every answered request.",
    ]
    with _scenario(sec, b.say):
        for run in range(s.runs):
            rps: dict[str, float] = {}
            for side in _order(run, ("receiver", "bare")):
                if side == "receiver":
                    db = b.workdir("a-listen") / "inbox.db"
                    proc = b.listen(db)
                    label = "timhooks listen"
                else:
                    db = None
                    proc = b.bare()
                    label = "bare ASGI app"
                result, window = b.closed_loop(proc)
                b.procs.stop(proc)
                _no_errors(result, label)
                if db is not None:
                    stored = prefill.scalar(db, "SELECT COUNT(*) FROM inbox")
                    _need(
                        stored >= result["requests"],
                        f"inbox holds {stored} rows after {result['requests']} answered requests",
                    )
                rps[side] = result["rps"]
                sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
                sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
                _cpu_figures(sec, label, window, proc, result["rps"])
                b.say(f"  run {run + 1} {label}: {result['rps']:.0f} req/s")
            sec.ratio("receiver / bare (requests/s)").add(ratio(rps["receiver"], rps["bare"]))
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


def _receiver_limits(sec: Section) -> None:
    """Say, from the figures, what bounds the receiver."""
    listen = sec.figure("timhooks listen: CPU", "cores", 2).median
    bare = sec.figure("bare ASGI app: CPU", "cores", 2).median
    per_l = sec.figure("timhooks listen: CPU per request", "µs", 0).median
    per_b = sec.figure("bare ASGI app: CPU per request", "µs", 0).median
    bare_rps = sec.figure("bare ASGI app: requests/s", "req/s", 0).median
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


# --- b. before-webhooks at a fixed rate --------------------------------------------------------


def receiver_before_latency(b: Bench) -> Section:
    """b. Before-webhook round trip at a fixed rate, vs the bare app at the same rate."""
    s = b.s
    sec = Section("b", f"Receiver: before-webhooks at a fixed {s.before_rate:,.0f} requests/s")
    sec.method = [
        f"bench/loadgen.py open loop at {s.before_rate:,.0f} requests/s ({s.connections} "
        f"connections), signed unique OfficialAccount.CallbackBeforeCreateOfficialAccount "
        f"bodies, {s.warmup:g} s warm-up then {s.duration:g} s measured.",
        "Latency counts from each request's scheduled send time, so the generator's own "
        "lateness is in it: the bare app at the same rate shows that floor, and the "
        "generator's send lag is reported.",
        "`timhooks listen` runs its handler inline (the CLI's print handler, which allows) and "
        "answers; the answered webhook is recorded in the inbox in the background.",
    ]
    with _scenario(sec, b.say):
        for run in range(s.runs):
            p99: dict[str, float] = {}
            for side in _order(run, ("receiver", "bare")):
                proc = (
                    b.listen(b.workdir("b-listen") / "inbox.db") if side == "receiver" else b.bare()
                )
                label = "timhooks listen" if side == "receiver" else "bare ASGI app"
                result, window = b.closed_loop(
                    proc, "--kind", "before", "--rate", str(s.before_rate)
                )
                b.procs.stop(proc)
                _no_errors(result, label)
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
                _cpu_figures(sec, label, window, proc, result["rps"])
                b.say(f"  run {run + 1} {label}: p99 {result['p99_ms']:.2f} ms")
            sec.figure("p99 added by the receiver over the bare app", "ms", 2).add(
                p99["receiver"] - p99["bare"]
            )
        sec.bars.append(
            Bar(
                f"before-webhook p99 at {s.before_rate:,.0f} req/s",
                sec.figure("timhooks listen: p99 latency", "ms", 2),
                5.0,
                False,
            )
        )
    return sec


# --- c. dispatcher -----------------------------------------------------------------------------


def dispatcher_throughput(b: Bench) -> Section:
    """c. The outbox dispatcher of `timhooks serve`, vs plain client loops, and end to end."""
    s = b.s
    n = s.outbox_rows
    sec = Section("c", "Dispatcher: after-webhooks delivered from the outbox")
    sec.method = [
        f"{n:,} pending Group.CallbackAfterGroupFull rows are inserted in one transaction into "
        "a fresh server database (schema made by the server's own store), then "
        "`timhooks serve --callback-url ... --callback-token ...` starts on it and its "
        "dispatcher (32 deliveries in flight, the default) drains the outbox. This measures "
        "the dispatcher as users run it: in the CLI process, with its SQLite claims and "
        "attempt records, the REST API idle.",
        "Rate = successful attempts / (end of the last attempt - start of the first), from "
        "the server's own attempt records, so start-up is not counted. A drain that has not "
        f"finished after {s.drain_cap:g} s is stopped and the rate read from what was "
        "delivered.",
        "The yardstick: bench/loadgen.py posting the same bodies with the same signed query to "
        "the same bare receiver, 32 requests in flight on keep-alive connections, raw asyncio "
        "streams with no database: on the event loop `timhooks serve` runs on (detected from "
        "the libraries it mapped), and on the other loop for context. Also a plain "
        f"httpx.AsyncClient loop (bench/rawclient.py, {s.yardstick_cap:g} s) for context.",
        "End to end: the same drain to `timhooks listen --token` as the app backend.",
        "Checked: every attempt of the drain succeeded; the receiver stored every delivery.",
    ]
    with _scenario(sec, b.say):
        serve_loop = "asyncio"
        for run in range(s.runs):
            rates: dict[str, float] = {}
            bare = b.bare()
            for side in _order(run, ("dispatcher", "raw")):
                if side == "dispatcher":
                    rate, serve_loop = _dispatch(b, sec, bare, label="dispatcher -> bare")
                    rates["dispatcher"] = rate
                else:
                    rates.update(_raw_clients(b, sec, bare, run))
            b.procs.stop(bare)
            rates["e2e"] = _end_to_end(b, sec)
            other = "uvloop" if serve_loop == "asyncio" else "asyncio"
            sec.ratio(f"dispatcher / raw sockets on {serve_loop} (serve's loop)").add(
                ratio(rates["dispatcher"], rates[f"sockets/{serve_loop}"])
            )
            sec.ratio(f"dispatcher / raw sockets on {other}").add(
                ratio(rates["dispatcher"], rates[f"sockets/{other}"])
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
        _dispatcher_limits(sec, serve_loop)
    return sec


def _drain(
    b: Bench,
    sec: Section,
    db: Path,
    serve_to: Proc,
    *,
    label: str,
    rows: int,
    cap: float,
    loops: list[str] | None = None,
) -> tuple[dict[str, float], CpuWindow, Proc]:
    serve = b.serve(db, callback=serve_to.url + "/")
    if loops is not None:
        loops.append(_event_loop_of(serve))
    with CpuWindow([serve, serve_to]) as window:
        done, _ = _wait_for(lambda: _pending_outbox(db) == 0, cap=cap, alive=[serve, serve_to])
    b.procs.stop(serve)
    stats = delivery_stats(db)
    _need(
        stats["failed"] == 0, f"{label}: {stats['failed']:.0f} failed attempts: {stats['errors']}"
    )
    if not done:
        sec.notes.append(
            f"{label}: the drain was stopped after {cap:g} s with {stats['ok']:,.0f} of "
            f"{rows:,} delivered; the rate is over those."
        )
    return stats, window, serve


def _dispatch(b: Bench, sec: Section, bare: Proc, *, label: str) -> tuple[float, str]:
    s = b.s
    db = b.workdir("c-serve") / "server.db"
    prefill.outbox(db, s.outbox_rows, seed=f"{time.time_ns()}")
    loops: list[str] = []
    stats, window, serve = _drain(
        b, sec, db, bare, label=label, rows=s.outbox_rows, cap=s.drain_cap, loops=loops
    )
    cores = window.cores(serve.name)
    sec.figure(f"{label}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{label}: attempt p50 latency", "ms", 2).add(stats["p50_ms"])
    sec.figure(f"{label}: attempt p99 latency", "ms", 2).add(stats["p99_ms"])
    sec.figure(f"{label}: attempts in flight (average, of 32)", "requests", 1).add(
        stats["in_flight"]
    )
    sec.figure(f"{label}: timhooks serve CPU", "cores", 2).add(cores)
    sec.figure(f"{label}: timhooks serve CPU per webhook", "µs", 0).add(
        cores / stats["rate"] * 1e6 if stats["rate"] > 0 else math.nan
    )
    sec.figure(f"{label}: other processes' CPU", "cores", 2).add(window.other_cores)
    b.say(f"  {label}: {stats['rate']:.0f} webhooks/s")
    return stats["rate"], loops[0] if loops else "asyncio"


def _event_loop_of(proc: Proc) -> str:
    """uvloop if the process has uvloop's extension mapped (it runs its loop), else asyncio."""
    try:
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
    except OSError:
        return "asyncio"
    return "uvloop" if "uvloop/loop." in maps else "asyncio"


def _raw_clients(b: Bench, sec: Section, bare: Proc, run: int) -> dict[str, float]:
    s = b.s
    work = b.workdir("c-raw")
    query = _signed_after_query(int(time.time()))
    now = time.time()
    bodies = (prefill.group_full_body(f"raw{run}-{i}", now) for i in range(s.outbox_rows))
    requests = _write_lines(
        work / "requests.jsonl", ({"target": f"/?{query}", "body": b.decode()} for b in bodies)
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
        _no_errors(result, label)
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
    _no_errors(result, label)
    rates["httpx"] = result["rps"]
    sec.figure(f"{label}: requests/s", "req/s", 0).add(result["rps"])
    sec.figure(f"{label}: client CPU", "cores", 2).add(window.load_cores)
    sec.figure(f"{label}: client CPU per request", "µs", 0).add(
        window.load_cpu / result["requests"] * 1e6 if result["requests"] else math.nan
    )
    b.say(f"  {label}: {result['rps']:.0f} req/s")
    return rates


def _end_to_end(b: Bench, sec: Section) -> float:
    s = b.s
    label = "dispatcher -> timhooks listen"
    work = b.workdir("c-e2e")
    db = work / "server.db"
    prefill.outbox(db, s.outbox_rows, seed=f"{time.time_ns()}")
    inbox = work / "inbox.db"
    listener = b.listen(inbox)
    stats, window, _ = _drain(
        b, sec, db, listener, label=label, rows=s.outbox_rows, cap=s.drain_cap
    )
    b.procs.stop(listener)
    stored = prefill.scalar(inbox, "SELECT COUNT(*) FROM inbox")
    _need(stored == stats["ok"], f"{label}: {stats['ok']} delivered but {stored} stored")
    sec.figure(f"{label}: webhooks/s", "webhooks/s", 0).add(stats["rate"])
    sec.figure(f"{label}: attempt p50 latency", "ms", 2).add(stats["p50_ms"])
    sec.figure(f"{label}: attempts in flight (average, of 32)", "requests", 1).add(
        stats["in_flight"]
    )
    sec.figure(f"{label}: timhooks serve CPU", "cores", 2).add(window.cores("serve"))
    sec.figure(f"{label}: timhooks listen CPU", "cores", 2).add(window.cores("listen"))
    b.say(f"  {label}: {stats['rate']:.0f} webhooks/s")
    return stats["rate"]


def _dispatcher_limits(sec: Section, loop: str) -> None:
    """Say, from the figures, what bounds the dispatcher."""
    serve = sec.figure("dispatcher -> bare: timhooks serve CPU", "cores", 2).median
    per_hook = sec.figure("dispatcher -> bare: timhooks serve CPU per webhook", "µs", 0).median
    flight = sec.figure("dispatcher -> bare: attempts in flight (average, of 32)", "requests", 1)
    p50 = sec.figure("dispatcher -> bare: attempt p50 latency", "ms", 2).median
    raw = f"raw asyncio sockets on {loop} -> bare"
    per_req = sec.figure(f"{raw}: client CPU per request", "µs", 0).median
    sockets = sec.figure(f"{raw}: requests/s", "req/s", 0).median
    sec.notes.append(
        f"What bounds it, measured: `timhooks serve` used {serve:.2f} cores while "
        f"dispatching, {per_hook:,.0f} µs of CPU per webhook (HTTP client, claims and attempt "
        f"records in SQLite); the raw socket loop on the same event loop needed {per_req:,.0f} "
        f"µs per request for {sockets:,.0f} requests/s. On average {flight.median:.1f} of the "
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


# --- d. REST calls on empty and large targets --------------------------------------------------


def rest_scaling(b: Bench) -> Section:
    """d. add_subscriber and add_group_member on empty vs large targets."""
    s = b.s
    calls = s.rest_calls
    groups = max(1, math.ceil(calls * 100 / (s.group_max - s.group_size)))
    per_group = (s.group_max - s.group_size) // 100
    sec = Section("d", "Server REST: add_subscriber and add_group_member, empty vs large")
    sec.method = [
        f"One `timhooks serve` with webhooks off (no callback URL: the REST path and its "
        f"database work alone). Its database is pre-filled in one SQL transaction: per run "
        f"an Official Account with 0 subscribers and one with {s.oa_size:,} "
        f"(subscriber_num kept equal, MaxSubscriberNum 100,000,000), {groups} empty groups "
        f"and {groups} groups of {s.group_size:,} members (Public, MaxMemberCount "
        f"{s.group_max:,}), and the imported accounts.",
        f"Each batch is {calls} calls over the REST API on loopback (admin UserSig, checked "
        f"per call) from bench/loadgen.py with {s.rest_connections} connections: "
        f"add_subscriber with 100 new users per call, add_group_member with 100 new members "
        f"per call ({per_group} calls fill a group's {s.group_max - s.group_size:,} free "
        f"places, then the next group is used, so every call adds 100).",
        "Per run the four batches alternate empty/large order; every call must answer "
        '"ActionStatus":"OK", and afterwards the counts in the database must have grown by '
        "exactly 100 per call.",
    ]
    with _scenario(sec, b.say):
        work = b.workdir("d-rest")
        db = work / "server.db"
        b.say("  pre-filling the database")
        world = prefill.rest_world(
            db,
            runs=s.runs,
            pool=calls * 100,
            oa_size=s.oa_size,
            groups_per_run=groups,
            group_size=s.group_size,
            group_max=s.group_max,
        )
        serve = b.serve(db, callback=None)
        sig = prefill.admin_usersig()
        _rest_warmup(b, serve, work, world, sig)
        for run in range(s.runs):
            rates: dict[str, float] = {}
            batches = {
                "add_subscriber, 0 subscribers": ("oa", world.empty_oa[run], 0),
                f"add_subscriber, {s.oa_size:,} subscribers": (
                    "oa",
                    world.large_oa[run],
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
            order = _order(run, names[:2]) + _order(run, names[2:])
            for name in order:
                kind, target, before = batches[name]
                if kind == "oa":
                    file = _subscriber_calls(
                        work / f"{run}-{len(rates)}.jsonl", str(target), sig, calls
                    )
                else:
                    file = _member_calls(
                        work / f"{run}-{len(rates)}.jsonl", list(target), sig, calls, per_group
                    )
                with CpuWindow([serve]) as window:
                    result = b.loadgen(
                        serve.url + "/",
                        "--requests-file",
                        str(file),
                        "--connections",
                        str(s.rest_connections),
                        "--duration",
                        "600",
                        "--expect-ok",
                        timeout=660,
                    )
                serve.check_alive()
                _no_errors(result, name)
                _need(result["requests"] == calls, f"{name}: {result['requests']} of {calls}")
                _check_growth(db, kind, target, before, calls * 100, per_group)
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


def _subscriber_calls(path: Path, oa: str, sig: str, calls: int, start: int = 0) -> Path:
    def items() -> Iterator[dict[str, str]]:
        for k in range(calls):
            users = [prefill.pool_user(start + k * 100 + i) for i in range(100)]
            body = {
                "Official_Account": oa,
                "SubscriberList": [{"Subscriber_Account": u} for u in users],
            }
            yield {
                "target": _rest_target("official_account_open_http_svc/add_subscriber", sig),
                "body": json.dumps(body),
            }

    return _write_lines(path, items())


def _member_calls(path: Path, groups: list[str], sig: str, calls: int, per_group: int) -> Path:
    def items() -> Iterator[dict[str, str]]:
        for k in range(calls):
            users = [prefill.pool_user(k * 100 + i) for i in range(100)]
            body = {
                "GroupId": groups[k // per_group],
                "MemberList": [{"Member_Account": u} for u in users],
            }
            yield {
                "target": _rest_target("group_open_http_svc/add_group_member", sig),
                "body": json.dumps(body),
            }

    return _write_lines(path, items())


def _check_growth(
    db: Path, kind: str, target: object, before: int, added: int, per_group: int
) -> None:
    if kind == "oa":
        oa = str(target)
        num = prefill.scalar(db, "SELECT subscriber_num FROM official_accounts WHERE oa_id = ?", oa)
        rows = prefill.scalar(db, "SELECT COUNT(*) FROM subscribers WHERE oa_id = ?", oa)
        _need(
            num == rows == before + added,
            f"{oa}: subscriber_num {num}, rows {rows}, expected {before + added}",
        )
        return
    groups = list(target)  # type: ignore[call-overload]
    used = math.ceil(added / (per_group * 100))
    for group in groups[:used]:
        num = prefill.scalar(db, "SELECT member_num FROM groups WHERE group_id = ?", group)
        rows = prefill.scalar(db, "SELECT COUNT(*) FROM group_members WHERE group_id = ?", group)
        want = before + min(per_group * 100, added)
        added -= per_group * 100
        _need(num == rows == want, f"{group}: member_num {num}, rows {rows}, expected {want}")


def _rest_warmup(b: Bench, serve: Proc, work: Path, world: prefill.RestWorld, sig: str) -> None:
    """A few unmeasured calls, so the first measured batch does not pay for cold caches."""
    file = _subscriber_calls(work / "warm-oa.jsonl", world.warm_oa, sig, 5)
    b.loadgen(
        serve.url + "/",
        "--requests-file",
        str(file),
        "--connections",
        "2",
        "--duration",
        "120",
        "--expect-ok",
        timeout=180,
    )
    file = _member_calls(work / "warm-group.jsonl", [world.warm_group], sig, 5, 10)
    b.loadgen(
        serve.url + "/",
        "--requests-file",
        str(file),
        "--connections",
        "2",
        "--duration",
        "120",
        "--expect-ok",
        timeout=180,
    )


# --- e. before-webhook overhead on create_official_account -------------------------------------


def before_overhead(b: Bench) -> Section:
    """e. create_official_account latency with BeforeCreateOfficialAccount on and off."""
    s = b.s
    m = s.create_calls
    before = BeforeCreateOfficialAccount.command
    sec = Section("e", "Before-webhook overhead on create_official_account")
    sec.method = [
        "One `timhooks serve` with its webhooks going to `timhooks listen --token` (the app "
        "backend, which answers allow), both as subprocesses.",
        f"Batches of {m} create_official_account calls, one connection, one call at a time "
        "(bench/loadgen.py with a requests file), alternating: BeforeCreateOfficialAccount "
        "on (every command on), then off (timhooks_config/set_callback with a "
        "CallbackCommandList without it); the order flips every run. "
        "AfterCreateOfficialAccount goes out in both, so only the before-webhook differs.",
        "Added latency = p50 (and p99) with it on minus with it off, in the same run.",
        "Checked: every call OK, and the server recorded exactly one "
        "BeforeCreateOfficialAccount per call in the on batches and none in the off ones.",
    ]
    with _scenario(sec, b.say):
        work = b.workdir("e-before")
        db = work / "server.db"
        owners = 100
        prefill.accounts_db(db, owners)
        listener = b.listen(work / "inbox.db")
        serve = b.serve(db, callback=listener.url + "/")
        sig = prefill.admin_usersig()
        on_list = sorted(COMMANDS)
        off_list = [c for c in on_list if c != before]

        def set_commands(commands: list[str]) -> None:
            answer = httpx.post(
                serve.url + _rest_target("timhooks_config/set_callback", sig),
                json={"CallbackCommandList": commands},
                timeout=10,
            ).json()
            _need(answer.get("ActionStatus") == "OK", f"set_callback failed: {answer}")

        def batch(name: str, calls: int) -> dict[str, Any]:
            def items() -> Iterator[dict[str, str]]:
                for j in range(calls):
                    body = {
                        "Owner_Account": prefill.pool_user(j % owners),
                        "Name": f"bench {name} {j}",
                        "OfficialAccountUserID": f"@TOA#_{name}_{j}",
                    }
                    yield {
                        "target": _rest_target(
                            "official_account_open_http_svc/create_official_account", sig
                        ),
                        "body": json.dumps(body),
                    }

            file = _write_lines(work / f"{name}.jsonl", items())
            return b.loadgen(
                serve.url + "/",
                "--requests-file",
                str(file),
                "--connections",
                "1",
                "--duration",
                "600",
                "--expect-ok",
                timeout=660,
            )

        def before_count() -> int:
            return prefill.scalar(
                db, "SELECT COUNT(*) FROM outbox WHERE phase = 'before' AND command = ?", before
            )

        set_commands(on_list)
        batch("warm", 20)
        for run in range(s.runs):
            p: dict[str, tuple[float, float]] = {}
            for side in _order(run, ("on", "off")):
                set_commands(on_list if side == "on" else off_list)
                counted = before_count()
                result = batch(f"r{run}{side}", m)
                _no_errors(result, f"create_official_account ({side})")
                want = counted + (m if side == "on" else 0)
                settled, _ = _wait_for(
                    lambda w=want: before_count() == w, cap=10, alive=[serve, listener]
                )
                _need(
                    settled,
                    f"{side}: {before_count() - counted} before-webhooks recorded for {m} calls",
                )
                label = f"before-webhook {side}"
                p[side] = (result["p50_ms"], result["p99_ms"])
                sec.figure(f"{label}: p50 latency", "ms", 2).add(result["p50_ms"])
                sec.figure(f"{label}: p99 latency", "ms", 2).add(result["p99_ms"])
                sec.figure(f"{label}: calls/s", "calls/s", 0).add(result["rps"])
                b.say(f"  run {run + 1} {label}: p50 {result['p50_ms']:.2f} ms")
            sec.figure("added p50 latency (on - off)", "ms", 2).add(p["on"][0] - p["off"][0])
            sec.figure("added p99 latency (on - off)", "ms", 2).add(p["on"][1] - p["off"][1])
        b.procs.stop(serve)
        b.procs.stop(listener)
    return sec


# --- f. memory ---------------------------------------------------------------------------------


def memory(b: Bench) -> Section:
    """f. Peak RSS of `timhooks listen` and `timhooks serve` after many events."""
    s = b.s
    n = s.memory_events
    sec = Section("f", f"Memory: peak RSS after {n:,} events")
    sec.method = [
        f"`timhooks listen --token`, fresh inbox: {n:,} unique signed after-webhooks from "
        f"bench/loadgen.py ({s.connections} connections), then wait until its inbox worker has "
        "handled every one; then VmHWM (peak RSS) from /proc/PID/status.",
        f"`timhooks serve`, fresh database with {n:,} pending after-webhooks in the outbox, "
        "draining them to the bare receiver; VmHWM once the outbox is empty (or after "
        f"{s.memory_cap:g} s, with the count delivered by then).",
        "RSS right after start-up is shown for comparison.",
    ]
    with _scenario(sec, b.say):
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
            _no_errors(result, "timhooks listen")
            handled, _ = _wait_for(
                lambda inbox=inbox: _pending_inbox(inbox) == 0,
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
            prefill.outbox(db, n, seed=f"mem{run}-{time.time_ns()}")
            bare = b.bare()
            serve = b.serve(db, callback=bare.url + "/")
            start_rss = serve.memory().get("VmRSS")
            _wait_for(
                lambda db=db: _pending_outbox(db) == 0,
                cap=s.memory_cap,
                alive=[serve, bare],
                every=0.5,
            )
            mem = serve.memory()
            b.procs.stop(serve)
            b.procs.stop(bare)
            delivered = prefill.scalar(
                db, "SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND phase = 'after'"
            )
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


SCENARIOS: dict[str, Callable[[Bench], Section]] = {
    "a": receiver_throughput,
    "b": receiver_before_latency,
    "c": dispatcher_throughput,
    "d": rest_scaling,
    "e": before_overhead,
    "f": memory,
}


# --- profiles ----------------------------------------------------------------------------------


@dataclass
class ProfileRun:
    """Profiles of one process under one scenario's load: every busy thread, and the GIL."""

    title: str
    method: str
    profile: Profile | None = None  # every busy thread
    gil: Profile | None = None  # only the thread holding the GIL
    seconds: float = 0.0
    error: str | None = None


class _Recorder:
    """Two py-spy recordings of one process at once: all busy threads, and the GIL holder."""

    def __init__(self, b: Bench, proc: Proc, name: str) -> None:
        work = b.workdir(f"profile-{name}")
        self.all = Recording(proc.pid, work / f"{name}.txt")
        self.gil = Recording(proc.pid, work / f"{name}-gil.txt", gil=True)
        self.started = time.perf_counter()

    def finish(self, run: ProfileRun) -> None:
        run.seconds = time.perf_counter() - self.started
        run.profile = _summarized(run.title, self.all)
        run.gil = _summarized(run.title, self.gil)


def _summarized(title: str, rec: Recording) -> Profile:
    path = rec.stop()
    if not path.exists():
        raise BenchError(f"py-spy wrote no profile: {rec.log.read_text(errors='replace')[-500:]}")
    return summarize(title, path.read_text())


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
        load = _background_load(b, listener, s.profile_seconds + 2)
        time.sleep(1)
        rec = _Recorder(b, listener, "receiver")
        time.sleep(s.profile_seconds)
        rec.finish(run)
        load.wait(60)
        b.procs.stop(listener)
    except BenchError as exc:
        run.error = str(exc)
    return run


def _background_load(b: Bench, proc: Proc, seconds: float) -> subprocess.Popen[bytes]:
    argv = [
        PYTHON,
        str(BENCH / "loadgen.py"),
        proc.url + "/",
        "--app-id",
        str(APP_ID),
        "--token",
        TOKEN,
        "--connections",
        str(b.s.connections),
        "--duration",
        str(seconds),
    ]
    return subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=b.root,
        start_new_session=True,
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
        prefill.outbox(db, rows, seed=f"prof{time.time_ns()}")
        bare = b.bare()
        serve = b.serve(db, callback=bare.url + "/")
        rec = _Recorder(b, serve, "dispatcher")
        _wait_for(lambda: _pending_outbox(db) == 0, cap=s.profile_seconds, alive=[serve, bare])
        rec.finish(run)
        b.procs.stop(serve)
        b.procs.stop(bare)
    except BenchError as exc:
        run.error = str(exc)
    return run


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
        world = prefill.rest_world(
            db,
            runs=accounts,
            pool=per_account * 100,
            oa_size=s.oa_size,
            groups_per_run=0,
            group_size=s.group_size,
            group_max=s.group_max,
        )
        serve = b.serve(db, callback=None)
        sig = prefill.admin_usersig()
        files = [
            _subscriber_calls(work / f"calls{i}.jsonl", oa, sig, per_account)
            for i, oa in enumerate(world.large_oa)
        ]
        calls = work / "calls.jsonl"
        calls.write_text("".join(f.read_text() for f in files))
        rec = _Recorder(b, serve, "rest")
        result = b.loadgen(
            serve.url + "/",
            "--requests-file",
            str(calls),
            "--connections",
            str(s.rest_connections),
            "--duration",
            "600",
            "--expect-ok",
            timeout=660,
        )
        rec.finish(run)
        _no_errors(result, "add_subscriber")
        run.method += f" {result['rps']:.0f} calls/s while profiled."
        b.procs.stop(serve)
    except BenchError as exc:
        run.error = str(exc)
    return run


PROFILES: tuple[Callable[[Bench], ProfileRun], ...] = (
    profile_receiver,
    profile_dispatcher,
    profile_rest,
)
