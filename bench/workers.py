"""Dispatcher throughput by number of `timhooks worker` processes, PostgreSQL and SQLite.

The outbox is filled with N after-webhooks in one transaction, then K worker processes deliver
them to the bare ASGI receiver (bench/bare_app.py under uvicorn); the figure is webhooks
delivered per second from the workers' start to the last delivery. Each run uses a fresh
PostgreSQL schema or SQLite file. Usage:

    python bench/workers.py --rows 20000 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
APP = 1400099999


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int) -> None:
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(port)


def fill(url: str, rows: int, receiver: str) -> None:
    """Create the schema and app through the library, then insert the rows in one go."""
    import asyncio

    from timhooks.server.config import CallbackConfig
    from timhooks.server.store import App, ServerStore

    async def go() -> None:
        store = ServerStore(url)
        try:
            cfg = CallbackConfig(url=receiver)
            await store.put_app(App(APP, "bench-key", ("administrator",), cfg), now=time.time())
            now = time.time()
            body = [
                (
                    APP,
                    "Group.CallbackAfterGroupFull",
                    json.dumps(
                        {
                            "CallbackCommand": "Group.CallbackAfterGroupFull",
                            "GroupId": f"@TGS#b{i}",
                            "EventTime": int(now * 1000),
                        }
                    ).encode(),
                    now,
                    now,
                )
                for i in range(rows)
            ]
            await store.run(
                lambda c: c.executemany(
                    "INSERT INTO outbox (sdk_app_id, command, phase, body, client_ip,"
                    " opt_platform, status, next_attempt_at, created_at)"
                    " VALUES (?, ?, 'after', ?, '127.0.0.1', 'RESTAPI', 'pending', ?, ?)",
                    body,
                )
            )
        finally:
            await store.close()

    asyncio.run(go())


def pending(url: str) -> int:
    import asyncio

    from timhooks.server.store import ServerStore

    async def go() -> int:
        store = ServerStore(url)
        try:
            return await store.pending_count()
        finally:
            await store.close()

    return asyncio.run(go())


def one_run(url: str, rows: int, workers: int, receiver_port: int) -> float:
    fill(url, rows, f"http://127.0.0.1:{receiver_port}/")
    procs = []
    start = time.perf_counter()
    try:
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "timhooks", "worker", "--db", url],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        while pending(url) > 0:
            time.sleep(0.05)
        return rows / (time.perf_counter() - start)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def pg_schema(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in base else "?"
    return schema, f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TEST_POSTGRES_URL"))
    args = parser.parse_args()
    port = free_port()
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(HERE),
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    results: dict[str, list[float]] = {}
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.repeat):
                results.setdefault("sqlite, 1 worker", []).append(
                    one_run(f"sqlite:///{tmp}/run{n}.db", args.rows, 1, port)
                )
        if args.pg:
            for workers in (1, 2, 4):
                for _ in range(args.repeat):
                    schema, url = pg_schema(args.pg)
                    try:
                        results.setdefault(f"postgresql, {workers} workers", []).append(
                            one_run(url, args.rows, workers, port)
                        )
                    finally:
                        drop_schema(args.pg, schema)
    finally:
        receiver.terminate()
        receiver.wait()
    print(f"{args.rows} webhooks, {args.repeat} runs each, webhooks/s median (min-max):")
    for name, values in results.items():
        print(
            f"  {name:<24} {statistics.median(values):8.0f}  ({min(values):.0f}-{max(values):.0f})"
        )


if __name__ == "__main__":
    main()
