"""Running ``timhooks`` in-process, and stores seeded with known rows for the CLI tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from timhooks.cli import main
from timhooks.server.store import ServerStore
from timhooks.storage import InboxStatus, NewInboxEntry, open_inbox

APP = 1400000001
OTHER_APP = 1400000002
T0 = 1_700_000_000.0  # the seeded rows arrive at T0, T0 + 60, T0 + 120, ...


@dataclass
class Run:
    """What one in-process ``timhooks`` command did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """The command's stdout as JSON."""
        return json.loads(self.out)


def timhooks(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run ``timhooks ARGV`` in this process; argparse's exits become exit codes."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Run(code, out, err)


@dataclass(frozen=True)
class Row:
    """A seeded row: its command, status, app, arrival time and payload."""

    command: str
    status: str
    app_id: int = APP
    at: float = T0
    payload: dict[str, Any] | None = None
    phase: str = "after"

    def body(self) -> bytes:
        """The stored JSON body."""
        payload = self.payload or {"GroupId": f"@TGS#{self.at:.0f}"}
        return json.dumps({"CallbackCommand": self.command, **payload}).encode()


def seed_outbox(db: Path | str, rows: list[Row], *, attempts: int = 1) -> list[int]:
    """Outbox rows as the dispatcher leaves them, each with ``attempts`` logged attempts (the
    last one answered 200 when the row is delivered); return their ids. One transaction."""

    def op(conn: Any) -> list[int]:
        ids = []
        for row in rows:
            pending = row.status == "pending"
            ok = row.status == "delivered"
            (delivery_id,) = conn.execute(
                "INSERT INTO outbox (sdk_app_id, command, phase, body, status, attempts,"
                " next_attempt_at, created_at, finished_at, last_status, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    row.app_id,
                    row.command,
                    row.phase,
                    row.body(),
                    row.status,
                    attempts,
                    row.at if pending else None,
                    row.at,
                    None if pending else row.at + 1,
                    200 if ok else 500,
                    None if ok else "HTTP status 500",
                ),
            ).fetchone()
            for n in range(attempts):
                last_ok = ok and n == attempts - 1
                conn.execute(
                    "INSERT INTO attempts (outbox_id, at, url, status_code, latency_ms, error,"
                    " response) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        delivery_id,
                        row.at + n,
                        "http://127.0.0.1:9/im",
                        200 if last_ok else 500,
                        1.5,
                        None if last_ok else "HTTP status 500",
                        '{"ActionStatus":"OK","ErrorCode":0}' if last_ok else "down",
                    ),
                )
            ids.append(int(delivery_id))
        return ids

    async def seed() -> list[int]:
        store = ServerStore(db)
        try:
            return await store.run(op)
        finally:
            await store.close()

    return asyncio.run(seed())


def seed_inbox(db: Path | str, rows: list[Row]) -> list[int]:
    """Inbox entries in the given statuses (pending, done, dead, answered); return their ids."""

    async def seed() -> list[int]:
        inbox = open_inbox(db)
        try:
            stored = await asyncio.gather(*(inbox.put(_new_entry(row)) for row in rows))
            ids = [entry_id for entry_id, new in stored if new]
            assert len(ids) == len(rows), "two seeded rows have the same body"
            await asyncio.gather(
                *(
                    inbox.complete(entry_id, now=row.at + 1)
                    if row.status == "done"
                    else inbox.fail(entry_id, "handler failed", retry_at=None, now=row.at + 1)
                    for entry_id, row in zip(ids, rows, strict=True)
                    if row.status in ("done", "dead")
                )
            )
        finally:
            await inbox.close()
        return ids

    return asyncio.run(seed())


def _new_entry(row: Row) -> NewInboxEntry:
    answered = row.status == "answered"
    return NewInboxEntry(
        sdk_app_id=row.app_id,
        command=row.command,
        phase="before" if answered else row.phase,
        body=row.body(),
        client_ip="127.0.0.1",
        opt_platform="Web",
        received_at=row.at,
        status=InboxStatus.ANSWERED if answered else InboxStatus.PENDING,
        answer=b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}' if answered else None,
    )
