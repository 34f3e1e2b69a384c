"""The after-webhook side of a Chat backend: the outbox delivered, and the database kept.

A ``Worker`` has the store, the app registry, the webhook sender and the outbox dispatcher, and
runs the upkeep: it reloads the apps (settings other processes changed) and prunes finished
deliveries hourly. ``timhooks worker`` runs one alone on a shared database; ``ChatServer`` runs
one beside its REST API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from timhooks.delivery.dispatcher import OutboxDispatcher
from timhooks.delivery.http import HttpTransport
from timhooks.delivery.sender import WebhookSender
from timhooks.metrics import ServerMetrics
from timhooks.protocol.errors import StorageError
from timhooks.server.apps import AppRegistry
from timhooks.server.config import ServerConfig
from timhooks.server.store import ServerStore

__all__ = ["Worker"]

log = logging.getLogger("timhooks.server")

_PRUNE_EVERY = 3600.0


class Worker:
    """Delivers after-webhooks from the server's database: ``await start()``, ``await stop()``."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        transport: HttpTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = ServerStore(config.db, upgrade=config.upgrade)
        self.apps = AppRegistry(self.store)
        # The URL check at configuration time cannot see what a host name resolves to when a
        # webhook is sent: with private targets refused, the sender checks each time too.
        self.sender = WebhookSender(
            transport=transport, clock=clock, refuse_private=not config.allow_private_targets
        )
        self.dispatcher = OutboxDispatcher(
            self.store,
            self.sender,
            self.apps.route,
            concurrency=config.concurrency,
            max_timeout=self.apps.max_timeout,
            clock=clock,
        )
        # The dispatcher's metrics and the outbox gauges (timhooks/metrics.py); ChatServer adds
        # the REST API's to the same registry.
        self.metrics = ServerMetrics() if config.metrics else None
        if self.metrics is not None:
            self.dispatcher.metrics = self.metrics
            self.metrics.on_scrape(self._count_backlog)
        self._maintenance: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the apps as stored, start the dispatcher (unless ``dispatch`` is off) and the
        upkeep; change no app."""
        await self.apps.load()
        if self.config.dispatch:
            self.dispatcher.start()
        self._maintenance = asyncio.get_running_loop().create_task(
            self._maintain(), name="timhooks-maintenance"
        )

    async def ready(self) -> str | None:
        """None when the database answers and, where this process delivers, the dispatcher
        runs; else what is wrong (``/readyz``)."""
        await self.store.backlog()
        if self.config.dispatch and not self.dispatcher.running:
            return "the dispatcher is not running"
        return None

    async def _count_backlog(self) -> None:
        """Set the outbox gauges (before each scrape of /metrics)."""
        if self.metrics is not None:
            pending, oldest = await self.store.backlog()
            self.metrics.outbox(pending, oldest, self.clock())

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the upkeep and the dispatcher (deliveries in flight get ``grace`` seconds), close
        connections and the database."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        await self.dispatcher.stop(grace)
        await self.sender.aclose()
        await self.store.close()

    async def _maintain(self) -> None:
        """Reload app settings other processes changed; prune old deliveries hourly."""
        cfg = self.config
        last_prune = 0.0
        while True:
            await asyncio.sleep(cfg.reload_interval)
            try:
                await self.apps.load()
                now = self.clock()
                if cfg.retention_days > 0 and now - last_prune >= _PRUNE_EVERY:
                    last_prune = now
                    pruned = await self.store.prune(before=now - cfg.retention_days * 86400)
                    if pruned:
                        log.info("pruned %d finished deliveries", pruned)
            except StorageError as exc:
                log.error("maintenance failed: %s", exc)
