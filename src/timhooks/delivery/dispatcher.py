"""The outbox dispatcher: delivers committed after-webhooks, records every attempt, retries.

Rows are claimed with a lease (``next_attempt_at`` moves past the request timeout), so a row
whose dispatcher died is taken again when its lease ends; nothing committed is lost.
Deliveries run concurrently up to ``concurrency``: order across rows is not guaranteed, as
with Tencent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from timhooks.delivery.loop import ClaimLoop
from timhooks.delivery.retry import RetryPolicy
from timhooks.delivery.sender import Attempt, WebhookSender, WebhookTarget

__all__ = ["OutboxDispatcher", "OutboxRow", "OutboxStore", "Route"]

log = logging.getLogger("timhooks.delivery")

# Added to the longest request timeout to make a claim's lease.
_LEASE_MARGIN = 10.0


class OutboxRow(Protocol):
    """What the dispatcher reads of an outbox row."""

    @property
    def id(self) -> int: ...
    @property
    def sdk_app_id(self) -> int: ...
    @property
    def command(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def client_ip(self) -> str: ...
    @property
    def opt_platform(self) -> str: ...
    @property
    def attempts(self) -> int: ...


class OutboxStore(Protocol):
    """The outbox operations the dispatcher needs."""

    async def claim(self, *, now: float, limit: int, lease: float) -> Sequence[OutboxRow]:
        """Take due rows for ``lease`` seconds."""
        ...

    async def record(self, delivery_id: int, attempt: Attempt, *, retry_at: float | None) -> None:
        """Record an attempt and the row's next state."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """Where an app's after-webhooks go and how they are retried."""

    target: WebhookTarget | None
    timeout: float
    retry: RetryPolicy


class OutboxDispatcher:
    """Delivers the outbox; ``wake()`` after a commit that queued webhooks."""

    def __init__(
        self,
        store: OutboxStore,
        sender: WebhookSender,
        routes: Callable[[int], Route | None],
        *,
        concurrency: int = 32,
        poll_interval: float = 1.0,
        max_timeout: Callable[[], float] = lambda: 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sender = sender
        self.routes = routes
        self.max_timeout = max_timeout
        self.clock = clock
        self._loop: ClaimLoop[OutboxRow] = ClaimLoop(
            self._claim,
            self._deliver,
            concurrency=concurrency,
            poll_interval=poll_interval,
            name="timhooks-dispatcher",
        )

    def start(self) -> None:
        """Start delivering on the running event loop."""
        self._loop.start()

    def wake(self) -> None:
        """Claim now: rows were just committed."""
        self._loop.wake()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let deliveries in flight finish for ``grace`` seconds."""
        await self._loop.stop(grace)

    async def _claim(self, limit: int) -> Sequence[OutboxRow]:
        lease = self.max_timeout() + _LEASE_MARGIN
        return await self.store.claim(now=self.clock(), limit=limit, lease=lease)

    async def _deliver(self, row: OutboxRow) -> None:
        route = self.routes(row.sdk_app_id)
        if route is None or route.target is None:
            now = self.clock()
            attempt = Attempt(
                url="",
                at=now,
                latency_ms=0.0,
                status_code=None,
                error="the app has no webhook URL configured",
                response=None,
            )
            await self.store.record(row.id, attempt, retry_at=None)
            return
        attempt = await self.sender.post(
            route.target,
            row.command,
            row.body,
            client_ip=row.client_ip,
            platform=row.opt_platform,
            time_limit=route.timeout,
        )
        retry_at = None
        if not attempt.ok:
            delay = route.retry.delay_after(row.attempts)
            retry_at = None if delay is None else self.clock() + delay
            log.info(
                "webhook %d (%s) attempt %d failed: %s%s",
                row.id,
                row.command,
                row.attempts,
                attempt.error,
                "" if retry_at is not None else "; no attempts left",
            )
        await self.store.record(row.id, attempt, retry_at=retry_at)
