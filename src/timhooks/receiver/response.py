"""What the receiver answers, and what its adapters need of it.

``WebhookResponse`` is an answer (status and JSON body). ``WebhookEndpoint`` is the part of a
``Receiver`` that the ASGI app (``receiver/asgi.py``) and the blocking front
(``receiver/sync.py``) use: the adapters depend on this module only, and ``Receiver`` builds
them, so the receiver's modules import one another in one direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from timhooks.protocol.encoding import encode_json
from timhooks.receiver.observe import Cause
from timhooks.request_body import BodyTooLarge

__all__ = ["WebhookEndpoint", "WebhookResponse", "not_post"]


def not_post(method: str) -> str:
    """Why a request with ``method`` is refused: Tencent sends webhooks with POST only
    ("Webhook Overview", https://trtc.io/document/34354)."""
    return f"webhooks are POST requests, not {method[:20]}"


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """An HTTP answer: status and JSON body."""

    status: int
    body: bytes

    @classmethod
    def error(cls, status: int, info: str) -> WebhookResponse:
        """A rejection in Tencent's envelope, ErrorCode being the HTTP status."""
        body = {"ActionStatus": "FAIL", "ErrorCode": status, "ErrorInfo": info}
        return cls(status, encode_json(body))

    @classmethod
    def not_post(cls, method: str) -> WebhookResponse:
        """405: Tencent sends webhooks with POST only."""
        return cls.error(405, not_post(method))

    @classmethod
    def too_large(cls, limit: int) -> WebhookResponse:
        """413: the body is over the receiver's limit."""
        return cls.error(413, str(BodyTooLarge(limit)))


class WebhookEndpoint(Protocol):
    """What an adapter needs of a Receiver: its body limit, its answer, its refusals, and its
    start and stop."""

    max_body: int

    async def handle(
        self,
        method: str,
        query: bytes | str | Mapping[str, str],
        body: bytes,
        *,
        peer: str | None = None,
    ) -> WebhookResponse:
        """Check and answer one webhook request."""
        ...

    def reject(
        self,
        status: int,
        cause: Cause,
        reason: str,
        *,
        query: bytes | str | Mapping[str, str] = b"",
        peer: str | None = None,
    ) -> WebhookResponse:
        """Answer a request refused before ``handle`` and tell the observers."""
        ...

    async def start(self) -> None:
        """Start the inbox worker."""
        ...

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the inbox worker and close the inbox."""
        ...
