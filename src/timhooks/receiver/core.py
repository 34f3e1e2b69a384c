"""The receiver: checks a webhook request, answers it, and runs its handlers.

``Receiver.handle(method, query, body)`` is the whole protocol for one request; the ASGI app and
the blocking adapter are thin shells around it. Before-webhooks run their handler inline under a
deadline; after-webhooks are written to the durable inbox before the 200 goes out, and handlers
run from the inbox with retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qsl

from timhooks.protocol.commands import COMMANDS, CommandSpec, Phase, get_command, parse_event
from timhooks.protocol.decisions import ACK_BODY, ALLOW, Decision
from timhooks.protocol.errors import (
    ConfigError,
    MalformedRequest,
    MissingSignature,
    ProtocolError,
    SignatureMismatch,
    StaleRequest,
    StorageError,
    VerificationError,
)
from timhooks.protocol.events import Event
from timhooks.protocol.query import Platform, WebhookQuery, parse_query
from timhooks.protocol.signing import DEFAULT_TOLERANCE, verify_sign
from timhooks.receiver.asgi import ReceiverApp
from timhooks.receiver.observe import Cause, Notice, Observer, Rejection, Repeat
from timhooks.receiver.response import WebhookResponse, not_post
from timhooks.receiver.sync import SyncReceiver
from timhooks.receiver.threads import HandlerThreads
from timhooks.request_body import MAX_BODY, BodyTooLarge
from timhooks.storage import InboxEntry, InboxStatus, InboxStore, NewInboxEntry, open_inbox
from timhooks.workqueue import ClaimLoop, RetryPolicy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["Handler", "Receiver", "WebhookMeta", "WebhookResponse"]

log = logging.getLogger("timhooks.receiver")

E = TypeVar("E", bound=Event)
Handler = Callable[..., Any]
"""``handler(event)`` or ``handler(event, meta)``, sync or async.

Before-handlers return a Decision (None means allow); after-handlers return nothing.
"""

DEFAULT_MAX_BODY = MAX_BODY
_PRUNE_EVERY = 3600.0
DEFAULT_RETRY = RetryPolicy()
ANY = "*"


class Meter(Protocol):
    """What a receiver counts (``timhooks.metrics.ReceiverMetrics`` is one)."""

    def accepted(self, command: str, phase: str) -> None:
        """A webhook stored (after) or answered (before)."""

    def handler_run(self, command: str, outcome: str) -> None:
        """An after-handler's run from the inbox ended: done, retry or dead."""


@dataclass(frozen=True, slots=True)
class WebhookMeta:
    """What a handler may want to know beyond the event: which app, client, attempt."""

    sdk_app_id: int
    command: str
    client_ip: str
    opt_platform: Platform
    received_at: float
    inbox_id: int | None = None
    attempt: int = 1


_SIGN_CAUSES: dict[type[VerificationError], Cause] = {
    MissingSignature: Cause.NO_SIGN,
    SignatureMismatch: Cause.SIGN_MISMATCH,
    StaleRequest: Cause.STALE_TIME,
}


def _peek(query: bytes | str | Mapping[str, str]) -> tuple[int | None, str | None]:
    """The SdkAppid and CallbackCommand of a query that may not parse, as far as they can be
    read (for rejection notices only)."""
    try:
        q = parse_query(query)
    except ProtocolError:
        pass
    else:
        return q.sdk_app_id, q.callback_command
    if isinstance(query, Mapping):
        params = {str(k).lower(): str(v) for k, v in query.items()}
    else:
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
        params = {}
        for key, value in parse_qsl(text[:8192], keep_blank_values=True):
            params.setdefault(key.lower(), value)
    app_text = params.get("sdkappid", "")
    numeric = app_text.isascii() and app_text.isdigit() and len(app_text) < 19
    app = int(app_text) if numeric else None
    return app, params.get("callbackcommand") or None


@dataclass(frozen=True, slots=True)
class _Registered:
    func: Handler
    wants_meta: bool
    is_async: bool


def _register(func: Handler) -> _Registered:
    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return _Registered(
        func,
        wants_meta=len(params) >= 2,
        is_async=inspect.iscoroutinefunction(func),
    )


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
        self._pruner: asyncio.Task[None] | None = None
        self._owns_inbox = isinstance(inbox, str | Path)
        self.inbox: InboxStore = open_inbox(inbox) if isinstance(inbox, str | Path) else inbox
        self._handlers: dict[str, _Registered] = {}
        self._observers: list[Observer] = []
        self._worker = ClaimLoop(
            self._claim,
            self._process_claimed,
            concurrency=concurrency,
            poll_interval=poll_interval,
            name="timhooks-inbox-worker",
        )
        # After-handlers running or promised a slot, direct and claimed together (<= concurrency);
        # the worker found none free at its last claim: it is woken once a quarter of the slots
        # are free again, to claim them in one go rather than one claim per freed slot.
        self._busy = 0
        self._worker_starved = False
        self._wake_at = max(1, concurrency // 4)
        self._stopped = False
        self._direct: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._asgi: ReceiverApp | None = None
        # Counts what it accepts and how handlers end (timhooks/metrics.py); None: not counted.
        self.metrics: Meter | None = None

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
            if name in self._handlers:
                raise ConfigError(f"{name} already has a handler")
            self._handlers[name] = _register(func)
            return func

        return decorator

    def _handler_for(self, command: str) -> _Registered | None:
        return self._handlers.get(command) or self._handlers.get(ANY)

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
            app, command = (q.sdk_app_id, q.callback_command) if q is not None else _peek(query)
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
        if method.upper() != "POST":
            return self.reject(405, Cause.NOT_POST, not_post(method), query=query, peer=peer)
        if len(body) > self.max_body:
            return self.reject(
                413, Cause.TOO_LARGE, str(BodyTooLarge(self.max_body)), query=query, peer=peer
            )
        q: WebhookQuery | None = None
        try:
            q = parse_query(query)
            if q.sdk_app_id not in self.apps:
                return self.reject(
                    403,
                    Cause.UNKNOWN_APP,
                    f"SdkAppid {q.sdk_app_id} is not a configured app",
                    q=q,
                    peer=peer,
                )
            token = self.apps[q.sdk_app_id]
            if token:
                verify_sign(
                    token,
                    q.sign,
                    q.request_time,
                    now=int(self.clock()),
                    tolerance=self.sign_tolerance,
                )
            event = parse_event(body, command=q.callback_command)
        except VerificationError as exc:
            return self.reject(401, _SIGN_CAUSES[type(exc)], str(exc), q=q, peer=peer)
        except ProtocolError as exc:
            cause = Cause.BAD_QUERY if q is None else Cause.BAD_BODY
            return self.reject(400, cause, str(exc), query=query, q=q, peer=peer)
        self._ensure_worker()
        spec = get_command(event.callback_command)
        if spec is not None and spec.is_before:
            return await self._answer_before(spec, event, q, body)
        return await self._store_after(spec, q, body, peer)

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
                phase=Phase.BEFORE.value,
                body=body,
                client_ip=q.client_ip,
                opt_platform=q.opt_platform_raw,
                received_at=received,
                status=InboxStatus.ANSWERED,
                answer=answer,
            )
            self._spawn(self._record(entry))
        if self.metrics is not None:
            self.metrics.accepted(spec.name, Phase.BEFORE.value)
        return WebhookResponse(200, answer)

    async def _decide(self, spec: CommandSpec, event: Event, meta: WebhookMeta) -> Decision:
        handler = self._handler_for(spec.name)
        if handler is None:
            return Decision()
        try:
            result = await asyncio.wait_for(
                self._call(handler, event, meta, self.before_pool), self.before_deadline
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
        self, spec: CommandSpec | None, q: WebhookQuery, body: bytes, peer: str | None
    ) -> WebhookResponse:
        now = self.clock()
        handler = self._handler_for(q.callback_command)
        # A handler slot free now: store the entry already claimed by this process and hand it
        # over directly (no claim round trip). Not while stored entries wait for a slot: those
        # go first, so a steady stream of new webhooks cannot hold them back. No handler: the
        # entry is stored as done.
        direct = (
            handler is not None
            and not self._stopped
            and not self._worker_starved
            and self._take_slots(1) == 1
        )
        entry = NewInboxEntry(
            sdk_app_id=q.sdk_app_id,
            command=q.callback_command,
            phase=Phase.AFTER.value if spec is not None else "unknown",
            body=body,
            client_ip=q.client_ip,
            opt_platform=q.opt_platform_raw,
            received_at=now,
            status=InboxStatus.PENDING if handler is not None else InboxStatus.DONE,
            claimed_until=now + self._lease if direct else None,
        )
        try:
            entry_id, new = await self.inbox.put(entry)
        except StorageError as exc:
            if direct:
                self._give_slots(1)
            # A command from the request is logged with %r: its control characters escaped.
            log.error("could not store %r: %s", q.callback_command, exc)
            return self.reject(
                503,
                Cause.INBOX_FAILED,
                "the inbox could not store the webhook; try again",
                q=q,
                peer=peer,
            )
        if new and self.metrics is not None:
            self.metrics.accepted(q.callback_command, entry.phase)
        if new and direct:
            self._hand_over(entry, entry_id)
            return WebhookResponse(200, ACK_BODY)
        if direct:
            self._give_slots(1)
        if new and handler is not None:
            self._worker.wake()
        elif not new and self._observers:
            self._notify(Repeat(entry_id, q.sdk_app_id, q.callback_command, now, peer))
        return WebhookResponse(200, ACK_BODY)

    def _hand_over(self, new: NewInboxEntry, entry_id: int) -> None:
        entry = InboxEntry(
            id=entry_id,
            sdk_app_id=new.sdk_app_id,
            command=new.command,
            phase=new.phase,
            status=InboxStatus.PENDING,
            body=new.body,
            client_ip=new.client_ip,
            opt_platform=new.opt_platform,
            received_at=new.received_at,
            attempts=1,
            next_attempt_at=new.claimed_until,
            last_error=None,
            answer=None,
        )
        task = asyncio.ensure_future(self._process_claimed(entry))
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    # --- handler slots: at most ``concurrency`` after-handlers at once ------------------------

    def _take_slots(self, wanted: int) -> int:
        granted = max(0, min(wanted, self.concurrency - self._busy))
        self._busy += granted
        return granted

    def _give_slots(self, count: int) -> None:
        self._busy -= count
        free = self.concurrency - self._busy
        if self._worker_starved and not self._stopped and free >= self._wake_at:
            self._worker.wake()  # it stays starved (no direct hand-offs) until it claims

    async def _process_claimed(self, entry: InboxEntry) -> None:
        """Run an entry's handler in a slot taken for it; give the slot back after."""
        try:
            await self._process(entry)
        finally:
            self._give_slots(1)

    def _meta(self, q: WebhookQuery, received: float) -> WebhookMeta:
        return WebhookMeta(
            sdk_app_id=q.sdk_app_id,
            command=q.callback_command,
            client_ip=q.client_ip,
            opt_platform=q.opt_platform,
            received_at=received,
        )

    async def _call(
        self, handler: _Registered, event: Event, meta: WebhookMeta, threads: HandlerThreads
    ) -> Any:
        args = (event, meta) if handler.wants_meta else (event,)
        if handler.is_async:
            return await handler.func(*args)
        result = await threads.run(handler.func, *args)
        if inspect.isawaitable(result):  # an object whose __call__ is async
            result = await result
        return result

    async def _record(self, entry: NewInboxEntry) -> None:
        try:
            await self.inbox.put(entry)
        except StorageError as exc:
            log.warning("could not record the answered %s: %s", entry.command, exc)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the inbox worker -------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if not self._worker.running and not self._stopped:
            self._worker.start()
            if self.retention_days > 0 and self._pruner is None:
                self._pruner = asyncio.get_running_loop().create_task(
                    self._prune(), name="timhooks-inbox-pruner"
                )

    async def _prune(self) -> None:
        """Hourly, delete handled entries older than ``retention_days`` (dead ones stay)."""
        while True:
            try:
                before = self.clock() - self.retention_days * 86400
                pruned = await self.inbox.prune(before=before)
                if pruned:
                    log.info("pruned %d handled inbox entries", pruned)
            except Exception as exc:  # a custom inbox may fail here; pruning must not stop us
                log.error("pruning the inbox failed: %r", exc)
            await asyncio.sleep(_PRUNE_EVERY)

    @property
    def _lease(self) -> float:
        """How long a claimed entry is this process's: a handler's time limit, twice."""
        return self.handler_timeout * 2

    async def _claim(self, limit: int) -> list[InboxEntry]:
        granted = self._take_slots(limit)
        self._worker_starved = not granted
        if not granted:
            return []
        try:
            claimed = await self.inbox.claim(now=self.clock(), limit=granted, lease=self._lease)
        except BaseException:
            self._give_slots(granted)
            raise
        if len(claimed) < granted:
            self._give_slots(granted - len(claimed))
        return claimed

    async def start(self) -> None:
        """Start running handlers from the inbox (also done by the first request)."""
        self._stopped = False
        self._ensure_worker()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let running handlers finish for ``grace`` s, then cancel them.

        A cancelled handler's entry stays pending and runs again when its lease ends.
        """
        self._stopped = True
        await self._worker.stop(grace)
        if self._direct:
            # Handlers handed entries directly get the same grace; entries of cancelled ones
            # stay claimed until their lease ends, then run again.
            _, late = await asyncio.wait(self._direct, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        if self._background:
            await asyncio.wait(self._background, timeout=grace)
        # No handler runs now (a claimed task cancelled before it started never gave its slot).
        self._busy = 0
        self._worker_starved = False
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

    async def _process(self, entry: InboxEntry) -> None:
        try:
            event = parse_event(entry.body, command=entry.command)
        except MalformedRequest as exc:
            await self._settle(entry, f"stored body no longer parses: {exc}", dead=True)
            return
        handler = self._handler_for(entry.command)
        if handler is None:
            await self._settle(entry, None)
            return
        meta = WebhookMeta(
            sdk_app_id=entry.sdk_app_id,
            command=entry.command,
            client_ip=entry.client_ip,
            opt_platform=Platform.parse(entry.opt_platform)
            if entry.opt_platform
            else Platform.UNKNOWN,
            received_at=entry.received_at,
            inbox_id=entry.id,
            attempt=entry.attempts,
        )
        try:
            await asyncio.wait_for(
                self._call(handler, event, meta, self.after_pool), self.handler_timeout
            )
        except TimeoutError:
            log.warning(
                "%r handler on inbox entry %d timed out after %g s (attempt %d)",
                entry.command,
                entry.id,
                self.handler_timeout,
                entry.attempts,
            )
            await self._settle(entry, f"handler timed out after {self.handler_timeout} s")
        except Exception as exc:
            log.warning(
                "%r handler failed on inbox entry %d (attempt %d): %r",
                entry.command,
                entry.id,
                entry.attempts,
                exc,
            )
            await self._settle(entry, f"{type(exc).__name__}: {exc}")
        else:
            await self._settle(entry, None)

    async def _settle(self, entry: InboxEntry, error: str | None, *, dead: bool = False) -> None:
        now = self.clock()
        try:
            if error is None:
                if self.metrics is not None:
                    self.metrics.handler_run(entry.command, "done")
                await self.inbox.complete(entry.id, now=now)
                return
            delay = None if dead else self.retry.delay_after(entry.attempts)
            retry_at = None if delay is None else now + delay
            if self.metrics is not None:
                self.metrics.handler_run(entry.command, "dead" if retry_at is None else "retry")
            if retry_at is None:
                log.error(
                    "inbox entry %d (%r) is dead after %d attempts: %r",
                    entry.id,
                    entry.command,
                    entry.attempts,
                    error,
                )
            await self.inbox.fail(entry.id, error, retry_at=retry_at, now=now)
        except StorageError as exc:
            log.error("could not record the outcome of inbox entry %d: %s", entry.id, exc)

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
