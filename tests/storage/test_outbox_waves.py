"""The dispatcher claims outbox rows in waves, ahead of its slots (timhooks/delivery/
dispatcher.py, timhooks/workqueue/loop.py), on each backend. A stop gives the rows it claimed
but never attempted back at once; a row whose claim would end during its attempt is given back
for a new claim, not sent under the old one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from test_server_store_contract import APP, queue_rows

from timhooks.delivery.dispatcher import _LEASE_MARGIN, _PREFETCH, OutboxDispatcher, Route
from timhooks.delivery.sender import WebhookSender, WebhookTarget
from timhooks.server.store import ServerStore
from timhooks.workqueue import NO_RETRY

ROWS = 100
SLOTS = 4
CLAIMED = SLOTS * 5  # the first wave: the slots, and four slots' worth queued behind them
TIMEOUT = 2.0
MARGIN = _LEASE_MARGIN
# The dispatcher's claim (timhooks/delivery/dispatcher.py).
LEASE = TIMEOUT * (_PREFETCH + 1) + MARGIN
OK = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'
TARGET = WebhookTarget(APP, "http://127.0.0.1:9/cb", None)


class Held:
    """The sender's transport seam: the first ``held`` posts wait until ``go`` is set
    (``all_held`` is set once they came); ``seen`` is set once ``expected`` posts came."""

    def __init__(self, held: int, expected: int) -> None:
        self.posts = 0
        self.held = held
        self.expected = expected
        self.seen = asyncio.Event()
        self.all_held = asyncio.Event()
        self.go = asyncio.Event()

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        self.posts += 1
        if self.posts == self.expected:
            self.seen.set()
        if self.posts == self.held:
            self.all_held.set()
        if self.posts <= self.held:
            await self.go.wait()
        return 200, OK

    async def aclose(self) -> None:
        """Nothing to close."""


async def _rows(store: ServerStore) -> list[tuple[str, int, float]]:
    return await store.read(
        lambda conn: [
            (r[0], int(r[1]), float(r[2] or 0))
            for r in conn.execute("SELECT status, attempts, next_attempt_at FROM outbox")
        ]
    )


def _dispatcher(store: ServerStore, transport: Held, clock: Any) -> OutboxDispatcher:
    return OutboxDispatcher(
        store,
        WebhookSender(transport=transport),
        lambda app: Route(TARGET, TIMEOUT, NO_RETRY),
        concurrency=SLOTS,
        max_timeout=lambda: TIMEOUT,
        clock=clock,
    )


async def test_a_stop_gives_back_the_claimed_rows_never_attempted(db_url: str) -> None:
    """Stopped while its slots are held, the dispatcher gives the rows queued behind them back
    at once (due now, their claim uncounted) and keeps the held ones claimed."""
    store = ServerStore(db_url)
    await store.run(lambda conn: queue_rows(conn, ROWS))
    transport = Held(held=SLOTS, expected=SLOTS + 1)
    dispatcher = _dispatcher(store, transport, time.time)
    try:
        dispatcher.start()
        await asyncio.wait_for(transport.all_held.wait(), 30)
        before_stop = time.time()
        await dispatcher.stop(grace=0.01)  # the held posts are cancelled, their rows kept
        rows = await _rows(store)
    finally:
        transport.go.set()
        await store.close()
    assert transport.posts == SLOTS
    held = [r for r in rows if r[1] == 1]
    assert len(held) == SLOTS
    assert all(status == "pending" and due > before_stop for status, _, due in held)
    # The rows queued behind the slots are due again now, their claim uncounted; the rest were
    # never claimed (due since the fill at t=1000).
    released = [r for r in rows if r[1] == 0 and r[2] > 1000.0]
    assert len(released) == CLAIMED - SLOTS
    assert all(status == "pending" and due <= time.time() for status, _, due in released)
    assert sum(1 for r in rows if r[1] == 0 and r[2] == 1000.0) == ROWS - CLAIMED


# Seconds of claim left when the queued rows reach a slot: less than their attempt's timeout
# and the margin (timhooks/delivery/dispatcher.py), whether or not the margin alone would do.
@pytest.mark.parametrize("left", [1.0, TIMEOUT + MARGIN / 2 - 1])
async def test_a_row_whose_lease_ends_too_soon_is_given_back_and_sent_once(
    db_url: str, left: float
) -> None:
    """The rows queued behind the slots reach one when their claim has less left than an
    attempt may take: they are given back, their claim uncounted, claimed again and sent;
    every row is sent once and counts one attempt."""
    store = ServerStore(db_url)
    await store.run(lambda conn: queue_rows(conn, ROWS))
    start = time.time()
    now = [start]
    transport = Held(held=SLOTS, expected=ROWS)
    dispatcher = _dispatcher(store, transport, lambda: now[0])
    try:
        dispatcher.start()
        # The first wave is claimed, its first rows held.
        await asyncio.wait_for(transport.all_held.wait(), 30)
        now[0] = start + LEASE - left
        transport.go.set()
        await asyncio.wait_for(transport.seen.wait(), 30)
        await dispatcher.stop(grace=10)
        rows = await _rows(store)
    finally:
        transport.go.set()
        await store.close()
    assert transport.posts == ROWS
    assert [(status, attempts) for status, attempts, _ in rows] == [("delivered", 1)] * ROWS


async def test_a_claim_takes_at_most_its_limit(db_url: str) -> None:
    """On PostgreSQL too, where a LIMIT ... SKIP LOCKED subquery run again would take more."""
    store = ServerStore(db_url)
    try:
        await store.run(lambda conn: queue_rows(conn, ROWS))
        first = await store.claim(now=time.time(), limit=CLAIMED, lease=LEASE)
        second = await store.claim(now=time.time(), limit=CLAIMED, lease=LEASE)
    finally:
        await store.close()
    assert len(first) == len(second) == CLAIMED
    assert not {r.id for r in first} & {r.id for r in second}
