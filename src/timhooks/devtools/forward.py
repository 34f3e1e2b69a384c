"""``timhooks listen --forward-to URL``: pass each webhook on to the app under development.

``listen`` stores and verifies every webhook as always; its handler then forwards it here. The
forwarded request has Tencent's shape: the query rebuilt from the webhook (SdkAppid,
CallbackCommand, contenttype, ClientIP, OptPlatform) and signed afresh for the app's token, and
the body byte for byte as received (an after-webhook's from the inbox, a before-webhook's from
the request, which ``wrap`` keeps).

- A before-webhook's answer is the app's: its decision, read as Tencent reads it, is what
  ``listen`` answers, within the receiver's deadline; an app that fails, is late or answers
  something else gets the receiver's fallback answered instead (Tencent proceeds on a failed
  before-webhook, "Webhook Overview", https://trtc.io/document/34354).
- An after-webhook the app does not answer with HTTP 200 and a valid answer fails its handler
  run, so the receiver retries it per its retry policy; ``timhooks events replay`` forwards it
  again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from timhooks.delivery.http import HttpPool
from timhooks.devtools.webhook import Exchange, judge, post_webhook, webhook_query
from timhooks.protocol.commands import COMMANDS, CommandSpec, parse_event
from timhooks.protocol.decisions import Decision, DecisionKind
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import ConfigError, DeliveryError, MalformedRequest
from timhooks.protocol.events import Event
from timhooks.protocol.signing import compute_sign
from timhooks.receiver.core import Receiver, WebhookMeta
from timhooks.storage import InboxStore

__all__ = ["ForwardFailed", "ForwardResult", "Forwarder"]

_AFTER = COMMANDS["Group.CallbackAfterGroupFull"]  # reads any after-webhook's answer


class ForwardFailed(DeliveryError):
    """The app did not accept a forwarded after-webhook; its handler run counts as failed."""


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """What the app answered a forwarded webhook, and what ``listen`` makes of it."""

    exchange: Exchange
    problem: str | None
    decision: Decision | None = None
    fallback: bool = False
    attempt: int = 1

    def describe(self) -> str:
        """``→ 200 in 3.1 ms`` or ``→ HTTP 500 in 2.0 ms: {...}``, and the decision used."""
        ex = self.exchange
        if ex.status is None:
            text = f"→ {self.problem}"
        else:
            text = f"→ {ex.status} in {ex.latency_ms:.1f} ms"
            if self.problem is not None:
                text += f": {self.problem}: {ex.answer_text(120)}"
        if self.decision is not None:
            text += f" (answered {'the fallback ' if self.fallback else ''}{_kind(self.decision)})"
        if self.attempt > 1:
            text += f" (attempt {self.attempt})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for ``listen --json``."""
        ex = self.exchange
        return {
            "url": ex.url,
            "status": ex.status,
            "latency_ms": round(ex.latency_ms, 3),
            "answer": ex.answer_json(),
            "problem": self.problem,
            "decision": None if self.decision is None else _kind(self.decision),
            "fallback": self.fallback,
            "attempt": self.attempt,
        }

    def outcome(self) -> Decision | None:
        """The handler's result: the before-webhook's decision, None for an accepted
        after-webhook; ForwardFailed for one the app did not accept."""
        if self.decision is not None:
            return self.decision
        if self.problem is not None:
            ex = self.exchange
            if ex.status is None:
                raise ForwardFailed(f"no answer from the app: {self.problem}")
            answer = f": {ex.answer_text(200)}" if ex.answer else ""
            raise ForwardFailed(
                f"the app answered HTTP {ex.status} in {ex.latency_ms:.0f} ms: {self.problem}"
                + answer
            )
        return None


def _kind(decision: Decision) -> str:
    if decision.kind is DecisionKind.REJECT:
        return f"reject {decision.error_code}"
    return decision.kind.value


class Forwarder:
    """Forwards webhooks to ``url``, signed for ``token`` (None: unsigned).

    ``before_time_limit`` bounds a before-webhook's forward (keep it under the receiver's
    ``before_deadline``); ``after_time_limit`` an after-webhook's. ``inbox`` is the receiver's,
    where an after-webhook's body is read back byte for byte.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        inbox: InboxStore,
        before_time_limit: float,
        after_time_limit: float,
        fallback: Decision,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from timhooks.server.config import validate_callback_url

        validate_callback_url(url)
        if before_time_limit <= 0 or after_time_limit <= 0:
            raise ConfigError("forwarding time limits must be positive")
        self.url = url
        self.token = token
        self.inbox = inbox
        self.before_time_limit = before_time_limit
        self.after_time_limit = after_time_limit
        self.fallback = fallback
        self.clock = clock
        self.pool = HttpPool()

    @classmethod
    def for_receiver(
        cls, receiver: Receiver, url: str, token: str | None, after_time_limit: float
    ) -> Forwarder:
        """The forwarder of ``listen --forward-to``: a before-webhook's forward ends within the
        receiver's deadline (then the fallback is answered), an after-webhook's within
        ``after_time_limit``."""
        return cls(
            url,
            token=token,
            inbox=receiver.inbox,
            before_time_limit=receiver.before_deadline * 0.9,
            after_time_limit=after_time_limit,
            fallback=receiver.fallback,
        )

    async def aclose(self) -> None:
        """Close the connections to the app."""
        await self.pool.aclose()

    async def forward(self, event: Event, meta: WebhookMeta) -> ForwardResult:
        """Send ``event`` on to the app and read its answer."""
        spec = COMMANDS.get(meta.command)
        before = spec is not None and spec.is_before
        body = await self._body(event, meta)
        now = int(self.clock())
        query = webhook_query(
            meta.command,
            sdk_app_id=meta.sdk_app_id,
            client_ip=meta.client_ip,
            platform=meta.opt_platform.value,
            request_time=now if self.token else None,
            sign=compute_sign(self.token, now) if self.token else None,
        )
        limit = self.before_time_limit if before else self.after_time_limit
        exchange = await post_webhook(self.pool, self.url, query, body, time_limit=limit)
        verdict = judge(spec if spec is not None else _AFTER, exchange, budget=limit)
        if not before or spec is None:
            return ForwardResult(exchange, verdict.problem, attempt=meta.attempt)
        if verdict.decision is None:
            return ForwardResult(exchange, verdict.problem, self.fallback, fallback=True)
        return ForwardResult(exchange, None, _as_tencent_reads(spec, verdict.decision))

    async def _body(self, event: Event, meta: WebhookMeta) -> bytes:
        if meta.inbox_id is not None:
            entry = await self.inbox.get(meta.inbox_id)
            if entry is not None:
                return entry.body
        # A before-webhook is handled inside its own request: the tap kept the body it read.
        chunks = _REQUEST_BODY.get()
        if chunks is not None:
            raw = b"".join(chunks)
            try:
                if parse_event(raw, command=meta.command).to_wire() == event.to_wire():
                    return raw
            except MalformedRequest:
                pass
        return encode_json(event.to_wire())

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` (the receiver's) behind a tap that keeps each request's body for
        ``forward``, so a before-webhook goes on to the app byte for byte; the connections to
        the app close with the server (at its lifespan's shutdown)."""
        return _BodyTap(app, self.aclose)


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

# The body of the request being handled, in the request's own task (tasks copy the context, so
# the before-handler the receiver runs under its deadline sees it; nothing else reads it).
_REQUEST_BODY: ContextVar[list[bytes] | None] = ContextVar("timhooks_request_body", default=None)


class _BodyTap:
    """ASGI middleware keeping the body chunks of each HTTP request in ``_REQUEST_BODY``."""

    def __init__(self, inner: ASGIApp, on_shutdown: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":

            async def sent(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    await self.on_shutdown()
                await send(message)

            await self.inner(scope, receive, sent)
            return
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        chunks: list[bytes] = []
        _REQUEST_BODY.set(chunks)

        async def tapped() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        await self.inner(scope, tapped, send)


def _as_tencent_reads(spec: CommandSpec, decision: Decision) -> Decision:
    """A code the command does not allow counts as a plain deny (README, "Protocol choices");
    an invalid allow (a rewrite where none is allowed) as a plain allow."""
    try:
        spec.check(decision)
    except ConfigError:
        if decision.kind is DecisionKind.ALLOW:
            return Decision.allow()
        return Decision.deny(decision.error_info)
    return decision
