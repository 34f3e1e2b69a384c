"""The webhook queries a receiver verified, remembered for the requests that repeat them.

Tencent's query is the same for every webhook of one second (SdkAppid, CallbackCommand,
ClientIP, OptPlatform, Sign, RequestTime: "Webhook Overview", https://trtc.io/document/34354),
so a busy receiver sees each one many times. A query whose app is configured and whose Sign
matched is kept with the token it matched; a request with the same query text skips parsing and
hashing, but RequestTime's distance from now is checked every time, and a token changed since
(or an app removed) makes the query a stranger again.
"""

from __future__ import annotations

from collections.abc import Mapping

from timhooks.protocol.query import WebhookQuery

__all__ = ["VerifiedQueries"]

_KEPT = 256  # queries remembered; past that they are forgotten all at once
_UNKNOWN = object()  # an app not configured (a token may be None)


class VerifiedQueries:
    """Query text -> (the parsed query, the token its Sign matched)."""

    def __init__(self) -> None:
        self._known: dict[bytes | str, tuple[WebhookQuery, str | None]] = {}

    def get(
        self,
        query: bytes | str | Mapping[str, str],
        apps: Mapping[int, str | None],
        *,
        now: int,
        tolerance: int,
    ) -> WebhookQuery | None:
        """The query, if it was verified with the token its app has now and its RequestTime is
        within ``tolerance`` of ``now``; else None (to be checked in full, to say why)."""
        known = self._known.get(query) if isinstance(query, bytes | str) else None
        if known is None:
            return None
        q, token = known
        if apps.get(q.sdk_app_id, _UNKNOWN) != token:
            return None
        if token and abs(now - int(q.request_time or 0)) > tolerance:
            return None
        return q

    def add(
        self, query: bytes | str | Mapping[str, str], q: WebhookQuery, token: str | None
    ) -> None:
        """Remember ``query``, verified with ``token`` (a mapping is not remembered)."""
        if isinstance(query, bytes | str):
            if len(self._known) >= _KEPT:
                self._known.clear()
            self._known[query] = (q, token)
