"""The outbox dispatcher: delivers committed after-webhooks, records every attempt, retries.

Rows are claimed with a lease (``next_attempt_at`` moves past the request timeout), so a row
whose dispatcher died is taken again when its lease ends; nothing committed is lost.
Deliveries run concurrently up to ``concurrency``: order across rows is not guaranteed, as
with Tencent. Rows are claimed in waves (one statement for many rows) into a queue of up to
``4 * concurrency`` more, so the slots stay busy while the next wave is claimed; a slot is free
again once its attempt is answered, and the attempt's record is written meanwhile (the records
that arrive while one record operation commits go into the next one). The row stays claimed
until its record is committed, so it is never sent twice while this dispatcher lives; a stop
waits for the records and gives back the rows claimed but not started.

Every attempt is logged: a success at INFO (``timhooks serve -v``), a failure at WARNING with the
receiver's status and the first line of its answer, so that ``serve`` says what went wrong.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from timhooks.delivery.sender import Attempt, WebhookSender, WebhookTarget
from timhooks.text import printable
from timhooks.workqueue import ClaimLoop, RetryPolicy

if TYPE_CHECKING:
    from timhooks.metrics import ServerMetrics

__all__ = ["OutboxDispatcher", "OutboxRow", "OutboxStore", "Route", "attempt_outcome", "shown_url"]

log = logging.getLogger("timhooks.delivery")

# Rows claimed ahead, in slots' worth: enough to keep every slot busy through a claim that waits
# for a commit (fsync) or two.
_PREFETCH = 4

# Added to the longest request timeout to make a claim's lease.
_LEASE_MARGIN = 10.0

# A Sign (a query parameter, or the 64 hex digits of one) never reaches a log line, even when a
# receiver echoes its request in its answer: the Sign authenticates the sender (docs/protocol.md).
_SIGNS = re.compile(r"(?i)((?:Sign|usersig)=)[^&\s\"']*|\b[0-9a-f]{64}\b")
_ANSWER_SHOWN = 200  # characters of the answer's first line in a log line


def shown_url(url: str) -> str:
    """A webhook URL as logs show it: scheme, host, port and path (no user, password, query)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def attempt_outcome(attempt: Attempt, token: str | None = None) -> str:
    """What a failed attempt got, for a log line: the receiver's HTTP status and the first line
    of its answer, or the error; control characters escaped, Signs and ``token`` masked."""
    parts: list[str] = []
    if attempt.status_code is not None:
        parts.append(f"HTTP {attempt.status_code}")
    if attempt.error is not None and not (
        attempt.status_code is not None and attempt.error.startswith("HTTP status")
    ):
        parts.append(attempt.error)
    if attempt.response:
        text = attempt.response.decode("utf-8", "replace").strip()
        first = text.splitlines()[0] if text else ""
        if len(first) > _ANSWER_SHOWN:
            first = first[:_ANSWER_SHOWN] + "…"
        parts.append(f"answer: {first}" if first else "an empty answer")
    elif attempt.status_code is not None:
        parts.append("an empty answer")
    line = _SIGNS.sub(lambda m: f"{m.group(1) or ''}***", ", ".join(parts))
    if token and len(token) >= 4:
        line = line.replace(token, "***")
    return printable(line)


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
    @property
    def next_attempt_at(self) -> float | None: ...


class OutboxStore(Protocol):
    """The outbox operations the dispatcher needs."""

    async def claim(self, *, now: float, limit: int, lease: float) -> Sequence[OutboxRow]:
        """Take due rows for ``lease`` seconds."""
        ...

    def record_soon(
        self, delivery_id: int, attempt: Attempt, *, retry_at: float | None
    ) -> asyncio.Future[None]:
        """Record an attempt and the row's next state; the future resolves once committed."""
        ...

    async def release(self, rows: Sequence[OutboxRow], *, now: float) -> None:
        """Give back claimed rows that were never attempted (due again at ``now``)."""
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
        self.metrics: ServerMetrics | None = None  # counts attempts (timhooks/metrics.py)
        self._loop: ClaimLoop[OutboxRow] = ClaimLoop(
            self._claim,
            self._deliver,
            concurrency=concurrency,
            poll_interval=poll_interval,
            name="timhooks-dispatcher",
            prefetch=_PREFETCH * concurrency,
            wave=concurrency,
            release=self._release,
        )
        self._records: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        """Start delivering on the running event loop."""
        self._loop.start()

    @property
    def running(self) -> bool:
        """True while it claims and delivers (``/readyz`` asks)."""
        return self._loop.running

    def wake(self) -> None:
        """Claim now: rows were just committed."""
        self._loop.wake()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let deliveries in flight finish for ``grace`` seconds, and their
        records be written."""
        await self._loop.stop(grace)
        if self._records:
            await asyncio.wait(self._records)

    async def _claim(self, limit: int) -> Sequence[OutboxRow]:
        # A claimed row may wait behind _PREFETCH slots' worth of attempts, each at most the
        # longest timeout, before its own: the lease covers that wait and its attempt.
        lease = self.max_timeout() * (_PREFETCH + 1) + _LEASE_MARGIN
        return await self.store.claim(now=self.clock(), limit=limit, lease=lease)

    async def _release(self, rows: list[OutboxRow]) -> None:
        await self.store.release(rows, now=self.clock())

    def _record(self, row: OutboxRow, attempt: Attempt, retry_at: float | None) -> None:
        """Write an attempt's record in the background: the slot is free for the next row."""
        future = self.store.record_soon(row.id, attempt, retry_at=retry_at)
        self._records.add(future)
        future.add_done_callback(self._recorded)

    def _recorded(self, future: asyncio.Future[None]) -> None:
        self._records.discard(future)
        if not future.cancelled() and (exc := future.exception()) is not None:
            # The row stays claimed until its lease ends, then is sent again (at least once).
            log.error("recording a delivery attempt failed: %s", exc)

    async def _deliver(self, row: OutboxRow) -> None:
        route = self.routes(row.sdk_app_id)
        leased_until = row.next_attempt_at
        # The attempt must end, with room to spare, before the claim does.
        needed = (route.timeout if route is not None else 0.0) + _LEASE_MARGIN / 2
        if leased_until is not None and self.clock() + needed > leased_until:
            # Its claim would end during the attempt (the queue of claimed rows waited longer
            # than the lease allows for, or the timeout grew since the claim): another claimer
            # could take it meanwhile, so it is given back, its claim uncounted, rather than
            # sent twice.
            log.warning(
                "webhook %d (%s) given back for a new claim: its lease ends too soon",
                row.id,
                row.command,
            )
            await self._release([row])
            return
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
            self._record(row, attempt, None)
            log.warning("webhook %d (%s) not delivered: %s", row.id, row.command, attempt.error)
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
        if attempt.ok:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "webhook %d (%s) attempt %d delivered to %s: HTTP %s in %.0f ms",
                    row.id,
                    row.command,
                    row.attempts,
                    shown_url(route.target.url),
                    attempt.status_code,
                    attempt.latency_ms,
                )
        else:
            delay = route.retry.delay_after(row.attempts)
            retry_at = None if delay is None else self.clock() + delay
            log.warning(
                "webhook %d (%s) attempt %d to %s failed: %s; %s",
                row.id,
                row.command,
                row.attempts,
                shown_url(route.target.url),
                attempt_outcome(attempt, route.target.token),
                "no attempts left" if delay is None else f"retry in {delay:g} s",
            )
        if self.metrics is not None:
            self.metrics.after_attempt(row.command, attempt, retry=retry_at is not None)
        self._record(row, attempt, retry_at)
