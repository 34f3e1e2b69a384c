"""``timhooks check URL``: audit an app's webhook endpoint against what Tencent expects.

Like a linter for the endpoint, it sends real webhooks and judges each answer:

- a valid, signed after-webhook is answered HTTP 200 with ``{"ActionStatus": "OK", "ErrorCode":
  0, "ErrorInfo": ""}`` within Tencent's 2 s ("Webhook Overview", https://trtc.io/document/34354);
- a before-webhook (``--command``) gets a valid decision within 2 s, one the command allows;
- a wrong ``SdkAppid``, a wrong ``Sign``, a missing ``Sign`` and a ``RequestTime`` older than
  60 s are each refused (an endpoint that answers them OK accepts forged or replayed webhooks;
  the one-minute rule is the console page's, https://cloud.tencent.com/document/product/269/32431);
- the same webhook sent twice is answered OK both times (Tencent may resend one, and a receiver
  must acknowledge a repeat it already has).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

from timhooks.delivery.http import HttpPool
from timhooks.devtools.bodies import build_body
from timhooks.devtools.webhook import (
    TENCENT_TIMEOUT,
    Exchange,
    describe_decision,
    envelope_problem,
    judge,
    post_webhook,
    webhook_query,
)
from timhooks.protocol.commands import COMMANDS, CommandSpec
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.signing import DEFAULT_TOLERANCE, compute_sign

__all__ = ["DEFAULT_CHECK_COMMAND", "CheckResult", "EndpointChecker", "Outcome"]

DEFAULT_CHECK_COMMAND = "Group.CallbackAfterGroupFull"
"""The after-webhook the checks send unless ``--command`` names others."""


class Outcome(StrEnum):
    """A check's outcome."""

    PASSED = "pass"
    FAILED = "fail"
    SKIPPED = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: what it asked, its outcome, and the evidence (the exchanges it made)."""

    id: str
    title: str
    outcome: Outcome
    detail: str
    exchanges: tuple[Exchange, ...] = ()

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check does not fail)."""
        return self.outcome != Outcome.FAILED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for ``--json``."""
        return {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "requests": [
                {
                    "url": ex.url,
                    "status": ex.status,
                    "latency_ms": round(ex.latency_ms, 3),
                    "answer": ex.answer_json(),
                    "error": ex.error,
                }
                for ex in self.exchanges
            ],
        }


def _evidence(ex: Exchange) -> str:
    if ex.status is None:
        return ex.error or "no answer"
    return f"HTTP {ex.status} in {ex.latency_ms:.1f} ms: {ex.answer_text(160)}"


def _answered_ok(ex: Exchange) -> bool:
    """Answered as an accepted webhook: HTTP 200, a valid envelope, ActionStatus OK, code 0."""
    if ex.status != 200 or envelope_problem(ex.answer) is not None:
        return False
    data = msgspec.json.decode(ex.answer or b"{}")
    return bool(data.get("ActionStatus") == "OK" and data.get("ErrorCode") == 0)


class EndpointChecker:
    """Runs the checks against one endpoint: ``await checker.run()``."""

    def __init__(
        self,
        url: str,
        *,
        app_id: int,
        token: str | None,
        commands: Sequence[str] = (DEFAULT_CHECK_COMMAND,),
        time_limit: float = 5.0,
        budget: float = TENCENT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from timhooks.devtools.bodies import known_command
        from timhooks.server.config import validate_callback_url

        validate_callback_url(url)
        if time_limit <= 0:
            raise ConfigError("--timeout must be a positive number of seconds")
        self.url = url
        self.app_id = app_id
        self.token = token
        self.specs = [known_command(name) for name in dict.fromkeys(commands)]
        afters = [s for s in self.specs if not s.is_before]
        # The refusal and repeat checks send an after-webhook: the first one named, or the default.
        self.after = afters[0] if afters else COMMANDS[DEFAULT_CHECK_COMMAND]
        self.time_limit = time_limit
        self.budget = min(budget, time_limit)
        self.clock = clock
        self.pool = HttpPool()

    async def run(self) -> list[CheckResult]:
        """Every check, in order; the connections are closed after."""
        try:
            specs = self.specs
            if all(s.is_before for s in specs):
                specs = [self.after, *specs]
            results = [await self._valid(spec) for spec in specs]
            results += [
                await self._refused(
                    "wrong-sdkappid",
                    f"a wrong SdkAppid ({self.app_id + 1}) is refused",
                    app_id=self.app_id + 1,
                    why="the endpoint does not check SdkAppid: it takes other apps' webhooks",
                ),
                await self._signed_check(
                    "wrong-sign",
                    "a wrong Sign is refused",
                    sign_with=f"not-{self.token}",
                    why="the endpoint does not check Sign = sha256(token + RequestTime): anyone"
                    " can forge webhooks",
                ),
                await self._signed_check(
                    "missing-sign",
                    "a missing Sign is refused",
                    sign_with=None,
                    why="the endpoint takes webhooks without a Sign: anyone can forge them",
                ),
                await self._signed_check(
                    "stale-request-time",
                    f"a RequestTime {2 * DEFAULT_TOLERANCE} s old is refused",
                    age=2 * DEFAULT_TOLERANCE,
                    why="the endpoint takes a RequestTime over 60 s old: a captured webhook can"
                    " be replayed",
                ),
                await self._repeat(),
            ]
            return results
        finally:
            await self.pool.aclose()

    # --- the requests ---------------------------------------------------------------------

    async def _send(
        self,
        spec: CommandSpec,
        *,
        body: bytes | None = None,
        app_id: int | None = None,
        sign_with: str | None = "",
        age: int = 0,
    ) -> tuple[Exchange, bytes]:
        """One webhook of ``spec``: signed with the token (``sign_with`` "" ), another one, or
        none (None, RequestTime still sent); RequestTime ``age`` seconds old."""
        now = self.clock()
        if body is None:
            body = encode_json(build_body(spec, now=now, sdk_app_id=self.app_id))
        request_time: int | None = None
        sign: str | None = None
        if self.token is not None:
            request_time = int(now) - age
            key = self.token if sign_with == "" else sign_with
            sign = compute_sign(key, request_time) if key is not None else None
        query = webhook_query(
            spec.name,
            sdk_app_id=self.app_id if app_id is None else app_id,
            client_ip="127.0.0.1",
            platform="RESTAPI",
            request_time=request_time,
            sign=sign,
        )
        exchange = await post_webhook(self.pool, self.url, query, body, time_limit=self.time_limit)
        return exchange, body

    # --- the checks -----------------------------------------------------------------------

    async def _valid(self, spec: CommandSpec) -> CheckResult:
        ex, _ = await self._send(spec)
        verdict = judge(spec, ex, budget=self.budget)
        within = f"within {self.budget:g} s"
        if not spec.is_before:
            title = f"a valid {spec.name} is answered OK {within}"
            if not verdict.ok:
                return CheckResult("after-ok", title, Outcome.FAILED, verdict.problem or "", (ex,))
            if not _answered_ok(ex):
                why = (
                    "answered with a failure: a valid webhook must get ActionStatus OK, ErrorCode 0"
                )
                return CheckResult("after-ok", title, Outcome.FAILED, why, (ex,))
            return CheckResult("after-ok", title, Outcome.PASSED, "answered OK", (ex,))
        title = f"{spec.name} gets a valid decision {within}"
        if not verdict.ok or verdict.decision is None:
            return CheckResult(
                "before-decision", title, Outcome.FAILED, verdict.problem or "", (ex,)
            )
        meaning = describe_decision(spec, verdict.decision)
        try:
            spec.check(verdict.decision)
        except ConfigError as exc:
            detail = f"not a decision {spec.name} allows: {exc} (Tencent reads it as: {meaning})"
            return CheckResult("before-decision", title, Outcome.FAILED, detail, (ex,))
        return CheckResult("before-decision", title, Outcome.PASSED, f"decision: {meaning}", (ex,))

    async def _refused(
        self, check_id: str, title: str, *, why: str, app_id: int | None = None, **kw: Any
    ) -> CheckResult:
        ex, _ = await self._send(self.after, app_id=app_id, **kw)
        if ex.status is None:
            detail = f"no answer ({ex.error}): a refusal should be a prompt 401 or 403"
            return CheckResult(check_id, title, Outcome.FAILED, detail, (ex,))
        if _answered_ok(ex):
            return CheckResult(check_id, title, Outcome.FAILED, f"answered OK: {why}", (ex,))
        return CheckResult(check_id, title, Outcome.PASSED, "refused", (ex,))

    async def _signed_check(self, check_id: str, title: str, **kw: Any) -> CheckResult:
        if self.token is None:
            detail = (
                "skipped: no --token (Tencent signs webhooks only when a token is set; an"
                " endpoint without one takes forged webhooks)"
            )
            return CheckResult(check_id, title, Outcome.SKIPPED, detail)
        return await self._refused(check_id, title, **kw)

    async def _repeat(self) -> CheckResult:
        title = "the same webhook sent twice is answered OK both times"
        first, body = await self._send(self.after)
        second, _ = await self._send(self.after, body=body)
        exchanges = (first, second)
        for n, ex in enumerate(exchanges, 1):
            if not _answered_ok(ex):
                detail = (
                    f"{'first' if n == 1 else 'repeat'} not answered OK: Tencent may send a"
                    " webhook again, and a repeat must be acknowledged (and not handled twice)"
                )
                return CheckResult("repeat", title, Outcome.FAILED, detail, exchanges)
        return CheckResult("repeat", title, Outcome.PASSED, "both answered OK", exchanges)


def evidence_lines(result: CheckResult) -> list[str]:
    """The evidence of ``result``, one line per request."""
    return [_evidence(ex) for ex in result.exchanges]
