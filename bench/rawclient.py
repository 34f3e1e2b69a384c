"""A plain keep-alive httpx loop posting a requests file (its own process): the dispatcher's
figure next to what a general-purpose client achieves.

``--connections`` workers share one ``httpx.AsyncClient`` (a pool of 256 connections) and
post the lines of ``--requests-file`` (JSON lines of ``target``, ``body``) to ``url`` once
each (or until ``--duration`` seconds), as fast as the answers come back: no database, no
attempt records, no answer parsing beyond reading it. ``--loop`` picks the event loop
(asyncio's own by default, as ``timhooks serve``).

Prints one JSON object like loadgen.py: requests, errors, seconds, rps, p50_ms, p99_ms, cpu_s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator

import httpx
from loadgen import summarize


async def run(args: argparse.Namespace, items: list[dict[str, str]]) -> dict[str, object]:
    """Post every request once with ``args.connections`` concurrent workers."""
    base = args.url.rstrip("/")
    work: Iterator[tuple[str, bytes]] = iter(
        (base + item["target"], item["body"].encode()) for item in items
    )
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(
        limits=limits, headers={"Content-Type": "application/json"}, timeout=10.0
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for url, body in work:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + args.duration
        await asyncio.gather(*(worker() for _ in range(args.connections)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return {
        **summarize(latencies, elapsed),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "cpu_s": round(cpu, 3),
    }


def main() -> None:
    """Parse the flags, post the file, print the JSON figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="http://127.0.0.1:PORT (targets are appended)")
    parser.add_argument("--requests-file", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--duration", type=float, default=600.0, help="stop sending after this")
    args = parser.parse_args()
    with open(args.requests_file, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    if args.loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(run(args, items))
    else:
        result = asyncio.run(run(args, items))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
