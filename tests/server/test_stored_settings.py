"""serve keeps its app in the database: a restart reuses it, and a new key needs --rotate-key."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from timhooks.protocol import verify_usersig
from timhooks.protocol.errors import ConfigError, UserSigInvalid
from timhooks.server.app import ChatServer
from timhooks.server.config import load_config
from timhooks.server.store import App

APP = 1400000001
URL = "http://127.0.0.1:9/im"


async def started(db: Path, **flags: object) -> tuple[App, str]:
    """Start a server on ``db`` with ``flags`` as given on the command line, stop it; return the
    app it served and its admin UserSig."""
    server = ChatServer(load_config(env={}, flags={"db": str(db), **flags}))
    try:
        app = await server.start()
        return app, server.admin_usersig(app)
    finally:
        await server.stop()


async def test_restart_reuses_the_stored_app_and_webhook_settings(tmp_path: Path) -> None:
    """A restart without flags serves the same app id, key, admins and callback URL."""
    db = tmp_path / "chat.db"
    first, _ = await started(
        db, app_id=APP, key="first-key", admins="boss", callback_url=URL, callback_token="tok"
    )
    again, _ = await started(db)
    assert again == first
    assert (again.key, again.admins, again.callback.url) == ("first-key", ("boss",), URL)


async def test_a_different_key_is_refused_unless_rotated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """--key other-key on a stored app is refused (the old UserSigs keep working); with
    --rotate-key it replaces the key, says so in the log, and old UserSigs stop verifying."""
    db = tmp_path / "chat.db"
    _, old_sig = await started(db, app_id=APP, key="first-key")
    with pytest.raises(ConfigError, match="--rotate-key"):
        await started(db, key="other-key")
    kept, _ = await started(db, key="first-key")
    assert kept.key == "first-key"
    verify_usersig(
        old_sig, sdk_app_id=APP, key=kept.key, identifier="administrator", now=int(time.time())
    )

    with caplog.at_level(logging.WARNING, logger="timhooks.server"):
        rotated, _ = await started(db, key="other-key", rotate_key=True)
    assert rotated.key == "other-key"
    assert any("secret key rotated" in r.getMessage() for r in caplog.records)
    assert not any("other-key" in r.getMessage() for r in caplog.records)
    with pytest.raises(UserSigInvalid):
        verify_usersig(
            old_sig,
            sdk_app_id=APP,
            key=rotated.key,
            identifier="administrator",
            now=int(time.time()),
        )
    assert (await started(db))[0].key == "other-key"


async def test_a_setting_given_at_start_up_replaces_the_stored_one(tmp_path: Path) -> None:
    """A webhook setting given on restart replaces the stored one even when it is the default
    (policy proceed over a stored deny), and each retry setting on its own: a new factor keeps
    the stored attempts."""
    db = tmp_path / "chat.db"
    await started(
        db,
        callback_url=URL,
        callback_failure_policy="deny",
        callback_retry_attempts=5,
        callback_after_timeout_ms=1500.0,
    )
    again, _ = await started(db, callback_failure_policy="proceed", callback_retry_factor=2.0)
    callback = again.callback
    assert (callback.url, callback.failure_policy, callback.after_timeout) == (URL, "proceed", 1.5)
    assert (callback.retry.attempts, callback.retry.factor) == (5, 2.0)
