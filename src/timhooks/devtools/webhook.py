"""One webhook request, made the way Tencent makes it, and what its answer means.

``webhook_query`` writes Tencent's query for a command (most carry ``ClientIP`` and
``OptPlatform``; some pages document neither, or only ``OptPlatform``), ``post_webhook`` sends it
through ``delivery.http.HttpPool`` (the client ``timhooks serve`` delivers with) and times it,
``judge`` reads the answer as Tencent would (HTTP 200 and a JSON answer, "Webhook Overview",
https://trtc.io/document/34354) and ``describe_decision`` says what a before-webhook's answer
does to the caller.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import msgspec

from timhooks.delivery.http import HttpError, HttpPool
from timhooks.protocol.codes import WebhookCode
from timhooks.protocol.commands import CommandSpec
from timhooks.protocol.decisions import Decision, DecisionKind
from timhooks.protocol.errors import ConfigError, MalformedResponse
from timhooks.protocol.query import build_query

__all__ = [
    "TENCENT_TIMEOUT",
    "Exchange",
    "Verdict",
    "describe_decision",
    "envelope_problem",
    "judge",
    "post_webhook",
    "shown_url",
    "webhook_query",
]

TENCENT_TIMEOUT = 2.0
"""Seconds Tencent waits for an answer to a webhook ("Webhook Overview")."""

# The URL templates of these pages carry neither ClientIP nor OptPlatform: "Webhook for Online
# and Offline Status of Audio-Video Group Members" (https://trtc.io/document/48734), "Cloud
# Moderation Webhooks" (https://www.tencentcloud.com/document/product/1047/78240), "Other Push
# Callbacks" (https://tencentcloud.com/document/product/1047/67552), "All Users / Tags / UserID
# Push Callback" (https://tencentcloud.com/document/product/1047/67551). "API Overclocking Alarm
# Callbacks" (https://tencentcloud.com/jp/document/product/1047/60256) carries OptPlatform only,
# before contenttype. docs/protocol.md, "Webhook requests".
_NO_CLIENT = frozenset(
    {
        "Group.CallbackOnMemberStateChange",
        "ContentCallback.ResultNotify",
        "Push.OfflinePush",
        "Push.AllMemberPush",
    }
)
_PLATFORM_ONLY = frozenset({"Alert.RequestOverLimit"})


def webhook_query(
    command: str,
    *,
    sdk_app_id: int,
    client_ip: str,
    platform: str,
    request_time: int | None = None,
    sign: str | None = None,
) -> str:
    """Tencent's query for ``command``: Sign and RequestTime added when given (either alone
    too, to test an endpoint against a half-signed request)."""
    if command in _NO_CLIENT or command in _PLATFORM_ONLY:
        pairs = [("SdkAppid", str(sdk_app_id)), ("CallbackCommand", command)]
        if command in _PLATFORM_ONLY:
            pairs.append(("OptPlatform", platform))
        pairs.append(("contenttype", "json"))
        query = urlencode(pairs)
    else:
        query = build_query(
            sdk_app_id=sdk_app_id,
            callback_command=command,
            client_ip=client_ip,
            opt_platform=platform,
        )
    extra = []
    if sign is not None:
        extra.append(("Sign", sign))
    if request_time is not None:
        extra.append(("RequestTime", str(request_time)))
    return f"{query}&{urlencode(extra)}" if extra else query


def shown_url(url: str) -> str:
    """``url`` with its Sign's value hidden (Signs stay out of output, as out of logs)."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    parts = ["Sign=(hidden)" if p.lower().startswith("sign=") else p for p in query.split("&")]
    return f"{base}?{'&'.join(parts)}"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One webhook request and its answer (or why there was none)."""

    url: str
    body: bytes
    status: int | None
    answer: bytes | None
    latency_ms: float
    error: str | None = None

    def answer_text(self, limit: int = 200) -> str:
        """The answer as text, cut at ``limit`` characters."""
        if self.answer is None:
            return ""
        text = self.answer.decode("utf-8", "replace")
        return text if len(text) <= limit else text[:limit] + "…"

    def answer_json(self) -> Any:
        """The answer decoded as JSON, else its text (for --json output)."""
        if self.answer is None:
            return None
        try:
            return msgspec.json.decode(self.answer)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return self.answer_text(4096)


async def post_webhook(
    pool: HttpPool, url: str, query: str, body: bytes, *, time_limit: float
) -> Exchange:
    """POST ``body`` to ``url?query``; never raises for a network fault or a late answer."""
    full = f"{url}?{query}"
    start = time.perf_counter()
    status: int | None = None
    answer: bytes | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(time_limit):
            status, answer = await pool.post(full, body)
    except TimeoutError:
        error = f"no answer within {time_limit:g} s"
    except HttpError as exc:
        error = str(exc)
    latency = (time.perf_counter() - start) * 1000
    return Exchange(shown_url(full), body, status, answer, latency, error)


def envelope_problem(answer: bytes | None) -> str | None:
    """What keeps ``answer`` from being Tencent's ``{ActionStatus, ErrorCode, ErrorInfo}``
    envelope, or None when it is one."""
    if answer is None:
        return "no answer"
    try:
        data = msgspec.json.decode(answer)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return "the answer is not JSON"
    if not isinstance(data, dict):
        return "the answer is not a JSON object"
    wanted = {"ActionStatus": str, "ErrorCode": int, "ErrorInfo": str}
    for name, kind in wanted.items():
        value = data.get(name)
        if value is None:
            return f"the answer has no {name}"
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"the answer's {name} is not a {'string' if kind is str else 'number'}"
    if data["ActionStatus"] not in ("OK", "FAIL"):
        return f"the answer's ActionStatus is {data['ActionStatus'][:20]!r}, not OK or FAIL"
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How Tencent would read an exchange: answered (HTTP 200 and a valid answer) or not, and
    for a before-webhook the decision the answer carries."""

    ok: bool
    problem: str | None = None
    decision: Decision | None = None


def judge(spec: CommandSpec, exchange: Exchange, *, budget: float = TENCENT_TIMEOUT) -> Verdict:
    """Read ``exchange`` as Tencent would: HTTP 200, a valid envelope, within ``budget``."""
    if exchange.error is not None:
        return Verdict(False, exchange.error)
    if exchange.status != 200:
        return Verdict(False, f"HTTP {exchange.status}, not 200")
    problem = envelope_problem(exchange.answer)
    if problem is not None:
        return Verdict(False, problem)
    if exchange.latency_ms > budget * 1000:
        late = f"answered after {exchange.latency_ms / 1000:.2f} s; Tencent gives up after"
        return Verdict(False, f"{late} {budget:g} s")
    if not spec.is_before:
        return Verdict(True)
    try:
        decision = spec.parse_response(exchange.answer or b"")
    except MalformedResponse as exc:
        return Verdict(False, str(exc))
    return Verdict(True, decision=decision)


def describe_decision(spec: CommandSpec, decision: Decision) -> str:
    """What ``decision`` does, as Tencent reads it: ``deny → caller gets 20006``."""
    try:
        spec.check(decision)
    except ConfigError as exc:
        # A code the command does not allow counts as a plain deny (README, "Protocol choices").
        if decision.kind is DecisionKind.ALLOW:
            return f"not a valid answer ({exc})"
        return f"{_deny(spec)} (ErrorCode {decision.error_code} is not one it allows: {exc})"
    kind = decision.kind
    if spec.result_range is not None:
        if kind is not DecisionKind.ALLOW:
            # Any ErrorCode but 0 is a failed call here; refusals are ResultCodes
            # ("Before a Friend Is Added", https://trtc.io/document/43468).
            low, high = spec.result_range
            return (
                f"ErrorCode {decision.error_code} → a failed call, the request goes on (refuse"
                f" with a ResultItem code in [{low}, {high}])"
            )
        refused = [f"{i.to_account} {i.result_code}" for i in decision.results if i.result_code]
        if refused:
            return f"per recipient → refused: {', '.join(refused)}"
        return "allow → every recipient passes"
    if kind is DecisionKind.ALLOW:
        parts = ["allow → the action proceeds"]
        if decision.refused:
            parts.append(f"except for {', '.join(decision.refused)}")
        if decision.msg_body is not None or decision.cloud_custom_data is not None:
            parts.append("with the message rewritten")
        if decision.rsp_data:
            parts.append(f"with RspData {decision.rsp_data[:60]!r}")
        return ", ".join(parts)
    if kind is DecisionKind.DENY:
        return _deny(spec)
    if kind is DecisionKind.DISCARD:
        return "discard → the message is dropped; its sender sees success"
    info = f" {decision.error_info!r}" if decision.error_info else ""
    return f"reject → caller gets {decision.error_code}{info}"


def _deny(spec: CommandSpec) -> str:
    if spec.deny_code is None:
        return f"deny (ErrorCode {WebhookCode.DENY})"
    return f"deny → caller gets {int(spec.deny_code)}"
