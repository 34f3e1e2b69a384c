"""The apps a Chat backend serves: SDKAppID, secret key, admins and webhook settings.

They live in the server's database (the ``apps`` table, written here only). Every process keeps
them in memory in an ``AppRegistry`` and reloads it at start and every ``reload_interval``
seconds, so webhook settings changed with ``set_callback`` on one server reach the others. The
REST API finds the app of a call in the registry; the dispatcher asks it where an app's
after-webhooks go (``route``) and how long the slowest may take (``max_timeout``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from timhooks.delivery.dispatcher import Route
from timhooks.delivery.sender import WebhookTarget
from timhooks.server.config import CallbackConfig
from timhooks.storage.engine import Connection

__all__ = ["App", "AppRegistry", "read_apps", "write_app", "write_callback"]

T = TypeVar("T")

# The lease of a dispatcher with no app yet: the default after-webhook timeout.
_DEFAULT_TIMEOUT = CallbackConfig().after_timeout


@dataclass(frozen=True, slots=True)
class App:
    """An app: SDKAppID, secret key, admin identifiers and webhook settings."""

    sdk_app_id: int
    key: str
    admins: tuple[str, ...]
    callback: CallbackConfig


def read_apps(conn: Connection) -> dict[int, App]:
    """Every stored app by SDKAppID."""
    return {
        row["sdk_app_id"]: App(
            sdk_app_id=row["sdk_app_id"],
            key=row["secret_key"],
            admins=tuple(json.loads(row["admins"])),
            callback=CallbackConfig.from_wire(json.loads(row["callback"])),
        )
        for row in conn.execute("SELECT * FROM apps")
    }


def write_app(conn: Connection, app: App, now: float) -> None:
    """Create or update an app, its key and webhook token included."""
    conn.execute(
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


def write_callback(conn: Connection, app_id: int, callback: CallbackConfig) -> None:
    """Store an app's webhook settings."""
    conn.execute(
        "UPDATE apps SET callback = ? WHERE sdk_app_id = ?",
        (json.dumps(callback.to_store()), app_id),
    )


class Database(Protocol):
    """Where the registry reads and writes apps (``ServerStore``)."""

    async def run(self, op: Callable[[Connection], T], *, key: Hashable | None = None) -> T:
        """Run ``op`` in a committed transaction."""
        ...


class AppRegistry(Mapping[int, App]):
    """The apps of one database, as last loaded: a mapping of SDKAppID to App."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._apps: dict[int, App] = {}

    async def load(self) -> None:
        """Read the apps again (settings other processes changed included)."""
        self._apps = await self._db.run(read_apps)

    def __getitem__(self, app_id: int) -> App:
        return self._apps[app_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._apps)

    def __len__(self) -> int:
        return len(self._apps)

    async def put(self, app: App, *, now: float) -> None:
        """Store an app, new or changed."""
        await self._db.run(lambda conn: write_app(conn, app, now))
        self._apps[app.sdk_app_id] = app

    async def set_callback(self, app_id: int, callback: CallbackConfig) -> App:
        """Store an app's new webhook settings; return the app with them."""
        await self._db.run(lambda conn: write_callback(conn, app_id, callback))
        app = replace(self._apps[app_id], callback=callback)
        self._apps[app_id] = app
        return app

    def route(self, app_id: int) -> Route | None:
        """Where an app's after-webhooks go and how they are retried (the dispatcher asks)."""
        app = self._apps.get(app_id)
        if app is None:
            return None
        cfg = app.callback
        target = WebhookTarget(app_id, cfg.url, cfg.token) if cfg.url is not None else None
        return Route(target=target, timeout=cfg.after_timeout, retry=cfg.retry)

    def max_timeout(self) -> float:
        """The longest after-webhook timeout of any app (sizes the dispatcher's lease)."""
        return max(
            (a.callback.after_timeout for a in self._apps.values()),
            default=_DEFAULT_TIMEOUT,
        )
