"""End-to-end plumbing: a ChatServer and a timhooks Receiver, each under uvicorn on loopback.

``stack(tmp_path)`` starts both on free ports of 127.0.0.1 with the server's callback URL
pointing at the receiver, and hands back a ``Stack``: a REST client (admin and client actions),
the ``Recorder`` in front of the receiver (every raw webhook request, and canned faults), and the
events the receiver's handlers saw. Everything is stopped and closed on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn

from loopback import loopback_socket
from timhooks.protocol import compute_sign, generate_usersig
from timhooks.protocol.events import Event
from timhooks.receiver import Receiver, WebhookMeta
from timhooks.server.app import ChatServer
from timhooks.server.config import CallbackConfig, ServerConfig
from timhooks.server.store import App, DeliveryStatus

APP = 1400012345
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
ADMIN = "administrator"
TOKEN = "xxxxyyyy-timhooks-token"
HOOK_PATH = "/im/callback"
ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}

OA = "official_account_open_http_svc"
GROUP = "group_open_http_svc"
LOGIN = "im_open_login_svc"
CONFIG = "timhooks_config"
CLIENT = "timhooks_client"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- servers on loopback ----------------------------------------------------------------------


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal capture: several run side by side in one test's loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    """An ASGI app being served on 127.0.0.1."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def serve(app: Any, sock: socket.socket | None = None) -> Served:
    """Serve ``app`` (lifespan on) on ``sock`` or a fresh loopback socket until ``stop()``."""
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Uvicorn(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise AssertionError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start within 10 s")
        await asyncio.sleep(0.005)
    return Served(server, task, port)


# --- the recorder in front of the receiver ----------------------------------------------------


@dataclass
class Hit:
    """One webhook request as it arrived, and what was answered."""

    path: str
    raw_query: str
    pairs: list[tuple[str, str]]
    body: dict[str, Any]
    raw_body: bytes
    headers: dict[str, str]
    at: float
    client: tuple[str, int] | None = None
    status: int | None = None
    answer: bytes = b""
    faulted: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def answered(self, within: float = 10.0) -> Hit:
        """Wait until the answer to this request has been sent."""
        await asyncio.wait_for(self.done.wait(), within)
        return self

    @property
    def query(self) -> dict[str, str]:
        return dict(self.pairs)

    @property
    def command(self) -> str:
        return self.query.get("CallbackCommand", "")


Fault = Callable[[Hit, Receive, Send], Awaitable[None]]


def respond(status: int, body: bytes | str | dict[str, Any]) -> Fault:
    """A fault that answers ``status`` with ``body`` instead of the receiver."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = data.encode() if isinstance(data, str) else data

    async def fault(hit: Hit, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    return fault


def delayed(seconds: float, then: Fault) -> Fault:
    """A fault that waits ``seconds`` before acting as ``then``."""

    async def fault(hit: Hit, receive: Receive, send: Send) -> None:
        await asyncio.sleep(seconds)
        await then(hit, receive, send)

    return fault


def hang(release: asyncio.Event, within: float = 30.0) -> Fault:
    """A fault that holds the request (no answer) until the client goes or ``release`` is set."""

    async def fault(hit: Hit, receive: Receive, send: Send) -> None:
        gone = asyncio.create_task(receive())
        freed = asyncio.create_task(release.wait())
        await asyncio.wait({gone, freed}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        for task in (gone, freed):
            task.cancel()
        await asyncio.gather(gone, freed, return_exceptions=True)
        if release.is_set():
            await respond(503, b"released")(hit, receive, send)

    return fault


class Recorder:
    """ASGI middleware that records each webhook request, then passes it to the receiver.

    ``faults[command]`` (or ``faults["*"]``) is a queue of faults: the next matching request gets
    the first fault instead of reaching the receiver.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hits: list[Hit] = []
        self.faults: dict[str, deque[Fault]] = {}
        self._arrived = asyncio.Event()

    def fail(self, command: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests of ``command`` ("*": any command)."""
        self.faults.setdefault(command, deque()).extend(faults)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        text = scope.get("query_string", b"").decode()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {"<not json>": raw.decode("utf-8", "replace")}
        hit = Hit(
            path=scope["path"],
            raw_query=text,
            pairs=parse_qsl(text, keep_blank_values=True),
            body=parsed,
            raw_body=raw,
            headers={k.decode().lower(): v.decode() for k, v in scope.get("headers", [])},
            at=time.time(),
            client=tuple(scope["client"]) if scope.get("client") else None,
        )
        self.hits.append(hit)
        self._arrived.set()
        try:
            await self._answer(scope, hit, raw, receive, send)
        finally:
            hit.done.set()

    async def _answer(
        self, scope: Scope, hit: Hit, raw: bytes, receive: Receive, send: Send
    ) -> None:
        queue = self.faults.get(hit.command) or self.faults.get("*")
        if queue:
            hit.faulted = True
            await queue.popleft()(hit, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                hit.status = message["status"]
            elif message["type"] == "http.response.body":
                hit.answer += message.get("body", b"")
            await send(message)

        await self.inner(scope, replay, capture)

    def of(self, command: str) -> list[Hit]:
        """Requests of ``command`` so far."""
        return [h for h in self.hits if h.command == command]

    def commands(self) -> list[str]:
        """The CallbackCommand of every request so far, in arrival order."""
        return [h.command for h in self.hits]

    async def wait_for(self, command: str, count: int = 1, within: float = 10.0) -> list[Hit]:
        """Wait until ``count`` requests of ``command`` have arrived; return them."""
        deadline = time.monotonic() + within
        while len(self.of(command)) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{count} x {command} not received within {within} s; got {self.commands()}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.2))
        return self.of(command)


# --- REST ---------------------------------------------------------------------------------------


class Rest:
    """Tencent's REST API over HTTP: admin calls and the timhooks client API."""

    def __init__(self, http: httpx.AsyncClient, app_id: int = APP, key: str = KEY) -> None:
        self.http = http
        self.app_id = app_id
        self.key = key

    def sig(self, user: str) -> str:
        return generate_usersig(self.app_id, self.key, user, now=int(time.time()))

    async def raw(
        self,
        path: str,
        content: bytes | None,
        params: dict[str, str] | None,
    ) -> httpx.Response:
        return await self.http.post(path, content=content, params=params)

    async def call(
        self,
        service: str,
        command: str,
        body: dict[str, Any] | None = None,
        *,
        identifier: str = ADMIN,
        usersig: str | None = None,
        platform: str | None = None,
        app_id: int | None = None,
    ) -> dict[str, Any]:
        """POST one call; return the envelope (asserting HTTP 200 and its four fields)."""
        params = {
            "sdkappid": str(self.app_id if app_id is None else app_id),
            "identifier": identifier,
            "usersig": usersig if usersig is not None else self.sig(identifier),
            "random": "4294967295",
            "contenttype": "json",
        }
        if platform is not None:
            params["platform"] = platform
        response = await self.http.post(
            f"/v4/{service}/{command}", content=json.dumps(body or {}).encode(), params=params
        )
        return envelope(response)

    async def ok(self, service: str, command: str, body: dict[str, Any] | None = None, **kw: Any):
        """A call that must succeed; return its envelope."""
        result = await self.call(service, command, body, **kw)
        assert result["ErrorCode"] == 0, result
        assert result["ActionStatus"] == "OK", result
        return result

    async def client(
        self, user: str, command: str, body: dict[str, Any], platform: str = "Android"
    ) -> dict[str, Any]:
        """A client action of ``user`` on ``platform``."""
        return await self.call(CLIENT, command, body, identifier=user, platform=platform)

    # shortcuts for set-ups ---------------------------------------------------------------------

    async def import_users(self, *users: str) -> None:
        for start in range(0, len(users), 100):
            result = await self.ok(
                LOGIN, "multiaccount_import", {"AccountList": list(users[start : start + 100])}
            )
            assert result["FailAccounts"] == []

    async def create_oa(self, owner: str, name: str = "News", **fields: Any) -> str:
        result = await self.ok(
            OA, "create_official_account", {"Owner_Account": owner, "Name": name, **fields}
        )
        oa_id: str = result["OfficialAccountUserID"]
        return oa_id

    async def create_group(self, owner: str, type_: str = "Public", **fields: Any) -> str:
        body = {"Owner_Account": owner, "Type": type_, "Name": "Hikers", **fields}
        result = await self.ok(GROUP, "create_group", body)
        group_id: str = result["GroupId"]
        return group_id

    async def send_msg(self, oa_id: str, text: str = "hello", **fields: Any) -> dict[str, Any]:
        body = {
            "Official_Account": oa_id,
            "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}],
            **fields,
        }
        return await self.ok(OA, "send_official_account_msg", body)

    async def members(self, group_id: str) -> list[str]:
        result = await self.ok(GROUP, "get_group_member_info", {"GroupId": group_id})
        return [m["Member_Account"] for m in result["MemberList"]]

    async def subscribers(self, oa_id: str) -> list[str]:
        result = await self.ok(OA, "get_subscriber_info", {"Official_Account": oa_id})
        return [s["Subscriber_Account"] for s in result["SubscriberList"]]

    async def oa_info(self, oa_id: str) -> dict[str, Any]:
        result = await self.ok(
            OA,
            "get_official_account_info",
            {"OfficialAccountIdList": [{"Official_Account": oa_id}]},
        )
        item: dict[str, Any] = result["OfficialAccountInfoList"][0]
        return item

    async def group_info(self, group_id: str) -> dict[str, Any]:
        result = await self.ok(GROUP, "get_group_info", {"GroupIdList": [group_id]})
        item: dict[str, Any] = result["GroupInfo"][0]
        return item


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The JSON envelope of a REST answer, which is always HTTP 200 with the four fields."""
    assert response.status_code == 200, (response.status_code, response.text)
    data: dict[str, Any] = response.json()
    assert data["ActionStatus"] in ("OK", "FAIL"), data
    assert isinstance(data["ErrorCode"], int), data
    assert isinstance(data["ErrorInfo"], str), data
    assert data["RequestId"].startswith("Id-"), data
    assert (data["ActionStatus"] == "OK") == (data["ErrorCode"] == 0), data
    return data


async def handled(
    events: list[tuple[Event, WebhookMeta]], command: str, count: int, within: float
) -> list[Event]:
    """Wait until ``events`` (what receiver handlers logged) holds ``count`` of ``command``."""
    deadline = time.monotonic() + within
    while True:
        found = [e for e, _ in events if e.callback_command == command]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            seen = [e.callback_command for e, _ in events]
            raise AssertionError(f"receiver handlers saw no {command} in {within} s: {seen}")
        await asyncio.sleep(0.01)


# --- the stack ------------------------------------------------------------------------------------


@dataclass
class Stack:
    """A Chat backend and an app backend talking over loopback."""

    server: ChatServer
    receiver: Receiver
    recorder: Recorder
    rest: Rest
    events: list[tuple[Event, WebhookMeta]] = field(default_factory=list)
    token: str | None = None
    callback_url: str = ""

    async def received(self, command: str, count: int = 1, within: float = 10.0) -> list[Event]:
        """Wait until the receiver's handlers have seen ``count`` events of ``command``."""
        return await handled(self.events, command, count, within)

    async def webhook(
        self,
        command: str,
        window: tuple[float, float],
        platform: str = "RESTAPI",
        *,
        nth: int = 1,
        **fields: Any,
    ) -> Hit:
        """Wait for the ``nth`` request of ``command`` (there must be no more yet) and check it:
        Tencent's query with OptPlatform ``platform``, signed with the stack's token if it has
        one, and a body of exactly ``fields`` with an EventTime in ``window``."""
        hits = await self.recorder.wait_for(command, nth)
        assert len(hits) == nth, self.recorder.commands()
        hit = hits[-1]
        check_query(hit, command, platform, token=self.token)
        check_body(hit, command, window, **fields)
        return hit

    def meta(self, command: str) -> list[WebhookMeta]:
        return [m for e, m in self.events if e.callback_command == command]

    async def drained(self, within: float = 10.0) -> None:
        """Wait until the outbox has nothing pending (every after-webhook was attempted)."""
        deadline = time.monotonic() + within
        while await self.server.store.deliveries(status=DeliveryStatus.PENDING):
            if time.monotonic() > deadline:
                raise AssertionError(f"outbox still has pending rows after {within} s")
            await asyncio.sleep(0.02)

    async def outbox(self, command: str, phase: str = "after") -> list[Any]:
        rows = await self.server.store.deliveries(command=command, limit=1000)
        return [r for r in rows if r.phase == phase]

    async def before_records(self, command: str, count: int = 1) -> list[Any]:
        """The delivery log's records of a before-webhook, once ``count`` are written: the call's
        answer does not wait for its record (``OutboxStore.record_before``)."""
        deadline = time.monotonic() + 5
        while len(rows := await self.outbox(command, phase="before")) < count:
            assert time.monotonic() < deadline, f"{len(rows)} of {count} {command} records"
            await asyncio.sleep(0.01)
        return rows

    async def add_app(self, app_id: int, key: str, *, callback: CallbackConfig | None = None):
        """A second app served by the same Chat backend."""
        app = App(
            sdk_app_id=app_id,
            key=key,
            admins=(ADMIN,),
            callback=callback or CallbackConfig(),
        )
        await self.server.store.put_app(app, now=time.time())
        await self.server.apps.load()
        return app


SAME = "<same token as the Chat backend>"


@dataclass
class AppBackend:
    """A timhooks Receiver under uvicorn, behind a Recorder; its handlers log every event."""

    receiver: Receiver
    recorder: Recorder
    served: Served
    events: list[tuple[Event, WebhookMeta]]

    @property
    def url(self) -> str:
        """The webhook URL to configure on the Chat backend."""
        return self.served.url + HOOK_PATH

    async def received(self, command: str, count: int = 1, within: float = 10.0) -> list[Event]:
        """Wait until the receiver's handlers have seen ``count`` events of ``command``."""
        return await handled(self.events, command, count, within)


@contextlib.asynccontextmanager
async def app_backend(
    tmp_path: Path,
    *,
    token: str | None = None,
    sock: socket.socket | None = None,
    receiver_options: dict[str, Any] | None = None,
) -> AsyncIterator[AppBackend]:
    """A Receiver for app APP (checking Sign with ``token``) served on loopback."""
    receiver = Receiver(
        app_id=APP,
        token=token,
        inbox=tmp_path / "receiver-inbox.db",
        poll_interval=0.05,
        **(receiver_options or {}),
    )
    events: list[tuple[Event, WebhookMeta]] = []

    @receiver.on("*")
    async def record(event: Event, meta: WebhookMeta) -> None:
        events.append((event, meta))

    recorder = Recorder(receiver.asgi)
    try:
        served = await serve(recorder, sock)
    except BaseException:
        await receiver.stop()
        raise
    backend = AppBackend(receiver, recorder, served, events)
    try:
        yield backend
    finally:
        await served.stop()


@contextlib.asynccontextmanager
async def stack(
    tmp_path: Path,
    *,
    token: str | None = None,
    receiver_token: str | None = SAME,
    callback: dict[str, Any] | None = None,
    connect: bool = True,
    receiver_options: dict[str, Any] | None = None,
    server_options: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """A ChatServer whose callback URL is a Recorder in front of a timhooks Receiver.

    ``token`` is the app's webhook token (the receiver checks it too, unless ``receiver_token``
    says otherwise); ``callback`` holds more CallbackConfig fields for the app;
    ``connect=False`` leaves the app without a callback URL.
    """
    async with app_backend(
        tmp_path,
        token=token if receiver_token == SAME else receiver_token,
        receiver_options=receiver_options,
    ) as backend:
        settings = dict(callback or {})
        if connect:
            settings.setdefault("url", backend.url)
            settings.setdefault("token", token)
        config = ServerConfig(
            db=str(tmp_path / "chat.db"),
            app_id=APP,
            key=KEY,
            callback=CallbackConfig(**settings) if settings else None,
            **(server_options or {}),
        )
        server = ChatServer(config)
        try:
            chat_side = await serve(server.asgi)
        except BaseException:
            await server.stop()
            raise
        try:
            async with httpx.AsyncClient(base_url=chat_side.url, timeout=30) as http:
                yield Stack(
                    server=server,
                    receiver=backend.receiver,
                    recorder=backend.recorder,
                    rest=Rest(http),
                    events=backend.events,
                    token=token,
                    callback_url=backend.url,
                )
        finally:
            # Both sides at once: uvicorn's shutdown takes a tick of its main loop each.
            await asyncio.gather(chat_side.stop(), backend.served.stop())


# --- what a webhook must look like ----------------------------------------------------------------


def check_query(
    hit: Hit,
    command: str,
    platform: str = "RESTAPI",
    *,
    token: str | None = None,
    app_id: int = APP,
) -> None:
    """The query is exactly Tencent's, signed with ``token`` if there is one."""
    assert hit.path == HOOK_PATH
    names = [k for k, _ in hit.pairs]
    assert len(names) == len(set(names)), hit.raw_query
    expected = {
        "SdkAppid": str(app_id),
        "CallbackCommand": command,
        "contenttype": "json",
        "ClientIP": "127.0.0.1",
        "OptPlatform": platform,
    }
    query = hit.query
    if token is None:
        assert query == expected, hit.raw_query
        return
    request_time = query.pop("RequestTime")
    sign = query.pop("Sign")
    assert query == expected, hit.raw_query
    assert request_time.isdigit()
    assert abs(int(request_time) - time.time()) < 30
    assert sign == compute_sign(token, request_time)


def check_body(
    hit: Hit, command: str, window: tuple[float, float], **fields: Any
) -> dict[str, Any]:
    """The body holds exactly CallbackCommand, ``fields`` and an EventTime (ms) in ``window``."""
    body = hit.body
    assert set(body) == {"CallbackCommand", "EventTime", *fields}, body
    assert body["CallbackCommand"] == command
    for name, value in fields.items():
        assert body[name] == value, (name, body[name], value)
    event_time = body["EventTime"]
    assert isinstance(event_time, int)
    assert not isinstance(event_time, bool)
    low, high = window
    assert int(low * 1000) - 1 <= event_time <= int(high * 1000) + 1, (event_time, window)
    return body


class Clock:
    """Times around an action: ``with Clock() as t: ...`` then ``t.window``."""

    def __enter__(self) -> Clock:
        self.start = time.time()
        self.end = self.start
        return self

    def __exit__(self, *exc: object) -> None:
        self.end = time.time()

    @property
    def window(self) -> tuple[float, float]:
        return (self.start, self.end)


def subs(*users: str) -> list[dict[str, str]]:
    return [{"Subscriber_Account": u} for u in users]


def members(*users: str) -> list[dict[str, str]]:
    return [{"Member_Account": u} for u in users]


class BackgroundStack:
    """A ``stack`` kept running on its own thread and event loop, shared by many sync tests.

    ``run(fn)`` runs ``fn(stack)`` (a coroutine function) on that loop and returns its result.
    """

    def __init__(self, tmp_path: Path, setup: Callable[[Stack], Awaitable[Any]], **options: Any):
        self.tmp_path = tmp_path
        self.setup = setup
        self.options = options
        self.ctx: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stack: Stack | None = None
        self._thread = threading.Thread(target=self._main, name="timhooks-test-stack")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the test thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with stack(self.tmp_path, **self.options) as st:
            self._stack = st
            self.ctx = await self.setup(st)
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> BackgroundStack:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            self._thread.join(10)
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self._error is not None:
            raise self._error

    def run(self, fn: Callable[[Stack], Awaitable[Any]], timeout: float = 30) -> Any:
        assert self._loop is not None
        assert self._stack is not None
        future = asyncio.run_coroutine_threadsafe(fn(self._stack), self._loop)
        return future.result(timeout)
