"""Every metric timhooks exports, defined in one place, and the ``/metrics``, ``/healthz`` and
``/readyz`` endpoints of ``timhooks serve``, ``timhooks worker`` and ``timhooks listen``.

Metrics are in the Prometheus text format (``prometheus_client``). Each process holds its
metrics in a registry of its own (``ServerMetrics`` or ``ReceiverMetrics``), so two servers in one
process, as in the tests, never count into each other. Counters are labelled only with values
from a closed set (the commands of ``timhooks.protocol.commands``, decisions, outcomes, error
codes): a label from a request, such as an unknown CallbackCommand, is counted as ``other``, so
no peer can make a series per request. Gauges that need the database (pending rows, the age of
the oldest one) are read when ``/metrics`` is scraped, never on the request path.

README.md, "Metrics and health", documents each metric.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from timhooks.protocol.commands import COMMANDS

if TYPE_CHECKING:
    from timhooks.delivery.sender import Attempt
    from timhooks.protocol.decisions import Decision
    from timhooks.receiver.core import Receiver
    from timhooks.receiver.observe import Notice

__all__ = [
    "OTHER",
    "ReceiverMetrics",
    "ServerMetrics",
    "decision_label",
    "health_routes",
    "known_command",
]

log = logging.getLogger("timhooks.metrics")

# No ``*_created`` series beside each counter: they double the exposition and Prometheus reads
# resets from the counters themselves (this is prometheus_client's process-wide switch).
disable_created_metrics()  # type: ignore[no-untyped-call]

OTHER = "other"
"""The label of a command timhooks does not know (it came from a request)."""

# Latency buckets in seconds: webhooks are answered in milliseconds, and Tencent waits 2 s at
# most for a before-webhook (Webhook Overview); the last buckets catch the slow after-webhooks.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

_LE = (*map(floatToGoString, _LATENCY_BUCKETS), "+Inf")  # the ``le`` labels, as Histogram writes

Refresh = Callable[[], Awaitable[None]]
"""Reads what a scrape shows from the database and sets the gauges."""


def decision_label(decision: Decision) -> str:
    """How a before-webhook's answer decided: allow, deny, custom_code, discard or rewrite."""
    from timhooks.protocol.decisions import DecisionKind

    kind = decision.kind
    if kind is DecisionKind.ALLOW:
        rewritten = decision.msg_body is not None or decision.cloud_custom_data is not None
        return "rewrite" if rewritten else "allow"
    if kind is DecisionKind.REJECT:
        return "custom_code"
    return kind.value


def known_command(command: str) -> str:
    """``command`` when it is a CallbackCommand timhooks knows, else ``other``."""
    return command if command in COMMANDS else OTHER


class _WebhookTally:
    """Webhook attempts by command and outcome, and their latency by command: plain counts the
    sender's event loop adds to without prometheus_client's lock per sample (measured in
    bench/RESULTS.md, scenario m), exported when scraped as ``timhooks_webhooks_sent`` and
    ``timhooks_webhook_duration_seconds`` (a prometheus_client collector)."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, str], int] = {}
        # Per command: a count per bucket (``+Inf`` last), then the sum of the seconds.
        self.latency: dict[str, list[float]] = {}

    def add(self, command: str, outcome: str, seconds: float) -> None:
        """Count one attempt of ``command`` with its ``outcome`` and latency."""
        key = (command, outcome)
        self.sent[key] = self.sent.get(key, 0) + 1
        row = self.latency.get(command)
        if row is None:
            row = self.latency[command] = [0.0] * (len(_LATENCY_BUCKETS) + 2)
        row[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        """The two metrics as they stand (``list`` copies each table in one step)."""
        sent = CounterMetricFamily(
            "timhooks_webhooks_sent",
            "Webhook attempts, by CallbackCommand and outcome (delivered, failed, gave_up)",
            labels=["command", "outcome"],
        )
        for (command, outcome), count in sorted(list(self.sent.items())):
            sent.add_metric([command, outcome], count)
        yield sent
        duration = HistogramMetricFamily(
            "timhooks_webhook_duration_seconds",
            "Time from sending a webhook to its answer (or failure), by CallbackCommand",
            labels=["command"],
        )
        for command, row in sorted(list(self.latency.items())):
            counts, total, buckets = list(row), 0.0, []
            for le, in_bucket in zip(_LE, counts[:-1], strict=True):
                total += in_bucket
                buckets.append((le, total))
            duration.add_metric([command], buckets, sum_value=counts[-1])
        yield duration


class _Metrics:
    """A registry of one process's metrics and the refreshers its gauges need."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(namespace="timhooks", registry=self.registry)
        self._refreshers: list[Refresh] = []

    def on_scrape(self, refresh: Refresh) -> None:
        """Run ``refresh`` before each scrape (it sets gauges from the database)."""
        self._refreshers.append(refresh)

    async def exposition(self) -> bytes:
        """The metrics in the Prometheus text format, gauges freshly read."""
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception as exc:  # a scrape shows the last values rather than failing
                log.warning("could not read the gauges for /metrics: %r", exc)
        return generate_latest(self.registry)


class ServerMetrics(_Metrics):
    """The metrics of ``timhooks serve`` and ``timhooks worker``."""

    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.rest_calls = Counter(
            "timhooks_rest_calls",
            "REST API calls answered, by command (service/command) and ErrorCode",
            ["command", "error_code"],
            registry=r,
        )
        self.webhooks = _WebhookTally()
        r.register(self.webhooks)
        self.before_decisions = Counter(
            "timhooks_before_webhook_decisions",
            "Before-webhook answers, by CallbackCommand and decision (allow, deny, custom_code,"
            " discard, rewrite, fallback)",
            ["command", "decision"],
            registry=r,
        )
        self.before_fallbacks = Counter(
            "timhooks_before_webhook_fallbacks",
            "Before-webhooks decided by the failure policy, by CallbackCommand and policy"
            " (proceed, deny)",
            ["command", "policy"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "timhooks_outbox_pending",
            "After-webhooks in the outbox waiting for delivery (a first attempt or a retry)",
            registry=r,
        )
        self.outbox_oldest_pending_age = Gauge(
            "timhooks_outbox_oldest_pending_age_seconds",
            "Age of the oldest after-webhook waiting for delivery (0: none waits)",
            registry=r,
        )

    def rest_call(self, command: str, error_code: int) -> None:
        """Count one REST call (``command``: ``service/command``, or ``other``)."""
        self.rest_calls.labels(command, str(error_code)).inc()

    def webhook_sent(self, command: str, outcome: str, seconds: float) -> None:
        """Count one webhook attempt and its latency."""
        self.webhooks.add(known_command(command), outcome, seconds)

    def before_decision(self, command: str, decision: str, policy: str | None = None) -> None:
        """Count a before-webhook's decision; ``policy`` when the failure policy decided."""
        command = known_command(command)
        self.before_decisions.labels(command, decision).inc()
        if policy is not None:
            self.before_fallbacks.labels(command, policy).inc()

    def before_webhook(self, command: str, attempt: Attempt, policy: str) -> None:
        """Count a before-webhook call: its attempt, and the decision it got (its answer's,
        or the failure ``policy``'s when it failed)."""
        ok = attempt.ok and attempt.decision is not None
        self.webhook_sent(command, "delivered" if ok else "failed", attempt.latency_ms / 1000)
        if ok and attempt.decision is not None:
            self.before_decision(command, decision_label(attempt.decision))
        else:
            self.before_decision(command, "fallback", policy)

    def after_attempt(self, command: str, attempt: Attempt, *, retry: bool) -> None:
        """Count an after-webhook attempt: delivered, failed (a retry follows) or gave_up."""
        outcome = "delivered" if attempt.ok else "failed" if retry else "gave_up"
        self.webhook_sent(command, outcome, attempt.latency_ms / 1000)

    def outbox(self, pending: int, oldest_created_at: float | None, now: float) -> None:
        """Set the outbox gauges."""
        self.outbox_pending.set(pending)
        age = 0.0 if oldest_created_at is None else max(0.0, now - oldest_created_at)
        self.outbox_oldest_pending_age.set(age)


class ReceiverMetrics(_Metrics):
    """The metrics of a Receiver (``timhooks listen``)."""

    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.received = Counter(
            "timhooks_inbox_received",
            "Webhooks accepted, by CallbackCommand and phase (after: stored in the inbox;"
            " before: answered inline); repeats not included",
            ["command", "phase"],
            registry=r,
        )
        self.repeats = Counter(
            "timhooks_inbox_repeats",
            "After-webhooks the inbox already held: answered 200, not handled again",
            ["command"],
            registry=r,
        )
        self.rejected = Counter(
            "timhooks_inbox_rejected",
            "Requests refused, by reason (timhooks.receiver.observe.Cause)",
            ["reason"],
            registry=r,
        )
        self.handler_runs = Counter(
            "timhooks_inbox_handler_runs",
            "After-handler runs from the inbox, by CallbackCommand and outcome (done, retry, dead)",
            ["command", "outcome"],
            registry=r,
        )
        self.pending = Gauge(
            "timhooks_inbox_pending",
            "Inbox entries waiting for their handler (a first run or a retry)",
            registry=r,
        )
        self.dead = Gauge(
            "timhooks_inbox_dead",
            "Inbox entries whose handler kept failing (replay them by hand)",
            registry=r,
        )
        self._received: dict[tuple[str, str], Any] = {}
        self._runs: dict[tuple[str, str], Any] = {}

    def accepted(self, command: str, phase: str) -> None:
        """Count a webhook stored (after) or answered (before)."""
        key = (known_command(command), phase)
        counter = self._received.get(key)
        if counter is None:
            counter = self._received[key] = self.received.labels(*key)
        counter.inc()

    def handler_run(self, command: str, outcome: str) -> None:
        """Count an after-handler's run from the inbox: done, retry or dead."""
        key = (known_command(command), outcome)
        counter = self._runs.get(key)
        if counter is None:
            counter = self._runs[key] = self.handler_runs.labels(*key)
        counter.inc()

    def notice(self, notice: Notice) -> None:
        """A receiver observer: counts rejections by reason and repeats by command."""
        from timhooks.receiver.observe import Rejection

        if isinstance(notice, Rejection):
            self.rejected.labels(notice.cause.value).inc()
        else:
            self.repeats.labels(known_command(notice.command)).inc()

    def inbox(self, pending: int, dead: int) -> None:
        """Set the inbox gauges."""
        self.pending.set(pending)
        self.dead.set(dead)

    def attach(self, receiver: Receiver) -> ReceiverMetrics:
        """Count ``receiver``'s webhooks, notices and handler runs; read its inbox's pending
        and dead entries at each scrape (an inbox without ``status_counts`` leaves them 0)."""
        receiver.metrics = self
        receiver.observe(self.notice)
        counts = getattr(receiver.inbox, "status_counts", None)
        if counts is not None:
            status_counts = counts

            async def refresh() -> None:
                from timhooks.storage import InboxStatus

                found = await status_counts()
                self.inbox(found[InboxStatus.PENDING], found[InboxStatus.DEAD])

            self.on_scrape(refresh)
        return self


Ready = Callable[[], Awaitable[str | None]]
"""None when the process is ready, else what is not."""


def health_routes(metrics: _Metrics | None, ready: Ready) -> list[Route]:
    """``/metrics`` (when ``metrics`` is given), ``/healthz`` and ``/readyz``.

    ``/healthz`` answers 200 while the process serves at all; ``/readyz`` answers 200 when
    ``ready()`` finds nothing wrong (the database answers; on serve, the dispatcher runs), else
    503 with what is wrong.
    """

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        started = time.monotonic()
        try:
            problem = await ready()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        took = round((time.monotonic() - started) * 1000, 1)
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready", "checked_ms": took})

    routes = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
    ]
    if metrics is not None:
        exported = metrics

        async def scrape(request: Request) -> Response:
            return Response(await exported.exposition(), media_type=CONTENT_TYPE_LATEST)

        routes.append(Route("/metrics", scrape, methods=["GET", "HEAD"]))
    return routes
