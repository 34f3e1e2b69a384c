"""What a receiver reports to its observers: each request it rejects and each repeat it answers
without handling again.

``Receiver.observe(callback)`` registers an observer; ``timhooks listen`` prints these notices,
and a console or metrics can count them. Observers run on the receiver's event loop, inside the
request, so they must be quick; one that raises is logged and does not change the answer.
Text in a notice (``reason``, ``command``) may come from the request: escape control characters
before showing it on a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from timhooks.protocol.errors import ProtocolError
from timhooks.protocol.query import parse_query

__all__ = ["Cause", "Notice", "NoticeLimiter", "Observer", "Rejection", "Repeat", "peek_query"]


class Cause(StrEnum):
    """Why a request was rejected, for code that reacts to it (the reason says it for people)."""

    NOT_POST = "not_post"  # 405: webhooks are POSTs (docs/protocol.md)
    TOO_LARGE = "too_large"  # 413: over max_body
    SLOW_BODY = "slow_body"  # 408: the body did not arrive in time
    BAD_QUERY = "bad_query"  # 400: no numeric SdkAppid or no CallbackCommand in the query
    BAD_BODY = "bad_body"  # 400: not the JSON object of the query's command
    UNKNOWN_APP = "unknown_app"  # 403: the SdkAppid is not one of the receiver's apps
    NO_SIGN = "no_sign"  # 401: the app has a token, the request no Sign or RequestTime
    SIGN_MISMATCH = "sign_mismatch"  # 401: Sign is not sha256(token + RequestTime)
    STALE_TIME = "stale_time"  # 401: RequestTime too far from now, or not a time
    INBOX_FAILED = "inbox_failed"  # 503: the inbox could not store the webhook


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request the receiver refused: its answer's status and reason, and what is known of it."""

    status: int
    cause: Cause
    reason: str
    at: float
    sdk_app_id: int | None = None
    command: str | None = None
    peer: str | None = None  # "host:port", when the adapter knows it


@dataclass(frozen=True, slots=True)
class Repeat:
    """An after-webhook the inbox already holds (entry ``entry_id``): answered 200, not stored or
    handled again."""

    entry_id: int
    sdk_app_id: int
    command: str
    at: float
    peer: str | None = None


Notice = Rejection | Repeat
"""What an observer is told."""

Observer = Callable[[Notice], None]
"""``observer(notice)``, called on the receiver's event loop for each notice."""


class NoticeLimiter:
    """Lets ``burst`` notices through at once, then ``per_second``; counts the ones held back.

    A token bucket: a flood shows its first ``burst`` lines and then a steady trickle, and
    ``held_back()`` says how many were not shown.
    """

    def __init__(
        self,
        *,
        burst: int = 10,
        per_second: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._held = 0

    def allow(self) -> bool:
        """True if this notice may be shown now; False counts it as held back."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_second)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self._held += 1
        return False

    def held_back(self) -> int:
        """How many notices were held back since the last call."""
        held, self._held = self._held, 0
        return held


def peek_query(query: bytes | str | Mapping[str, str]) -> tuple[int | None, str | None]:
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
