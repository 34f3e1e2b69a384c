"""What an app backend answers a webhook with.

Every answer is ``{"ActionStatus": "OK", "ErrorInfo": ..., "ErrorCode": ...}`` with HTTP 200
(reference 1.6). After-webhook answers are ignored by Tencent; before-webhook answers decide:
ErrorCode 0 allows (optionally refusing some users or rewriting the message), 1 denies, 2 discards
an OA message silently, and a code in the command's custom range rejects with the app's own code
and ErrorInfo (reference 3.1, 3.5, 3.9, 4.1-4.4). Which of these a command allows is in
``commands.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from timhooks.protocol.codes import WebhookCode

__all__ = ["ACK_BODY", "Decision", "DecisionKind"]


class DecisionKind(StrEnum):
    """The outcome a decision asks for."""

    ALLOW = "allow"
    DENY = "deny"
    REJECT = "reject"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class Decision:
    """An answer to a before-webhook. Build it with the class methods."""

    error_code: int = WebhookCode.ALLOW
    error_info: str = ""
    refused: tuple[str, ...] = ()
    msg_body: tuple[dict[str, Any], ...] | None = None
    cloud_custom_data: str | None = None

    @property
    def kind(self) -> DecisionKind:
        """Allow, deny, discard, or reject with a custom code."""
        if self.error_code == WebhookCode.ALLOW:
            return DecisionKind.ALLOW
        if self.error_code == WebhookCode.DENY:
            return DecisionKind.DENY
        if self.error_code == WebhookCode.DISCARD:
            return DecisionKind.DISCARD
        return DecisionKind.REJECT

    @classmethod
    def allow(cls) -> Decision:
        """Let the action proceed unchanged (ErrorCode 0)."""
        return cls()

    @classmethod
    def deny(cls, info: str = "") -> Decision:
        """Refuse the action; the caller sees the command's deny code (ErrorCode 1)."""
        return cls(error_code=WebhookCode.DENY, error_info=info)

    @classmethod
    def reject(cls, code: int, info: str) -> Decision:
        """Refuse with the app's own code and ErrorInfo, passed through to the caller.

        The code must lie in the command's custom range; the receiver checks it.
        """
        return cls(error_code=code, error_info=info)

    @classmethod
    def discard(cls) -> Decision:
        """Drop an OA message silently; its sender sees success (ErrorCode 2, BeforeSendMsg)."""
        return cls(error_code=WebhookCode.DISCARD)

    @classmethod
    def refuse(cls, accounts: Iterable[str]) -> Decision:
        """Let the action proceed for everyone but these users (partial refusal, ErrorCode 0)."""
        return cls(refused=tuple(accounts))

    @classmethod
    def rewrite(
        cls,
        *,
        msg_body: Iterable[dict[str, Any]] | None = None,
        cloud_custom_data: str | None = None,
    ) -> Decision:
        """Send the OA message with this MsgBody and/or CloudCustomData instead (ErrorCode 0)."""
        return cls(
            msg_body=None if msg_body is None else tuple(msg_body),
            cloud_custom_data=cloud_custom_data,
        )


ACK_BODY = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
"""The answer to an after-webhook, and to an allowed before-webhook with nothing to add."""
