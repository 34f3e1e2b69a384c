"""The Chat backend's database: the server schema on SQLite or PostgreSQL, by URL.

Changes run as functions of a connection through ``run`` (the concept modules hold them:
``accounts``, ``official_accounts``, ``groups`` ...). A ``ServerStore`` is the ``Outbox`` of its
database (``timhooks.server.outbox``) for the dispatcher and the CLI, and reads and writes apps
(``timhooks.server.apps``). ``App``, ``Delivery`` and ``DeliveryStatus`` are importable from here
too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

from timhooks.server.apps import App, read_apps, write_app
from timhooks.server.outbox import Delivery, DeliveryStatus, Outbox
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.storage import open_writer
from timhooks.storage.engine import Connection

__all__ = ["App", "Delivery", "DeliveryStatus", "ServerStore"]

T = TypeVar("T")


class ServerStore(Outbox):
    """The server's database: SQLite or PostgreSQL, by URL, with its outbox."""

    def __init__(
        self,
        url: str | Path,
        *,
        synchronous: str = "FULL",
        upgrade: bool = True,
        create: bool = True,
    ) -> None:
        super().__init__(
            open_writer(
                url,
                component="server",
                migrations=SERVER_MIGRATIONS,
                upgrade=upgrade,
                synchronous=synchronous,
                create=create,
            )
        )

    @property
    def path(self) -> str:
        """Which database this is, for people."""
        return self._db.describe

    async def run(self, op: Callable[[Connection], T], *, key: Hashable | None = None) -> T:
        """Run ``op`` in a committed transaction; ``key`` (``official_accounts.oa_key``,
        ``groups.group_key``): it locks only that Official Account's or group's rows, so on
        PostgreSQL it may share a transaction with other operations of the same key."""
        return await self._db.run(op, key=key)

    async def read(self, op: Callable[[Connection], T]) -> T:
        """Run ``op``, which only reads, in a read-only transaction beside the writer (it sees
        every change committed before the call)."""
        return await self._db.read(op)

    async def close(self) -> None:
        """Finish queued writes and close the database."""
        await asyncio.to_thread(self._db.close)

    # --- apps (``timhooks.server.apps``) ---------------------------------------------------

    async def apps(self) -> dict[int, App]:
        """Every app by SDKAppID."""
        return await self._db.run(read_apps)

    async def put_app(self, app: App, *, now: float) -> None:
        """Create or update an app."""
        await self._db.run(lambda conn: write_app(conn, app, now))
