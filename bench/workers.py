"""Dispatcher throughput by number of `timhooks worker` processes, PostgreSQL and SQLite.

The outbox is filled with N after-webhooks in one transaction, then K worker processes deliver
them to the bare ASGI receiver (bench/bare_app.py under uvicorn); the figure is webhooks
delivered per second from the workers' start to the last delivery. Each run uses a fresh
PostgreSQL schema or SQLite file. Usage:

    python bench/workers.py --rows 20000 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import tables
from benchlib.harness import Bench, need, wait_for
from benchlib.procs import Proc, Procs
from benchlib.settings import Settings


def one_run(b: Bench, url: str, rows: int, workers: int, bare: Proc) -> float:
    """Fill a fresh outbox, let ``workers`` workers drain it; webhooks/s from their start."""
    tables.fill_outbox(url, rows, seed=f"w{time.time_ns()}")
    # A server run once stores the app and its callback URL, which the workers read.
    b.procs.stop(b.serve(url, callback=bare.url + "/", dispatch=False))
    start = time.perf_counter()
    procs = [b.worker(url, name=f"worker-{n + 1}", settle=0) for n in range(workers)]
    try:
        done, seconds = wait_for(
            lambda: tables.pending_outbox(url) == 0, cap=600, alive=procs, every=0.05
        )
        need(done, f"{workers} worker(s) left webhooks pending after {seconds:.0f} s")
        return rows / (time.perf_counter() - start)
    finally:
        for proc in procs:
            b.procs.stop(proc)


def main() -> None:
    """Parse the flags, measure each configuration, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="timhooks-workers-"))
    procs = Procs(root)
    results: dict[str, list[float]] = {}
    try:
        with procs.running():
            b = Bench(Settings(), root, procs, lambda text: print(text, file=sys.stderr))
            bare = b.bare()
            for n in range(args.repeat):
                results.setdefault("sqlite, 1 worker", []).append(
                    one_run(b, f"sqlite:///{root}/run{n}.db", args.rows, 1, bare)
                )
            if args.pg:
                for workers in (1, 2, 4):
                    for _ in range(args.repeat):
                        with tables.postgres_schema(args.pg, "bench_w") as url:
                            results.setdefault(f"postgresql, {workers} workers", []).append(
                                one_run(b, url, args.rows, workers, bare)
                            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.rows} webhooks, {args.repeat} runs each, webhooks/s median (min-max):")
    for name, values in results.items():
        print(
            f"  {name:<24} {statistics.median(values):8.0f}  ({min(values):.0f}-{max(values):.0f})"
        )


if __name__ == "__main__":
    main()
