"""What an app backend answers a webhook with.

Every answer is ``{"ActionStatus": "OK", "ErrorInfo": ..., "ErrorCode": ...}`` with HTTP 200
("Webhook Overview", https://trtc.io/document/34354). After-webhook answers are ignored by
Tencent; the answers to before-webhooks decide: ErrorCode 0 allows (optionally refusing some
users, rewriting the message, answering per recipient or replying to a chatbot), 1 denies, 2
discards a message silently, and a code in the command's custom range rejects with the app's own
code and ErrorInfo. Which of these a command allows is in ``commands.py``; the event builders
(``event.deny()``, ``event.reject(...)`` ...) check it when the decision is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from timhooks.protocol.codes import WebhookCode
from timhooks.protocol.errors import ConfigError

__all__ = [
    "ACK_BODY",
    "ALLOW",
    "Decision",
    "DecisionKind",
    "MessageLike",
    "ResultItem",
    "WireObject",
]


class WireObject(Protocol):
    """A model that writes itself as Tencent's JSON (a message element, for instance)."""

    def to_wire(self) -> dict[str, Any]:
        """The object as a JSON-ready dict under Tencent's names."""
        ...  # pragma: no cover


MessageLike = Mapping[str, Any] | WireObject
"""A message element: a ``MsgElement`` model or its JSON object."""


class DecisionKind(StrEnum):
    """The outcome a decision asks for."""

    ALLOW = "allow"
    DENY = "deny"
    REJECT = "reject"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class ResultItem:
    """One recipient's verdict in an answer to Sns.CallbackPrevFriendAdd/PrevFriendResponse.

    ``result_code`` 0 lets the friend request (or response) through for ``to_account``; a code
    in [38000, 39000] refuses it ("Before a Friend Is Added", https://trtc.io/document/43468).
    """

    to_account: str
    result_code: int = 0
    result_info: str = ""

    def to_wire(self) -> dict[str, Any]:
        """The item as Tencent's JSON object."""
        return {
            "To_Account": self.to_account,
            "ResultCode": self.result_code,
            "ResultInfo": self.result_info,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """An answer to a before-webhook.

    Build it from the event (``event.deny()``, which checks the command's rules at once) or with
    the class methods here (checked when the receiver answers with it).
    """

    error_code: int = WebhookCode.ALLOW
    error_info: str = ""
    refused: tuple[str, ...] = ()
    msg_body: tuple[dict[str, Any], ...] | None = None
    cloud_custom_data: str | None = None
    results: tuple[ResultItem, ...] = ()
    rsp_data: str | None = None

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

        The code must lie in the command's custom range.
        """
        return cls(error_code=code, error_info=info)

    @classmethod
    def discard(cls) -> Decision:
        """Drop a message silently; its sender sees success (ErrorCode 2)."""
        return cls(error_code=WebhookCode.DISCARD)

    @classmethod
    def refuse(cls, accounts: Iterable[str]) -> Decision:
        """Let the action proceed for everyone but these users (partial refusal, ErrorCode 0)."""
        if isinstance(accounts, str):
            raise ConfigError("refuse() takes a list of accounts, not one string")
        return cls(refused=tuple(accounts))

    @classmethod
    def rewrite(
        cls,
        *,
        msg_body: Iterable[MessageLike] | None = None,
        cloud_custom_data: str | None = None,
    ) -> Decision:
        """Deliver the message with this MsgBody and/or CloudCustomData instead (ErrorCode 0).

        ``msg_body`` takes ``MsgElement`` models or their JSON objects.
        """
        elements = None
        if msg_body is not None:
            elements = tuple(dict(e) if isinstance(e, Mapping) else e.to_wire() for e in msg_body)
        return cls(msg_body=elements, cloud_custom_data=cloud_custom_data)

    @classmethod
    def per_recipient(
        cls, results: Mapping[str, int | tuple[int, str]] | Iterable[ResultItem]
    ) -> Decision:
        """A ResultCode (and ResultInfo) per recipient (ErrorCode 0).

        ``results`` maps accounts to a code or a (code, info) pair, or is a list of ResultItem.
        Recipients of the event not named get ResultCode 0 (allowed).
        """
        items: list[ResultItem] = []
        if isinstance(results, Mapping):
            for account, verdict in results.items():
                code, info = verdict if isinstance(verdict, tuple) else (verdict, "")
                if isinstance(code, bool) or not isinstance(code, int):
                    raise ConfigError(f"the ResultCode for {account!r} must be an integer")
                items.append(ResultItem(str(account), code, str(info)))
        else:
            items = list(results)
        return cls(results=tuple(items))

    @classmethod
    def reply(cls, rsp_data: str) -> Decision:
        """Answer a chatbot pass-through message with ``rsp_data`` (RspData, ErrorCode 0)."""
        return cls(rsp_data=rsp_data)


ACK_BODY = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
"""The answer to an after-webhook, and to an allowed before-webhook with nothing to add."""

ALLOW = Decision()
"""The allow decision: what Tencent does when a before-webhook times out or fails ("Webhook
Overview", https://trtc.io/document/34354), and so the receiver's default fallback."""
