"""Test helpers for app test suites: a Chat backend, a webhook capture endpoint and the app under
test, each served on a free port of 127.0.0.1, all on one event loop in a background thread.

The pytest fixtures (``timhooks.pytest_plugin``: ``tim_server``, ``tim_webhooks``, ``tim_app``)
are thin wrappers around these classes; they work the same from plain and ``async def`` tests,
since nothing runs on the test's own thread but the calls that wait for an answer.

    def test_group_full(tim_server, tim_webhooks):
        tim_server.rest("im_open_login_svc/multiaccount_import", {"AccountList": ["a", "b"]})
        group = tim_server.rest("group_open_http_svc/create_group",
                                {"Owner_Account": "a", "Type": "Public", "Name": "g",
                                 "MaxMemberCount": 2})["GroupId"]
        tim_server.rest("group_open_http_svc/add_group_member",
                        {"GroupId": group, "MemberList": [{"Member_Account": "b"}]})
        assert tim_webhooks.wait_for(ev.AfterGroupFull).group_id == group
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from timhooks.protocol.decisions import Decision
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.events import Event

if TYPE_CHECKING:
    import socket

    import uvicorn

    from timhooks.devtools.rest import RestClient
    from timhooks.receiver.core import Receiver, WebhookMeta
    from timhooks.server.app import ChatServer

__all__ = [
    "DEFAULT_APP_ID",
    "Captured",
    "EventLoopThread",
    "ServedApp",
    "TimClient",
    "TimServer",
    "WebhookCapture",
    "served",
    "wait_until",
]

DEFAULT_APP_ID = 1400000001
"""The SDKAppID of the test app unless the ini option ``timhooks_app_id`` says another."""

T = TypeVar("T")
E = TypeVar("E", bound=Event)


class EventLoopThread:
    """An asyncio event loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._main, name="timhooks-testing-loop", daemon=True
        )
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; its future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception)."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel what still runs, stop the loop and join the thread."""
        if self.loop.is_closed():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            self.run(cancel_all(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class ServedApp:
    """An ASGI app served on 127.0.0.1 (a free port) by uvicorn, on the testing loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket):
        self._server = server
        self._task = task
        self._sock = sock
        self.port: int = sock.getsockname()[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, app: Any, *, lifespan: Literal["auto", "on", "off"] = "auto") -> ServedApp:
        """Serve ``app`` until ``stop``; its lifespan (when it has one) runs at both ends."""
        import uvicorn

        from timhooks import hosting

        sock = hosting.bind("127.0.0.1", 0)
        config = hosting.uvicorn_config(app, lifespan="on")
        config.lifespan = lifespan  # "auto": an app without lifespan support is served anyway
        config.timeout_graceful_shutdown = 5  # then requests still running are cancelled
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                sock.close()
                task.result()  # the start-up error
                raise ConfigError("the app stopped while starting")
            await asyncio.sleep(0.002)
        return cls(server, task, sock)

    async def stop(self) -> None:
        """Stop serving; run the app's lifespan shutdown."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 15)
        finally:
            self._sock.close()


# --- the Chat backend -------------------------------------------------------------------------


class TimClient:
    """A user of the test app acting through the client API (``timhooks_client/...``)."""

    def __init__(self, server: TimServer, user: str, platform: str) -> None:
        self.server = server
        self.user = user
        self.platform = platform

    def call(self, action: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a client action (``subscribe_official_account``, ``apply_join_group`` ...) as
        this user; return the parsed answer."""
        rest = self.server._rest
        return self.server._loop.run(
            rest.client(self.user, action, body or {}, platform=self.platform)
        )


class TimServer:
    """A ``timhooks serve`` for one test: a fresh app on a free loopback port.

    ``app_id``, ``key`` and ``admin`` are the app's; ``url`` is the server's base URL (for an app
    that calls the REST API itself, with ``usersig(admin)``).
    """

    def __init__(
        self,
        loop: EventLoopThread,
        chat: ChatServer,
        served: ServedApp,
        rest: RestClient,
    ) -> None:
        self._loop = loop
        self._chat = chat
        self._served = served
        self._rest = rest
        self.app_id = rest.app_id
        self.key = rest.key
        self.admin = rest.admin
        self.url = served.url

    @classmethod
    def start(cls, loop: EventLoopThread, db: Path, *, app_id: int = DEFAULT_APP_ID) -> TimServer:
        """Create the app in a new database at ``db`` and serve it."""
        from timhooks.devtools.rest import RestClient
        from timhooks.server.app import ChatServer
        from timhooks.server.config import ServerConfig

        key = secrets.token_hex(32)
        config = ServerConfig(
            db=str(db), app_id=app_id, key=key, admins=("administrator",), retention_days=0
        )

        async def start() -> TimServer:
            chat = ChatServer(config)
            served = await ServedApp.start(chat.asgi, lifespan="on")
            rest = RestClient(served.url, app_id=app_id, key=key)
            return cls(loop, chat, served, rest)

        return loop.run(start())

    async def aclose(self) -> None:
        """Stop the server (on the testing loop; its dispatcher drains first)."""
        await self._rest.aclose()
        await self._served.stop()

    def close(self) -> None:
        """Stop the server and wait until it has stopped."""
        self._loop.run(self.aclose())

    def usersig(self, user: str) -> str:
        """A fresh UserSig of ``user`` under the app's key."""
        return self._rest.usersig(user)

    def rest(
        self,
        command: str,
        body: Mapping[str, Any] | None = None,
        *,
        identifier: str | None = None,
    ) -> dict[str, Any]:
        """Call a REST command (``group_open_http_svc/create_group``) as the admin (or
        ``identifier``); return the parsed answer, ``ErrorCode`` and all."""
        return self._loop.run(self._rest.call(command, body or {}, identifier=identifier))

    def client(self, user: str, platform: str = "iOS") -> TimClient:
        """``user`` on ``platform`` (the webhooks' OptPlatform), for client actions."""
        return TimClient(self, user, platform)

    def set_callback(
        self,
        url: str | None,
        *,
        token: str | None = None,
        commands: list[str] | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Send the app's webhooks to ``url`` (None: none), signed with ``token``; ``commands``
        limits them, and ``settings`` adds ``set_callback`` fields (``BeforeTimeoutMs=...``)."""
        body: dict[str, Any] = {"Url": url or "", "Token": token or "", **settings}
        if commands is not None:
            body["CallbackCommandList"] = commands
        answer = self.rest("timhooks_config/set_callback", body)
        if answer.get("ErrorCode") != 0:
            raise ConfigError(f"set_callback refused: {answer.get('ErrorInfo')}")
        return answer


# --- the capture endpoint ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Captured:
    """One webhook the capture endpoint received, and what was answered if it was a before."""

    event: Event
    meta: WebhookMeta
    answer: Decision | None = None


Answer = Decision | Callable[[Any], Decision]


class WebhookCapture:
    """An endpoint that records every webhook it receives (``tim_server``'s, once pointed at
    ``url``), answers after-webhooks OK and before-webhooks as scripted with ``answer``."""

    def __init__(self, loop: EventLoopThread, receiver: Receiver, served: ServedApp, token: str):
        self._loop = loop
        self._receiver = receiver
        self._served = served
        self.token = token
        self.url = f"{served.url}/timhooks/capture"
        self.captured: list[Captured] = []
        self._answers: dict[str, Answer] = {}
        self._returned: dict[str, int] = {}
        self._arrived = threading.Condition()

    @classmethod
    def start(cls, loop: EventLoopThread, inbox: Path, *, app_id: int) -> WebhookCapture:
        """A receiver for ``app_id`` with a fresh token, its inbox at ``inbox``, served."""
        from timhooks.receiver.core import Receiver

        token = secrets.token_hex(16)

        async def start() -> WebhookCapture:
            receiver = Receiver(
                app_id=app_id, token=token, inbox=inbox, retention_days=0, poll_interval=0.05
            )
            served = await ServedApp.start(receiver.asgi, lifespan="on")
            capture = cls(loop, receiver, served, token)
            receiver.on("*")(capture._record)
            return capture

        return loop.run(start())

    async def aclose(self) -> None:
        """Stop the endpoint and its receiver (on the testing loop)."""
        await self._served.stop()

    def close(self) -> None:
        """Stop the endpoint and wait until it has stopped."""
        self._loop.run(self.aclose())

    def _record(self, event: Event, meta: WebhookMeta) -> Decision | None:
        answer = self._answers.get(event.callback_command)
        decision = None
        if answer is not None:
            decision = answer if isinstance(answer, Decision) else answer(event)
        with self._arrived:
            self.captured.append(Captured(event, meta, decision))
            self._arrived.notify_all()
        return decision

    def answer(self, command: type[Event] | str, decision: Answer) -> None:
        """Answer every later ``command`` before-webhook with ``decision`` (or with what
        ``decision(event)`` returns); the default answer allows."""
        from timhooks.protocol.commands import COMMANDS

        name = _name(command)
        spec = COMMANDS.get(name)
        if spec is None or not spec.is_before:
            raise ConfigError(f"{name} is not a before-webhook: its answer decides nothing")
        if isinstance(decision, Decision):
            spec.check(decision)
        self._answers[name] = decision

    def events(self, command: type[Event] | str | None = None) -> list[Event]:
        """The events received so far (of ``command`` only, when given), oldest first."""
        with self._arrived:
            found = [c.event for c in self.captured]
        if command is None:
            return found
        name = _name(command)
        return [e for e in found if e.callback_command == name]

    @overload
    def wait_for(self, command: type[E], timeout: float = 10.0) -> E: ...
    @overload
    def wait_for(self, command: str, timeout: float = 10.0) -> Event: ...
    def wait_for(self, command: type[Event] | str, timeout: float = 10.0) -> Event:
        """The next ``command`` event no earlier ``wait_for`` returned, waiting up to
        ``timeout`` seconds for it; AssertionError naming what did arrive otherwise."""
        name = _name(command)
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                seen = [c.event for c in self.captured if c.event.callback_command == name]
                taken = self._returned.get(name, 0)
                if len(seen) > taken:
                    self._returned[name] = taken + 1
                    return seen[taken]
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [c.event.callback_command for c in self.captured]
                    raise AssertionError(f"no {name} webhook within {timeout:g} s; received: {got}")
                self._arrived.wait(left)


def _name(command: type[Event] | str) -> str:
    name = command if isinstance(command, str) else command.command
    if not name:
        raise ConfigError("name a command: an event class or a CallbackCommand")
    return name


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, *, interval: float = 0.01
) -> None:
    """Wait until ``predicate()`` is true (an after-handler of the app under test has run);
    AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(interval)


@contextlib.contextmanager
def served(loop: EventLoopThread, app: Any) -> Iterator[ServedApp]:
    """Serve ``app`` on the loop for the block (its lifespan at both ends)."""
    server = loop.run(ServedApp.start(app))
    try:
        yield server
    finally:
        loop.run(server.stop())
