"""A small keep-alive HTTP/1.1 load generator for webhook requests (run as its own process).

Each of ``--connections`` connections sends one request at a time and waits for its answer,
for ``--duration`` seconds or ``--requests`` requests in all. Bodies are unique after-webhooks
(``Group.CallbackAfterGroupFull`` with a counter in GroupId) unless ``--command`` names another
body shape. With ``--token`` every request is signed as Tencent signs it. ``--rate`` paces the
requests to a fixed total rate (open loop: latency counts from the scheduled send time).

Prints one JSON object: requests, errors, seconds, rps, p50_ms, p99_ms, max_ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import time
from urllib.parse import urlsplit

BODIES = {
    "after": ("Group.CallbackAfterGroupFull", '{{"CallbackCommand":"{cmd}","GroupId":"@TGS#bench{n}","EventTime":{ms}}}'),
    "before": (
        "OfficialAccount.CallbackBeforeCreateOfficialAccount",
        '{{"CallbackCommand":"{cmd}","Operator_Account":"admin","Owner_Account":"u{n}","Name":"bench {n}","EventTime":{ms}}}',
    ),
}


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        self.args = args
        self.command, self.template = BODIES[args.kind]
        self.counter = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.sign_second = 0
        self.sign = ""

    def request(self) -> bytes:
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
        head = (
            f"POST {self.path}?{query} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def connection(self, deadline: float, budget: list[int], slots: asyncio.Queue[float] | None) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while time.perf_counter() < deadline and budget[0] > 0:
                budget[0] -= 1
                if slots is not None:
                    try:
                        started = await asyncio.wait_for(slots.get(), deadline - time.perf_counter())
                    except TimeoutError:
                        return
                else:
                    started = time.perf_counter()
                writer.write(self.request())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                self.latencies.append(time.perf_counter() - started)
                if status != 200:
                    self.errors += 1
        finally:
            writer.close()

    async def pace(self, slots: asyncio.Queue[float], deadline: float) -> None:
        interval = 1.0 / self.args.rate
        nxt = time.perf_counter()
        while nxt < deadline:
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))
            slots.put_nowait(nxt)
            nxt += interval

    async def run(self) -> dict[str, float]:
        start = time.perf_counter()
        deadline = start + self.args.duration
        budget = [self.args.requests or 10**12]
        slots: asyncio.Queue[float] | None = asyncio.Queue() if self.args.rate else None
        tasks = [self.connection(deadline, budget, slots) for _ in range(self.args.connections)]
        if slots is not None:
            tasks.append(self.pace(slots, deadline))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        lat = sorted(self.latencies)
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
        return {
            "requests": len(lat),
            "errors": self.errors,
            "seconds": round(elapsed, 3),
            "rps": round(len(lat) / elapsed, 1),
            "p50_ms": round(pick(0.50), 3),
            "p99_ms": round(pick(0.99), 3),
            "max_ms": round(lat[-1] * 1000, 3) if lat else float("nan"),
            "mean_ms": round(statistics.fmean(lat) * 1000, 3) if lat else float("nan"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--app-id", type=int, default=1400000000)
    parser.add_argument("--token")
    parser.add_argument("--kind", choices=sorted(BODIES), default="after")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0, help="fixed total requests/s")
    parser.add_argument("--seed", default=str(time.time_ns()))
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(Load(args).run())))


if __name__ == "__main__":
    main()
