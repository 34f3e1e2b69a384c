"""The Chat backend's database: the server schema on SQLite or PostgreSQL, by URL.

Changes of the Chat backend run as functions of a connection through ``run`` (the concept
modules hold them); the outbox's operations are ``Outbox``'s (``timhooks.server.outbox``), which
``ServerStore`` is, for the dispatcher and the CLI.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from timhooks.server.config import CallbackConfig
from timhooks.server.outbox import Delivery, DeliveryStatus, Outbox
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.storage import open_writer
from timhooks.storage.engine import Connection

__all__ = ["App", "Delivery", "DeliveryStatus", "ServerStore"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class App:
    """An app: SDKAppID, secret key, admin identifiers and webhook settings."""

    sdk_app_id: int
    key: str
    admins: tuple[str, ...]
    callback: CallbackConfig


def _app(row: Any) -> App:
    return App(
        sdk_app_id=row["sdk_app_id"],
        key=row["secret_key"],
        admins=tuple(json.loads(row["admins"])),
        callback=CallbackConfig.from_wire(json.loads(row["callback"])),
    )


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
        """Run a domain operation in a committed transaction; ``key`` (``official_accounts.oa_key``,
        ``groups.group_key``): it locks only that Official Account's or group's rows, so on
        PostgreSQL it may share a transaction with other operations of the same key."""
        return await self._db.run(op, key=key)

    async def close(self) -> None:
        """Finish queued writes and close the database."""
        await asyncio.to_thread(self._db.close)

    # --- apps -------------------------------------------------------------------------------

    async def apps(self) -> dict[int, App]:
        """Every app by SDKAppID."""

        def op(conn: Connection) -> dict[int, App]:
            return {r["sdk_app_id"]: _app(r) for r in conn.execute("SELECT * FROM apps")}

        return await self._db.run(op)

    async def put_app(self, app: App, *, now: float) -> None:
        """Create or update an app."""
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO apps (sdk_app_id, secret_key, admins, callback, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sdk_app_id) DO UPDATE SET"
                " secret_key = excluded.secret_key, admins = excluded.admins,"
                " callback = excluded.callback",
                (
                    app.sdk_app_id,
                    app.key,
                    json.dumps(list(app.admins)),
                    json.dumps(app.callback.to_store()),
                    now,
                ),
            )
        )

    async def set_callback(self, app_id: int, callback: CallbackConfig) -> None:
        """Store an app's webhook settings."""
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE apps SET callback = ? WHERE sdk_app_id = ?",
                (json.dumps(callback.to_store()), app_id),
            )
        )
