"""The floor of a durable receiver: a bare ASGI app that commits each body to SQLite before it
answers, and does nothing else.

It is what any Python receiver on uvicorn must at least do to keep the promise `timhooks listen`
keeps (each 200 only after its webhook is on disk): read the body, hand it to one writer thread
that commits whatever has queued up in one transaction (WAL, ``synchronous=FULL``), and answer
Tencent's OK JSON once that commit returns. No signature check, no parsing, no duplicate key, no
handler, no metrics. The database file is ``$TIMHOOKS_BENCH_DB``. Run it under uvicorn with the
options of bench/bare_app.py.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
from typing import Any

_OK = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_OK)).encode())]

Job = tuple[bytes, asyncio.AbstractEventLoop, asyncio.Future[None]]
_jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _write(path: str) -> None:
    """Commit every queued body, a batch per transaction, until ``None`` arrives."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    while True:
        job = _jobs.get()
        batch: list[Job] = []
        while job is not None:
            batch.append(job)
            try:
                job = _jobs.get_nowait()
            except queue.Empty:
                break
        if batch:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO inbox (body) VALUES (?)", [(b,) for b, _, _ in batch])
            conn.execute("COMMIT")
            loop = batch[0][1]
            loop.call_soon_threadsafe(_resolve, [f for _, _, f in batch])
        if job is None:
            conn.close()
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the OK answer once its body is committed."""
    if scope["type"] == "lifespan":
        writer = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                writer = threading.Thread(target=_write, args=(os.environ["TIMHOOKS_BENCH_DB"],))
                writer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _jobs.put(None)
                if writer is not None:
                    await asyncio.to_thread(writer.join)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    _jobs.put((b"".join(chunks), loop, done))
    await done
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _OK})
