"""The floor of an outbox dispatcher: the raw socket loop of bench/loadgen.py, fed from and
recorded to a SQLite outbox with the least SQL, and nothing else (its own process).

It is what any Python dispatcher that keeps timhooks' promises must at least do: claim due rows
before posting them (so a row is not sent twice while its claimer lives) and record each
attempt and its outcome durably (so a delivered row is not sent again after a restart). Here a
claim is one statement per wave of rows, the records of every attempt that ended meanwhile are
one transaction, both on one writer thread (WAL, ``synchronous=FULL``), and ``--in-flight``
connections post the claimed bodies to the app. No signing per request (the query is given), no
answer parsing beyond the status line and ``"ErrorCode":0``, no retry schedule, no metrics.

The database is one `timhooks db upgrade --create` made and bench/benchlib/tables.py filled
(``fill_outbox``). Prints one JSON object: delivered, failed, seconds (from the first claim to
the last record), rate, cpu_s (this process's CPU time over those seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from loadgen import run_loop

Row = tuple[int, bytes]
Result = tuple[int, float, float, int]  # outbox id, at, latency (ms), 200 (delivered) or 0

_CLAIM = (
    "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 WHERE id IN"
    " (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at, id LIMIT ?) RETURNING id, body"
)
_ATTEMPT = (
    "INSERT INTO attempts (outbox_id, at, url, status_code, latency_ms, error)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_DONE = (
    "UPDATE outbox SET status = ?, next_attempt_at = ?, finished_at = ?, last_status = ?"
    " WHERE id = ?"
)


class Floor:
    """Claims, posts and records until the outbox has nothing due."""

    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.target = f"{parts.path or '/'}?{parts.query}"
        self.url = args.url
        self.in_flight = args.in_flight
        self.wave = args.wave
        self.lease = 20.0
        self.pool = ThreadPoolExecutor(max_workers=1)  # the one writer thread
        self.conn = self.pool.submit(self._open, args.db).result()
        self.rows: asyncio.Queue[Row | None] = asyncio.Queue()
        self.room = asyncio.Event()  # set when fewer than a wave of claimed rows wait
        self.results: list[Result] = []
        self.recording: asyncio.Future[None] | None = None
        self.delivered = 0
        self.failed = 0

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _claim(self, limit: int) -> list[Row]:
        now = time.time()
        self.conn.execute("BEGIN IMMEDIATE")
        rows = self.conn.execute(_CLAIM, (now + self.lease, now, limit)).fetchall()
        self.conn.execute("COMMIT")
        return [(int(i), bytes(b)) for i, b in rows]

    def _record(self, results: list[Result]) -> None:
        attempts = [
            (i, at, self.url, status, ms, None if status else "not OK")
            for i, at, ms, status in results
        ]
        done = [
            ("delivered" if status else "pending", None if status else at, at, status, i)
            for i, at, _, status in results
        ]
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany(_ATTEMPT, attempts)
        self.conn.executemany(_DONE, done)
        self.conn.execute("COMMIT")

    async def _writer(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def feed(self) -> None:
        """Claim a wave whenever fewer than a wave of rows wait (a poster taking a row says
        so); stop the posters when none are due."""
        while rows := await self._writer(self._claim, self.wave):
            for row in rows:
                self.rows.put_nowait(row)
            while self.rows.qsize() >= self.wave:
                self.room.clear()
                await self.room.wait()
        for _ in range(self.in_flight):
            self.rows.put_nowait(None)

    def _flush(self) -> None:
        if self.recording is None and self.results:
            results, self.results = self.results, []
            self.recording = asyncio.ensure_future(self._writer(self._record, results))
            self.recording.add_done_callback(self._recorded)

    def _recorded(self, done: asyncio.Future[None]) -> None:
        self.recording = None
        done.result()
        self._flush()

    async def post(self) -> None:
        """One keep-alive connection posting claimed rows until the feeder says stop."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {self.target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        try:
            while (row := await self.rows.get()) is not None:
                if self.rows.qsize() < self.wave:
                    self.room.set()
                row_id, body = row
                at = time.time()
                started = time.perf_counter()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                answer = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in answer.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line[15:])
                payload = await reader.readexactly(length)
                status = int(answer.split(b" ", 2)[1])
                ok = status == 200 and b'"ErrorCode":0' in payload
                self.delivered += ok
                self.failed += not ok
                ms = (time.perf_counter() - started) * 1000
                self.results.append((row_id, at, ms, status if ok else 0))
                self._flush()
        finally:
            writer.close()

    async def run(self) -> dict[str, object]:
        """Drain the outbox; the figures."""
        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(self.feed(), *(self.post() for _ in range(self.in_flight)))
        while self.recording is not None or self.results:
            if self.recording is not None:
                await self.recording
            self._flush()
        seconds = time.perf_counter() - start
        self.pool.submit(self.conn.close).result()
        self.pool.shutdown()
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "seconds": round(seconds, 3),
            "rate": round(self.delivered / seconds, 1) if seconds > 0 else 0.0,
            "cpu_s": round(time.process_time() - cpu, 3),
        }


def main() -> None:
    """Parse the flags, drain the outbox, print the JSON figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="http://127.0.0.1:PORT/path?signed-query")
    parser.add_argument("--db", required=True, help="the SQLite outbox to drain")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--wave", type=int, default=128, help="rows per claim")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()

    async def drain() -> dict[str, object]:
        return await Floor(args).run()

    print(json.dumps(run_loop(drain(), args.loop)))


if __name__ == "__main__":
    main()
