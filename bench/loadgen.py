"""A small keep-alive HTTP/1.1 load generator for webhook and REST requests (its own process).

Each of ``--connections`` connections sends one request at a time and waits for its answer,
for ``--duration`` seconds or ``--requests`` requests in all (closed loop). ``--rate`` paces the
requests to a fixed total rate instead (open loop: latency counts from the scheduled send time,
so a slow answer delays the requests queued behind it and shows in their latency).

What is sent:

- by default unique after-webhooks (``--kind after``: ``Group.CallbackAfterGroupFull`` with a
  counter in GroupId) or before-webhooks (``--kind before``:
  ``OfficialAccount.CallbackBeforeCreateOfficialAccount``), signed as Tencent signs them when
  ``--token`` is given;
- with ``--requests-file``, the requests of a JSON-lines file, each
  ``{"target": "/path?query", "body": "...", "tag": "..."}``, every line sent once, in order
  (spread over the connections); with ``--cycle`` the file starts again from its first line
  until ``--duration`` ends. Latencies are reported per ``tag`` too.

Several URLs spread the connections over several servers (connection k goes to URL k mod n).
``--expect-ok`` counts an HTTP 200 answer as an error unless its body holds
``"ActionStatus":"OK"`` (REST answers are always HTTP 200). ``--codes`` counts the answers by
the ``ErrorCode`` of their JSON body (``codes`` in the output). ``--warmup`` seconds of traffic
are sent first and left out of the figures.

Prints one JSON object: requests, errors, seconds, rps, p50_ms, p99_ms, max_ms, mean_ms, cpu_s
(this process's CPU time while measuring), ``tags`` with per-tag figures, ``codes`` with
``--codes``, and with ``--rate``
send_lag_p50_ms and send_lag_p99_ms: how late the generator itself sent after the scheduled
time (its own share of the latency).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import re
import statistics
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

BODIES = {
    "after": (
        "Group.CallbackAfterGroupFull",
        '{{"CallbackCommand":"{cmd}","GroupId":"@TGS#bench{n}","EventTime":{ms}}}',
    ),
    "before": (
        "OfficialAccount.CallbackBeforeCreateOfficialAccount",
        '{{"CallbackCommand":"{cmd}","Operator_Account":"admin","Owner_Account":"u{n}",'
        '"Name":"bench {n}","EventTime":{ms}}}',
    ),
}
_OK = b'"ActionStatus":"OK"'
_CODE = re.compile(rb'"ErrorCode"\s*:\s*(-?\d+)')
T = TypeVar("T")


def summarize(latencies: list[float], seconds: float) -> dict[str, float]:
    """Count, rate and latency percentiles (milliseconds) of a list of latencies (seconds)."""
    lat = sorted(latencies)
    if not lat:
        nan = float("nan")
        return {"requests": 0, "rps": 0.0, "p50_ms": nan, "p99_ms": nan, "max_ms": nan}

    def pick(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3)

    return {
        "requests": len(lat),
        "rps": round(len(lat) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "max_ms": round(lat[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(lat) * 1000, 3),
    }


class Load:
    """The shared state of all connections: what to send next and what was measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.servers = []
        for url in args.url:
            parts = urlsplit(url)
            self.servers.append((parts.hostname or "127.0.0.1", parts.port or 80))
        self.path = urlsplit(args.url[0]).path or "/"
        self.args = args
        self.command, self.template = BODIES[args.kind]
        self.counter = 0
        self.sign_second = 0
        self.sign = ""
        self.file: Iterator[tuple[str, bytes, str]] | None = None
        if args.requests_file:
            self.file = self._read(args.requests_file, cycle=args.cycle)
        self.measuring = args.warmup <= 0
        self.latencies: list[float] = []
        self.tagged: dict[str, list[float]] = {}
        self.lags: list[float] = []
        self.errors = 0
        self.sample_error = ""
        self.codes: dict[str, int] = {}

    @staticmethod
    def _read(path: str, *, cycle: bool) -> Iterator[tuple[str, bytes, str]]:
        with open(path, encoding="utf-8") as fh:
            lines = [
                (item["target"], item["body"].encode(), str(item.get("tag", "")))
                for item in (json.loads(line) for line in fh if line.strip())
            ]
        return itertools.cycle(lines) if cycle else iter(lines)

    def _webhook(self) -> tuple[str, bytes, str]:
        self.counter += 1
        now = time.time()
        query = (
            f"SdkAppid={self.args.app_id}&CallbackCommand={self.command}&contenttype=json"
            f"&ClientIP=127.0.0.1&OptPlatform=RESTAPI"
        )
        if self.args.token:
            second = int(now)
            if second != self.sign_second:
                self.sign_second = second
                self.sign = hashlib.sha256(f"{self.args.token}{second}".encode()).hexdigest()
            query += f"&Sign={self.sign}&RequestTime={self.sign_second}"
        body = self.template.format(
            cmd=self.command, n=f"{self.args.seed}-{self.counter}", ms=int(now * 1000)
        ).encode()
        return f"{self.path}?{query}", body, ""

    def next_request(self, host: str, port: int) -> tuple[bytes, str] | None:
        """The next request's bytes (for ``host:port``) and tag, or None when the file is used
        up."""
        if self.file is not None:
            item = next(self.file, None)
            if item is None:
                return None
            target, body, tag = item
        else:
            target, body, tag = self._webhook()
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body, tag

    def note(self, started: float, status: int, answer: bytes, tag: str) -> None:
        """Record one answered request."""
        if not self.measuring:
            return
        latency = time.perf_counter() - started
        self.latencies.append(latency)
        if tag:
            self.tagged.setdefault(tag, []).append(latency)
        if self.args.codes:
            found = _CODE.search(answer)
            code = found.group(1).decode() if found else "none"
            self.codes[code] = self.codes.get(code, 0) + 1
        if status != 200 or (self.args.expect_ok and _OK not in answer):
            self.errors += 1
            if not self.sample_error:
                self.sample_error = f"HTTP {status}: {answer[:300].decode('utf-8', 'replace')}"

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = -1
        chunked = False
        for line in head.split(b"\r\n"):
            low = line.lower()
            if low.startswith(b"content-length:"):
                length = int(line[15:])
            elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
                chunked = True
        if not chunked:
            return status, await reader.readexactly(max(length, 0))
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(parts)
            parts.append(data[:-2])

    async def connection(
        self, number: int, deadline: float, budget: list[int], slots: asyncio.Queue[float] | None
    ) -> None:
        """One keep-alive connection sending requests until the deadline or the budget ends."""
        host, port = self.servers[number % len(self.servers)]
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and budget[0] > 0:
                if slots is not None:
                    try:
                        started = await asyncio.wait_for(
                            slots.get(), max(0.0, deadline - time.perf_counter())
                        )
                    except TimeoutError:
                        return
                else:
                    started = time.perf_counter()
                request = self.next_request(host, port)
                if request is None:
                    return
                budget[0] -= 1
                data, tag = request
                if slots is not None and self.measuring:
                    self.lags.append(time.perf_counter() - started)
                writer.write(data)
                try:
                    status, answer = await self._answer(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    self.errors += 1
                    self.sample_error = self.sample_error or f"{type(exc).__name__}: {exc}"
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                self.note(started, status, answer, tag)
        finally:
            writer.close()

    async def pace(self, slots: asyncio.Queue[float], deadline: float) -> None:
        """Put one send slot (its scheduled time) in the queue every 1/rate seconds."""
        interval = 1.0 / self.args.rate
        nxt = time.perf_counter()
        while nxt < deadline:
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
            slots.put_nowait(nxt)
            nxt += interval

    async def run(self) -> dict[str, object]:
        """Send the load; return the figures."""
        start = time.perf_counter()
        measured_from = start + self.args.warmup
        deadline = measured_from + self.args.duration
        budget = [self.args.requests or 10**12]
        slots: asyncio.Queue[float] | None = asyncio.Queue() if self.args.rate else None
        tasks = [
            asyncio.ensure_future(self.connection(n, deadline, budget, slots))
            for n in range(self.args.connections)
        ]
        if slots is not None:
            tasks.append(asyncio.ensure_future(self.pace(slots, deadline)))
        cpu = time.process_time()
        if self.args.warmup > 0:
            await asyncio.sleep(self.args.warmup)
            self.measuring = True
            cpu = time.process_time()
        measured_from = time.perf_counter()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - measured_from
        result: dict[str, object] = {
            **summarize(self.latencies, elapsed),
            "errors": self.errors,
            "seconds": round(elapsed, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
        }
        if self.lags:
            lags = summarize(self.lags, elapsed)
            result["send_lag_p50_ms"] = lags["p50_ms"]
            result["send_lag_p99_ms"] = lags["p99_ms"]
        if self.tagged:
            result["tags"] = {tag: summarize(lat, elapsed) for tag, lat in self.tagged.items()}
        if self.args.codes:
            result["codes"] = self.codes
        if self.sample_error:
            result["sample_error"] = self.sample_error
        return result


def run_loop(coro: Coroutine[Any, Any, T], loop: str = "uvloop") -> T:
    """Run ``coro`` on uvloop when asked and installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    if loop == "asyncio":
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def main() -> None:
    """Parse the flags, send the load, print the JSON figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "url",
        nargs="+",
        help="http://127.0.0.1:PORT/path (the path of generated webhooks); several spread the "
        "connections over several servers",
    )
    parser.add_argument("--app-id", type=int, default=1400000000)
    parser.add_argument("--token", help="sign generated webhooks with this token")
    parser.add_argument("--kind", choices=sorted(BODIES), default="after")
    parser.add_argument("--requests-file", help="JSON lines of target, body, tag to send")
    parser.add_argument("--cycle", action="store_true", help="repeat the file until --duration")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=0, help="stop after this many")
    parser.add_argument("--rate", type=float, default=0.0, help="fixed total requests/s")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds not measured")
    parser.add_argument("--expect-ok", action="store_true", help='require "ActionStatus":"OK"')
    parser.add_argument("--codes", action="store_true", help="count answers by their ErrorCode")
    parser.add_argument("--seed", default=str(time.time_ns()))
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    print(json.dumps(run_loop(Load(args).run(), args.loop)))


if __name__ == "__main__":
    main()
