"""Developer-tool test plumbing: one background event loop (``timhooks.testing``) serving the
endpoints and servers the tests need on loopback, and the log levels ``main`` sets put back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from devtools_support import APP

from timhooks.testing import EventLoopThread, ServedApp, TimServer, WebhookCapture


@pytest.fixture(scope="session")
def testing_loop() -> Iterator[EventLoopThread]:
    """The event loop in a background thread that serves every endpoint of these tests."""
    loop = EventLoopThread()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture
def serve_app(testing_loop: EventLoopThread) -> Iterator[Callable[[Any], ServedApp]]:
    """Serve an ASGI app on 127.0.0.1 for the test: ``served = serve_app(app)``."""
    started: list[ServedApp] = []

    def serve(app: Any) -> ServedApp:
        served = testing_loop.run(ServedApp.start(app))
        started.append(served)
        return served

    try:
        yield serve
    finally:
        for served in started:
            testing_loop.run(served.stop())


@pytest.fixture
def chat_server(testing_loop: EventLoopThread, tmp_path: Path) -> Iterator[TimServer]:
    """A Chat backend with a fresh app (SdkAppid ``APP``) and no callback URL."""
    server = TimServer.start(testing_loop, tmp_path / "serve.db", app_id=APP)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def capture(testing_loop: EventLoopThread, tmp_path: Path) -> Iterator[WebhookCapture]:
    """A receiver for ``APP`` that records every webhook (its token is ``capture.token``)."""
    endpoint = WebhookCapture.start(testing_loop, tmp_path / "capture.db", app_id=APP)
    try:
        yield endpoint
    finally:
        endpoint.close()


@pytest.fixture(autouse=True)
def _restore_log_levels() -> Iterator[None]:
    """``timhooks -v/-q`` sets the timhooks logger's level; other tests expect the default."""
    loggers = [logging.getLogger(), logging.getLogger("timhooks")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
