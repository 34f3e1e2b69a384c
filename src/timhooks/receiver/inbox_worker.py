"""The inbox worker: runs after-handlers on stored webhooks, with retries, in bounded slots.

An after-webhook is committed to the inbox before its 200 goes out. When a handler slot is free
at that moment, the receiver stores the entry already claimed by this process and hands it (and
the event it parsed) straight to ``hand_over``: no claim round trip, no second parse. Otherwise
the entry waits in the inbox and the claim loop (``timhooks.workqueue.ClaimLoop``) takes it when
slots are free. A handler that fails or times out is retried on the receiver's ``RetryPolicy``;
out of attempts, its entry is dead. Handled entries are pruned after ``retention_days``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from timhooks.protocol.commands import parse_event
from timhooks.protocol.errors import MalformedRequest, StorageError
from timhooks.protocol.events import Event
from timhooks.protocol.query import Platform
from timhooks.receiver.handlers import HandlerTable, WebhookMeta, call_handler
from timhooks.receiver.threads import HandlerThreads
from timhooks.storage import InboxEntry, InboxStatus, InboxStore, NewInboxEntry
from timhooks.workqueue import ClaimLoop, RetryPolicy

__all__ = ["InboxWorker", "Meter", "claimed_entry"]

log = logging.getLogger("timhooks.receiver")

_PRUNE_EVERY = 3600.0


class Meter(Protocol):
    """What a receiver counts (``timhooks.metrics.ReceiverMetrics`` is one)."""

    def accepted(self, command: str, phase: str) -> None:
        """A webhook stored (after) or answered (before)."""

    def handler_run(self, command: str, outcome: str) -> None:
        """An after-handler's run from the inbox ended: done, retry or dead."""


class InboxWorker:
    """Runs the after-handlers of inbox entries: at most ``concurrency`` at once, handed over
    as they arrive or claimed from the inbox."""

    def __init__(
        self,
        inbox: InboxStore,
        handlers: HandlerTable,
        threads: HandlerThreads,
        *,
        concurrency: int,
        poll_interval: float,
        retry: RetryPolicy,
        handler_timeout: float,
        retention_days: float,
        clock: Callable[[], float],
    ) -> None:
        self.inbox = inbox
        self.handlers = handlers
        self.threads = threads
        self.concurrency = concurrency
        self.retry = retry
        self.handler_timeout = handler_timeout
        self.retention_days = retention_days
        self.clock = clock
        self.metrics: Meter | None = None
        # How long a claimed entry is this process's: a handler's time limit, twice.
        self.lease = handler_timeout * 2
        self._loop = ClaimLoop(
            self._claim,
            self._process_claimed,
            concurrency=concurrency,
            poll_interval=poll_interval,
            name="timhooks-inbox-worker",
        )
        # After-handlers running or promised a slot, direct and claimed together (<= concurrency);
        # the worker found none free at its last claim: it is woken once a quarter of the slots
        # are free again, to claim them in one go rather than one claim per freed slot.
        self._busy = 0
        self._starved = False
        self._wake_at = max(1, concurrency // 4)
        self.stopped = False
        self._direct: set[asyncio.Task[None]] = set()
        self._pruner: asyncio.Task[None] | None = None

    # --- starting, waking, stopping ----------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the claim loop and the pruner on the running loop, unless running or stopped."""
        if self._loop.running or self.stopped:
            return
        self._loop.start()
        if self.retention_days > 0 and self._pruner is None:
            self._pruner = asyncio.get_running_loop().create_task(
                self._prune(), name="timhooks-inbox-pruner"
            )

    def start(self) -> None:
        """Start (again after a stop)."""
        self.stopped = False
        self.ensure_started()

    def wake(self) -> None:
        """New pending entries were stored: claim now."""
        self._loop.wake()

    async def stop(self, grace: float) -> None:
        """Stop claiming, let running handlers finish for ``grace`` s, then cancel them.

        A cancelled handler's entry stays pending and runs again when its lease ends.
        """
        self.stopped = True
        await self._loop.stop(grace)
        if self._direct:
            # Handlers handed entries directly get the same grace; entries of cancelled ones
            # stay claimed until their lease ends, then run again.
            _, late = await asyncio.wait(self._direct, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        # No handler runs now (a claimed task cancelled before it started never gave its slot).
        self._busy = 0
        self._starved = False

    # --- handler slots: at most ``concurrency`` after-handlers at once ------------------------

    def take_direct(self) -> bool:
        """A slot for an entry about to be stored and handed over, if one is free now and no
        stored entry waits for one (those go first, so a steady stream of new webhooks cannot
        hold them back)."""
        if self.stopped or self._starved or self._busy >= self.concurrency:
            return False
        self._busy += 1
        return True

    def give_slots(self, count: int) -> None:
        """Give back slots taken and not used (or used and done)."""
        self._busy -= count
        free = self.concurrency - self._busy
        if self._starved and not self.stopped and free >= self._wake_at:
            self._loop.wake()  # it stays starved (no direct hand-offs) until it claims

    def _take_slots(self, wanted: int) -> int:
        granted = max(0, min(wanted, self.concurrency - self._busy))
        self._busy += granted
        return granted

    def hand_over(self, entry: InboxEntry, event: Event) -> None:
        """Run the handler of an entry stored claimed in a slot taken by ``take_direct``."""
        task = asyncio.ensure_future(self._process_claimed(entry, event))
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    async def _claim(self, limit: int) -> list[InboxEntry]:
        granted = self._take_slots(limit)
        self._starved = not granted
        if not granted:
            return []
        try:
            claimed = await self.inbox.claim(now=self.clock(), limit=granted, lease=self.lease)
        except BaseException:
            self.give_slots(granted)
            raise
        if len(claimed) < granted:
            self.give_slots(granted - len(claimed))
        return claimed

    async def _process_claimed(self, entry: InboxEntry, event: Event | None = None) -> None:
        """Run an entry's handler in a slot taken for it, give the slot back, then record the
        outcome (the entry stays claimed until that is committed, so it does not run twice)."""
        try:
            error, dead = await self._process(entry, event)
        finally:
            self.give_slots(1)
        await self._settle(entry, error, dead=dead)

    # --- one entry ---------------------------------------------------------------------------

    async def _process(self, entry: InboxEntry, event: Event | None) -> tuple[str | None, bool]:
        """Run the entry's handler: (None, False) when it is done, else the error and whether
        the entry is dead already."""
        if event is None:
            try:
                event = parse_event(entry.body, command=entry.command)
            except MalformedRequest as exc:
                return f"stored body no longer parses: {exc}", True
        handler = self.handlers.get(entry.command)
        if handler is None:
            return None, False
        meta = WebhookMeta(
            sdk_app_id=entry.sdk_app_id,
            command=entry.command,
            client_ip=entry.client_ip,
            opt_platform=Platform.parse(entry.opt_platform)
            if entry.opt_platform
            else Platform.UNKNOWN,
            received_at=entry.received_at,
            inbox_id=entry.id,
            attempt=entry.attempts,
        )
        try:
            await call_handler(handler, event, meta, self.threads, self.handler_timeout)
        except TimeoutError:
            log.warning(
                "%r handler on inbox entry %d timed out after %g s (attempt %d)",
                entry.command,
                entry.id,
                self.handler_timeout,
                entry.attempts,
            )
            return f"handler timed out after {self.handler_timeout} s", False
        except Exception as exc:
            log.warning(
                "%r handler failed on inbox entry %d (attempt %d): %r",
                entry.command,
                entry.id,
                entry.attempts,
                exc,
            )
            return f"{type(exc).__name__}: {exc}", False
        return None, False

    async def _settle(self, entry: InboxEntry, error: str | None, *, dead: bool = False) -> None:
        now = self.clock()
        try:
            if error is None:
                if self.metrics is not None:
                    self.metrics.handler_run(entry.command, "done")
                await self.inbox.complete(entry.id, now=now)
                return
            delay = None if dead else self.retry.delay_after(entry.attempts)
            retry_at = None if delay is None else now + delay
            if self.metrics is not None:
                self.metrics.handler_run(entry.command, "dead" if retry_at is None else "retry")
            if retry_at is None:
                log.error(
                    "inbox entry %d (%r) is dead after %d attempts: %r",
                    entry.id,
                    entry.command,
                    entry.attempts,
                    error,
                )
            await self.inbox.fail(entry.id, error, retry_at=retry_at, now=now)
        except StorageError as exc:
            log.error("could not record the outcome of inbox entry %d: %s", entry.id, exc)

    # --- pruning -------------------------------------------------------------------------------

    async def _prune(self) -> None:
        """Hourly, delete handled entries older than ``retention_days`` (dead ones stay)."""
        while True:
            try:
                before = self.clock() - self.retention_days * 86400
                pruned = await self.inbox.prune(before=before)
                if pruned:
                    log.info("pruned %d handled inbox entries", pruned)
            except Exception as exc:  # a custom inbox may fail here; pruning must not stop us
                log.error("pruning the inbox failed: %r", exc)
            await asyncio.sleep(_PRUNE_EVERY)


def claimed_entry(new: NewInboxEntry, entry_id: int) -> InboxEntry:
    """The inbox entry just stored from ``new``, claimed by this process (its first attempt),
    for ``InboxWorker.hand_over``."""
    return InboxEntry(
        id=entry_id,
        sdk_app_id=new.sdk_app_id,
        command=new.command,
        phase=new.phase,
        status=InboxStatus.PENDING,
        body=new.body,
        client_ip=new.client_ip,
        opt_platform=new.opt_platform,
        received_at=new.received_at,
        attempts=1,
        next_attempt_at=new.claimed_until,
        last_error=None,
        answer=None,
    )
