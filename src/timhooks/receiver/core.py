"""The receiver: checks a webhook request, answers it, and runs its handlers.

``Receiver.handle(method, query, body)`` is the whole protocol for one request; the ASGI app and
the blocking adapter are thin shells around it. Before-webhooks run their handler inline under a
deadline; after-webhooks are written to the durable inbox before the 200 goes out, and handlers
run from the inbox with retries (``timhooks.receiver.inbox_worker``). The body is parsed once:
the event checked here is the one an after-handler handed the entry directly gets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from timhooks.protocol.commands import COMMANDS, CommandSpec, Phase, get_command, parse_event
from timhooks.protocol.decisions import ACK_BODY, ALLOW, Decision
from timhooks.protocol.errors import (
    ConfigError,
    MissingSignature,
    ProtocolError,
    SignatureMismatch,
    StaleRequest,
    StorageError,
    VerificationError,
)
from timhooks.protocol.events import Event
from timhooks.protocol.query import WebhookQuery, parse_query
from timhooks.protocol.signing import DEFAULT_TOLERANCE, verify_sign
from timhooks.receiver.asgi import ReceiverApp
from timhooks.receiver.handlers import Handler, HandlerTable, WebhookMeta, call_handler
from timhooks.receiver.inbox_worker import InboxWorker, Meter, claimed_entry
from timhooks.receiver.observe import Cause, Notice, Observer, Rejection, Repeat, peek_query
from timhooks.receiver.queries import VerifiedQueries
from timhooks.receiver.response import WebhookResponse, not_post
from timhooks.receiver.sync import SyncReceiver
from timhooks.receiver.threads import HandlerThreads
from timhooks.request_body import MAX_BODY, BodyTooLarge
from timhooks.storage import InboxStatus, InboxStore, NewInboxEntry, open_inbox
from timhooks.workqueue import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["Handler", "Receiver", "WebhookMeta", "WebhookResponse"]

log = logging.getLogger("timhooks.receiver")

E = TypeVar("E", bound=Event)

DEFAULT_MAX_BODY = MAX_BODY
DEFAULT_RETRY = RetryPolicy()

_ACK = WebhookResponse(200, ACK_BODY)
_AFTER = Phase.AFTER.value
_BEFORE = Phase.BEFORE.value

_SIGN_CAUSES: dict[type[VerificationError], Cause] = {
    MissingSignature: Cause.NO_SIGN,
    SignatureMismatch: Cause.SIGN_MISMATCH,
    StaleRequest: Cause.STALE_TIME,
}


class Receiver:
    """Receives Tencent Cloud Chat webhooks for one or more apps.

    ``apps`` maps each SDKAppID to its webhook token (None: the app sends no Sign). The inbox is
    an SQLite file path or URL, or any InboxStore.

    ``concurrency`` bounds the after-handlers running at once, all told (those handed a webhook
    as it arrives and those run from the inbox). Plain-function handlers run in threads of two
    pools: ``after_threads`` (default: ``concurrency``) for after-handlers and
    ``before_threads`` for before-handlers, so a before-webhook never waits behind an
    after-handler (the pools are ``after_pool`` and ``before_pool``). A handler that outlives its
    time limit stops counting against either bound; its thread is replaced (see
    ``timhooks.receiver.threads``).
    """

    def __init__(
        self,
        apps: Mapping[int, str | None] | None = None,
        *,
        app_id: int | None = None,
        token: str | None = None,
        inbox: str | Path | InboxStore = "timhooks-inbox.db",
        max_body: int = DEFAULT_MAX_BODY,
        before_deadline: float = 1.5,
        fallback: Decision = ALLOW,
        sign_tolerance: int = DEFAULT_TOLERANCE,
        retry: RetryPolicy = DEFAULT_RETRY,
        handler_timeout: float = 30.0,
        concurrency: int = 16,
        after_threads: int | None = None,
        before_threads: int = 8,
        poll_interval: float = 1.0,
        record_before: bool = True,
        retention_days: float = 7.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        configured = dict(apps or {})
        if app_id is not None:
            configured[int(app_id)] = token
        elif token is not None:
            raise ConfigError("a token needs its app_id")
        if not configured:
            raise ConfigError("a Receiver needs at least one app: Receiver(app_id=..., token=...)")
        if after_threads is None:
            after_threads = concurrency
        if (
            before_deadline <= 0
            or handler_timeout <= 0
            or min(concurrency, after_threads, before_threads, max_body) < 1
        ):
            raise ConfigError(
                "deadlines, handler timeout, concurrency, thread counts and max_body must be"
                " positive"
            )
        # The fallback may answer any before-command, so it must be valid for every one of them
        # (discard, custom codes and partial refusals are not): fail here, not mid-request.
        for spec in COMMANDS.values():
            if spec.is_before:
                try:
                    spec.check(fallback)
                except ConfigError as exc:
                    raise ConfigError(f"fallback {fallback.kind.value!r}: {exc}") from exc
        self.apps: dict[int, str | None] = configured
        self.max_body = max_body
        self.before_deadline = before_deadline
        self.fallback = fallback
        self.sign_tolerance = sign_tolerance
        self.retry = retry
        self.handler_timeout = handler_timeout
        self.concurrency = concurrency
        self.after_pool = HandlerThreads(after_threads, name="timhooks-after-handler")
        self.before_pool = HandlerThreads(before_threads, name="timhooks-before-handler")
        self.record_before = record_before
        self.retention_days = retention_days
        self.clock = clock
        self._owns_inbox = isinstance(inbox, str | Path)
        self.inbox: InboxStore = open_inbox(inbox) if isinstance(inbox, str | Path) else inbox
        self._handlers = HandlerTable()
        self._observers: list[Observer] = []
        self._worker = InboxWorker(
            self.inbox,
            self._handlers,
            self.after_pool,
            concurrency=concurrency,
            poll_interval=poll_interval,
            retry=retry,
            handler_timeout=handler_timeout,
            retention_days=retention_days,
            clock=clock,
        )
        self._background: set[asyncio.Task[Any]] = set()
        self._asgi: ReceiverApp | None = None
        self._verified = VerifiedQueries()

    @property
    def metrics(self) -> Meter | None:
        """What counts the webhooks it accepts and how handlers end (``timhooks/metrics.py``);
        None: not counted."""
        return self._worker.metrics

    @metrics.setter
    def metrics(self, meter: Meter | None) -> None:
        self._worker.metrics = meter

    # --- registration -----------------------------------------------------------------------

    def on(self, command: type[E] | str) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of ``command``.

        ``command`` is an event class (``AfterGroupFull``), a CallbackCommand name, or ``"*"`` for
        every command without a handler of its own.
        """
        name = command if isinstance(command, str) else command.command
        if not name:
            raise ConfigError("register handlers per command: an event class or a command name")

        def decorator(func: Handler) -> Handler:
            self._handlers.add(name, func)
            return func

        return decorator

    # --- one request ------------------------------------------------------------------------

    def observe(self, observer: Observer) -> Observer:
        """Call ``observer(notice)`` for each rejected request and each repeat (a decorator too).

        Notices are ``Rejection`` and ``Repeat`` (``timhooks.receiver.observe``); observers run
        on the event loop, inside the request, and must be quick.
        """
        self._observers.append(observer)
        return observer

    def _notify(self, notice: Notice) -> None:
        for observer in self._observers:
            try:
                observer(notice)
            except Exception:
                log.exception("an observer failed on %s", type(notice).__name__)

    def reject(
        self,
        status: int,
        cause: Cause,
        reason: str,
        *,
        query: bytes | str | Mapping[str, str] = b"",
        peer: str | None = None,
        q: WebhookQuery | None = None,
    ) -> WebhookResponse:
        """Answer a request refused (here, or by an adapter before ``handle``) and tell the
        observers, with the app and command when known."""
        if self._observers:
            app: int | None
            command: str | None
            if q is not None:
                app, command = q.sdk_app_id, q.callback_command
            else:
                app, command = peek_query(query)
            rejection = Rejection(
                status=status,
                cause=cause,
                reason=reason,
                at=self.clock(),
                sdk_app_id=app,
                command=command,
                peer=peer,
            )
            self._notify(rejection)
        return WebhookResponse.error(status, reason)

    async def handle(
        self,
        method: str,
        query: bytes | str | Mapping[str, str],
        body: bytes,
        *,
        peer: str | None = None,
    ) -> WebhookResponse:
        """Check and answer one webhook request. Never raises for bad input.

        ``peer`` ("host:port" of the sender, when known) is only passed on to observers.
        """
        if method != "POST" and method.upper() != "POST":
            return self.reject(405, Cause.NOT_POST, not_post(method), query=query, peer=peer)
        if len(body) > self.max_body:
            return self.reject(
                413, Cause.TOO_LARGE, str(BodyTooLarge(self.max_body)), query=query, peer=peer
            )
        q = self._verified.get(
            query, self.apps, now=int(self.clock()), tolerance=self.sign_tolerance
        )
        try:
            if q is None:
                q = parse_query(query)
                apps = self.apps
                if q.sdk_app_id not in apps:
                    return self.reject(
                        403,
                        Cause.UNKNOWN_APP,
                        f"SdkAppid {q.sdk_app_id} is not a configured app",
                        q=q,
                        peer=peer,
                    )
                token = apps[q.sdk_app_id]
                if token:
                    verify_sign(
                        token,
                        q.sign,
                        q.request_time,
                        now=int(self.clock()),
                        tolerance=self.sign_tolerance,
                    )
                self._verified.add(query, q, token)
            event = parse_event(body, command=q.callback_command)
        except VerificationError as exc:
            return self.reject(401, _SIGN_CAUSES[type(exc)], str(exc), q=q, peer=peer)
        except ProtocolError as exc:
            cause = Cause.BAD_QUERY if q is None else Cause.BAD_BODY
            return self.reject(400, cause, str(exc), query=query, q=q, peer=peer)
        worker = self._worker
        worker.ensure_started()
        spec = get_command(event.callback_command)
        if spec is not None and spec.is_before:
            return await self._answer_before(spec, event, q, body)
        return await self._store_after(spec is not None, event, q, body, peer)

    async def _answer_before(
        self, spec: CommandSpec, event: Event, q: WebhookQuery, body: bytes
    ) -> WebhookResponse:
        received = self.clock()
        decision = await self._decide(spec, event, self._meta(q, received))
        answer = spec.encode(decision, event)
        if self.record_before:
            entry = NewInboxEntry(
                sdk_app_id=q.sdk_app_id,
                command=spec.name,
                phase=_BEFORE,
                body=body,
                client_ip=q.client_ip,
                opt_platform=q.opt_platform_raw,
                received_at=received,
                status=InboxStatus.ANSWERED,
                answer=answer,
            )
            self._spawn(self._record(entry))
        metrics = self.metrics
        if metrics is not None:
            metrics.accepted(spec.name, _BEFORE)
        return WebhookResponse(200, answer)

    async def _decide(self, spec: CommandSpec, event: Event, meta: WebhookMeta) -> Decision:
        handler = self._handlers.get(spec.name)
        if handler is None:
            return Decision()
        try:
            result = await call_handler(
                handler, event, meta, self.before_pool, self.before_deadline
            )
        except TimeoutError:
            log.warning(
                "%s handler took longer than %.3f s; answered the fallback %s",
                spec.name,
                self.before_deadline,
                self.fallback.kind.value,
            )
            return self.fallback
        except Exception:
            log.exception(
                "%s handler raised; answered the fallback %s", spec.name, self.fallback.kind.value
            )
            return self.fallback
        decision = Decision() if result is None else result
        if not isinstance(decision, Decision):
            log.error(
                "%s handler returned %r, not a Decision; answered the fallback",
                spec.name,
                type(result).__name__,
            )
            return self.fallback
        try:
            spec.check(decision)
        except ConfigError as exc:
            log.error(
                "%s handler returned an invalid decision (%s); answered the fallback",
                spec.name,
                exc,
            )
            return self.fallback
        return decision

    async def _store_after(
        self, known: bool, event: Event, q: WebhookQuery, body: bytes, peer: str | None
    ) -> WebhookResponse:
        now = self.clock()
        command = q.callback_command
        worker = self._worker
        handler = self._handlers.get(command)
        # A handler slot free now: store the entry already claimed by this process and hand it
        # over directly, with its parsed event (no claim round trip, no second parse). No
        # handler: the entry is stored as done.
        direct = handler is not None and worker.take_direct()
        entry = NewInboxEntry(
            sdk_app_id=q.sdk_app_id,
            command=command,
            phase=_AFTER if known else "unknown",
            body=body,
            client_ip=q.client_ip,
            opt_platform=q.opt_platform_raw,
            received_at=now,
            status=InboxStatus.PENDING if handler is not None else InboxStatus.DONE,
            claimed_until=now + worker.lease if direct else None,
        )
        try:
            entry_id, new = await self.inbox.put(entry)
        except StorageError as exc:
            if direct:
                worker.give_slots(1)
            # A command from the request is logged with %r: its control characters escaped.
            log.error("could not store %r: %s", command, exc)
            return self.reject(
                503,
                Cause.INBOX_FAILED,
                "the inbox could not store the webhook; try again",
                q=q,
                peer=peer,
            )
        if new:
            metrics = self.metrics
            if metrics is not None:
                metrics.accepted(command, entry.phase)
            if direct:
                worker.hand_over(claimed_entry(entry, entry_id), event)
                return _ACK
        if direct:
            worker.give_slots(1)
        if new and handler is not None:
            worker.wake()
        elif not new and self._observers:
            self._notify(Repeat(entry_id, q.sdk_app_id, command, now, peer))
        return _ACK

    def _meta(self, q: WebhookQuery, received: float) -> WebhookMeta:
        return WebhookMeta(
            sdk_app_id=q.sdk_app_id,
            command=q.callback_command,
            client_ip=q.client_ip,
            opt_platform=q.opt_platform,
            received_at=received,
        )

    async def _record(self, entry: NewInboxEntry) -> None:
        try:
            await self.inbox.put(entry)
        except StorageError as exc:
            log.warning("could not record the answered %s: %s", entry.command, exc)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- starting and stopping --------------------------------------------------------------

    async def start(self) -> None:
        """Start running handlers from the inbox (also done by the first request)."""
        self._worker.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let running handlers finish for ``grace`` s, then cancel them.

        A cancelled handler's entry stays pending and runs again when its lease ends.
        """
        await self._worker.stop(grace)
        if self._background:
            await asyncio.wait(self._background, timeout=grace)
        self.after_pool.shutdown()
        self.before_pool.shutdown()
        if self._owns_inbox:
            await self.inbox.close()

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Start and stop the inbox worker with an ASGI app: ``FastAPI(lifespan=r.lifespan)``."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # --- adapters ---------------------------------------------------------------------------

    @property
    def asgi(self) -> ReceiverApp:
        """This receiver as an ASGI application (route to it from Starlette or FastAPI)."""
        if self._asgi is None:
            self._asgi = ReceiverApp(self)
        return self._asgi

    def sync(self) -> SyncReceiver:
        """A blocking adapter for Flask, Django or any WSGI code."""
        return SyncReceiver(self)
