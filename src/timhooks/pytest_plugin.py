"""pytest fixtures for app test suites, loaded by ``pip install timhooks`` (entry point
``pytest11``), moto-style:

- ``tim_server``: a ``timhooks serve`` for the test, on a free port of 127.0.0.1, with a fresh
  app (``.app_id``, ``.key``, ``.rest(command, body)``, ``.usersig(user)``,
  ``.client(user, platform).call(action, body)``, ``.set_callback(url, token=...)``);
- ``tim_webhooks``: a capture endpoint ``tim_server`` sends its webhooks to
  (``.wait_for(command, timeout=...)`` returns typed events, ``.answer(command, decision)``
  scripts before-webhook answers);
- ``tim_app``: the app under test (the ASGI app your ``tim_asgi_app`` fixture returns), served
  on loopback so ``tim_server`` can send it webhooks: ``tim_server.set_callback(tim_app.url +
  "/tencent/callback", token=...)``.

Fixtures only, none autouse: a test suite that uses none of them pays nothing but this import.
The servers run on one event loop in a background thread, started on first use. The SDKAppID of
the test app is the ini option ``timhooks_app_id`` (default 1400000001).
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import concurrent.futures

    from timhooks.testing import EventLoopThread, ServedApp, TimServer, WebhookCapture

__all__ = ["tim_app", "tim_asgi_app", "tim_server", "tim_webhooks"]

_APP_ID_OPTION = "timhooks_app_id"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option ``timhooks_app_id``: the SDKAppID of ``tim_server``'s app."""
    parser.addini(
        _APP_ID_OPTION, "SDKAppID of the app tim_server creates (default 1400000001)", default=""
    )


class _Session:
    """The session's testing loop (started on first use) and the apps served on it."""

    def __init__(self) -> None:
        self._loop: EventLoopThread | None = None
        self.apps: dict[int, tuple[Any, ServedApp]] = {}
        self.stopping: list[concurrent.futures.Future[None]] = []

    @property
    def loop(self) -> EventLoopThread:
        if self._loop is None:
            from timhooks.testing import EventLoopThread

            self._loop = EventLoopThread()
        return self._loop

    def stop_later(self, stop: Coroutine[Any, Any, None]) -> None:
        """Stop a test's server in the background: uvicorn takes a few ticks of 0.1 s to stop,
        which the next test need not wait for (everything is stopped by the session's end)."""
        self.stopping = [f for f in self.stopping if not f.done()]
        self.stopping.append(self.loop.submit(stop))

    def close(self) -> None:
        if self._loop is None:
            return
        import concurrent.futures

        concurrent.futures.wait(self.stopping, timeout=30)
        for _, served in self.apps.values():
            self._loop.run(served.stop())
        self.apps.clear()
        self._loop.close()


@pytest.fixture(scope="session")
def _tim_session() -> Iterator[_Session]:
    """The testing loop and the apps served for the session, stopped at its end."""
    session = _Session()
    try:
        yield session
    finally:
        session.close()


def _app_id(config: pytest.Config) -> int:
    value = str(config.getini(_APP_ID_OPTION) or "").strip()
    if not value:
        return 1400000001
    if not value.isdigit():
        raise pytest.UsageError(f"ini option {_APP_ID_OPTION} must be a number, got {value!r}")
    return int(value)


@pytest.fixture
def tim_server(
    _tim_session: _Session, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TimServer]:
    """A ``timhooks serve`` with a fresh app (its own database) for this test."""
    from timhooks.testing import TimServer

    db = Path(tmp_path_factory.mktemp("tim_server")) / "timhooks.db"
    server = TimServer.start(_tim_session.loop, db, app_id=_app_id(request.config))
    try:
        yield server
    finally:
        _tim_session.stop_later(server.aclose())


@pytest.fixture
def tim_webhooks(
    _tim_session: _Session, tim_server: TimServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookCapture]:
    """A capture endpoint for ``tim_server``'s webhooks (its callback URL points here)."""
    from timhooks.testing import WebhookCapture

    inbox = Path(tmp_path_factory.mktemp("tim_webhooks")) / "inbox.db"
    capture = WebhookCapture.start(_tim_session.loop, inbox, app_id=tim_server.app_id)
    try:
        tim_server.set_callback(capture.url, token=capture.token)
        yield capture
    finally:
        _tim_session.stop_later(capture.aclose())


@pytest.fixture
def tim_asgi_app() -> Any:
    """The app under test: override this fixture to return your ASGI app."""
    raise pytest.UsageError(
        "tim_app serves the app your tests define: add a fixture `tim_asgi_app` returning your"
        " ASGI app (e.g. `return myapp.app`) to your conftest.py"
    )


@pytest.fixture
def tim_app(_tim_session: _Session, tim_asgi_app: Any) -> ServedApp:
    """``tim_asgi_app`` served on 127.0.0.1 (``.url``): once per app object for the session, so
    its lifespan (a Receiver's inbox worker) runs once and a module-level app keeps working."""
    from timhooks.testing import ServedApp

    found = _tim_session.apps.get(id(tim_asgi_app))
    if found is not None and found[0] is tim_asgi_app:
        return found[1]
    served = _tim_session.loop.run(ServedApp.start(tim_asgi_app))
    _tim_session.apps[id(tim_asgi_app)] = (tim_asgi_app, served)
    return served
