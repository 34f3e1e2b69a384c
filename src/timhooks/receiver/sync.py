"""A blocking front for the receiver, for Flask, Django or any synchronous code.

The receiver runs on its own event loop in a background thread; ``handle`` hands a request to
that loop and waits for the answer, so the inbox worker keeps running between requests.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from timhooks.receiver.response import WebhookEndpoint, WebhookResponse

__all__ = ["SyncReceiver"]

T = TypeVar("T")


class _ExitSafeExecutor(ThreadPoolExecutor):
    """The background loop's thread pool. ``close`` often runs from an atexit hook (a Flask app
    stopped with Ctrl-C), when Python's thread pools take no more work; what stopping hands to
    a thread then (closing the inbox) runs in the loop's own thread instead."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError:  # "cannot schedule new futures after interpreter shutdown"
            future: Future[T] = Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
            return future


class SyncReceiver:
    """``handle(method, query, body) -> WebhookResponse``, callable from any thread."""

    def __init__(self, receiver: WebhookEndpoint) -> None:
        self.receiver = receiver
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(_ExitSafeExecutor(thread_name_prefix="timhooks-receiver"))
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="timhooks-receiver", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(receiver.start(), self._loop).result()

    def handle(
        self,
        method: str,
        query: bytes | str | Mapping[str, str],
        body: bytes,
        *,
        peer: str | None = None,
    ) -> WebhookResponse:
        """Check and answer one webhook request, blocking until the answer is ready.

        ``peer`` (the sender's address, e.g. Flask's ``request.remote_addr``) goes to observers.
        """
        future = asyncio.run_coroutine_threadsafe(
            self.receiver.handle(method, query, body, peer=peer), self._loop
        )
        return future.result()

    def close(self, grace: float = 10.0) -> None:
        """Stop the inbox worker and the background loop."""
        if not self._loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.receiver.stop(grace), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
