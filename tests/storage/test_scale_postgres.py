"""Scale-out on PostgreSQL: two servers and two workers share one database.

4,000 after-webhooks (SCALE_TOTAL=10000 for a larger run) are produced through the REST API
of both servers (their own dispatchers off), two `timhooks worker` processes deliver them to
`timhooks listen`, and one worker is SIGKILLed mid-run. Every webhook must reach the
receiver, each stored once (the receiver dedups by body), and the outbox must end with nothing
pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopback import free_port, reap, timhooks_argv, wait_port
from timhooks.protocol import generate_usersig

APP = 1400077777
KEY = "scale-test-key"
TOTAL = int(os.environ.get("SCALE_TOTAL", "4000"))
OA = "@TOA#_scale"


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        reap(*procs)


def timhooks(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            timhooks_argv("--verbose", *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def inbox_bodies(path: Path) -> list[bytes]:
    conn = sqlite3.connect(path)
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT body FROM inbox WHERE phase = 'after'")]
    finally:
        conn.close()


@pytest.mark.slow
def test_two_servers_two_workers_one_killed(pg_url: str, tmp_path: Path) -> None:
    """Thousands of webhooks from two servers reach the receiver exactly once despite a killed
    worker."""
    import psycopg

    receiver_port, server_ports = free_port(), [free_port(), free_port()]
    inbox = tmp_path / "inbox.db"
    with processes() as procs:
        procs.append(
            timhooks(
                "listen",
                "--app-id",
                str(APP),
                "--port",
                str(receiver_port),
                "--db",
                str(inbox),
                log=tmp_path / "listen.log",
            )
        )
        wait_port(receiver_port, procs[-1], within=20)
        url = f"http://127.0.0.1:{receiver_port}/im"
        common = [
            *("--db", pg_url, "--app-id", str(APP), "--key", KEY, "--no-dispatch"),
            *("--callback-url", url, "--callback-commands", "OfficialAccount.CallbackAfterSendMsg"),
            # Retries on: a loaded two-core machine can push an answer past the 2 s timeout,
            # and with Tencent's default (no retry) that webhook would stay failed.
            *("--callback-retry-attempts", "5", "--callback-retry-base", "0.5"),
        ]
        for n, port in enumerate(server_ports):
            procs.append(
                timhooks("serve", *common, "--port", str(port), log=tmp_path / f"serve{n}.log")
            )
            wait_port(port, procs[-1], within=20)
        workers = [
            timhooks("worker", "--db", pg_url, log=tmp_path / f"worker{n}.log") for n in range(2)
        ]
        procs.extend(workers)

        sig = generate_usersig(APP, KEY, "administrator", now=int(time.time()))

        async def produce() -> int:
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:

                async def rest(
                    port: int, command: str, body: dict[str, object]
                ) -> dict[str, object]:
                    response = await client.post(
                        f"http://127.0.0.1:{port}/v4/{command}",
                        params={"sdkappid": APP, "identifier": "administrator", "usersig": sig},
                        content=json.dumps(body),
                    )
                    data: dict[str, object] = response.json()
                    return data

                await rest(server_ports[0], "im_open_login_svc/account_import", {"UserID": "owner"})
                created = await rest(
                    server_ports[0],
                    "official_account_open_http_svc/create_official_account",
                    {"Owner_Account": "owner", "Name": "scale", "OfficialAccountUserID": OA},
                )
                assert created["ErrorCode"] == 0, created
                sem = asyncio.Semaphore(32)
                ok = 0

                async def send(i: int) -> None:
                    nonlocal ok
                    async with sem:
                        answer = await rest(
                            server_ports[i % 2],
                            "official_account_open_http_svc/send_official_account_msg",
                            {
                                "Official_Account": OA,
                                "Random": i,
                                "MsgBody": [
                                    {"MsgType": "TIMTextElem", "MsgContent": {"Text": f"m{i}"}}
                                ],
                            },
                        )
                        assert answer["ErrorCode"] == 0, answer
                        ok += 1

                await asyncio.gather(*(send(i) for i in range(TOTAL)))
                return ok

        killed = False
        sent = asyncio.run(produce())
        assert sent == TOTAL
        deadline = time.monotonic() + 120
        with psycopg.connect(pg_url) as conn:
            while time.monotonic() < deadline:
                pending = conn.execute(
                    "SELECT count(*) FROM outbox WHERE status = 'pending'"
                ).fetchone()
                assert pending is not None
                delivered = TOTAL - int(pending[0])
                if not killed and delivered >= TOTAL // 3:
                    workers[0].send_signal(signal.SIGKILL)
                    workers[0].wait()
                    killed = True
                if killed and pending[0] == 0:
                    break
                time.sleep(0.2)
            counts = dict(
                conn.execute(
                    "SELECT status, count(*) FROM outbox WHERE phase = 'after' GROUP BY status"
                ).fetchall()
            )
            errors = conn.execute(
                "SELECT o.id, o.attempts, o.status, a.error, a.at FROM attempts a JOIN outbox o"
                " ON o.id = a.outbox_id WHERE a.error IS NOT NULL ORDER BY a.at"
            ).fetchall()
        assert killed, "the worker was never killed: delivery finished too early"
        assert counts == {"delivered": TOTAL}, (counts, errors)
        # Each webhook was committed to the inbox before its 200, so delivered means stored.
        bodies = inbox_bodies(inbox)
        keys = sorted(json.loads(b)["MsgKey"] for b in bodies)
        assert len(bodies) == TOTAL
        assert len(set(keys)) == TOTAL
