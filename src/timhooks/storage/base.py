"""The storage interface: records and the protocols every backend implements."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import msgspec

from timhooks.storage.filters import LogFilter

__all__ = ["InboxEntry", "InboxStatus", "InboxStore", "NewInboxEntry", "webhook_digest"]


class InboxStatus(StrEnum):
    """Where an inbox entry stands."""

    PENDING = "pending"  # waiting for its handler (first run or a retry)
    DONE = "done"  # its handler succeeded, or it had none
    DEAD = "dead"  # its handler kept failing; replay it by hand
    ANSWERED = "answered"  # a before-webhook, answered inline; kept as a record


def webhook_digest(command: str, body: bytes) -> bytes:
    """The digest of a webhook's command and body; with its SdkAppid, the inbox's dedup key.

    Tencent may resend the same webhook after a timeout (Webhook Overview); a repeat is the same
    SdkAppid, CallbackCommand and body, byte for byte. The SdkAppid is part of the key so that
    one app's webhooks can never pass for another's repeats in a receiver serving several apps.
    """
    return hashlib.sha256(command.encode() + b"\0" + body).digest()


@dataclass(frozen=True, slots=True)
class NewInboxEntry:
    """A webhook about to be stored."""

    sdk_app_id: int
    command: str
    phase: str
    body: bytes
    client_ip: str
    opt_platform: str
    received_at: float
    status: InboxStatus = InboxStatus.PENDING
    answer: bytes | None = None
    # A pending entry its receiver hands straight to a handler is stored claimed (one attempt,
    # leased until then), so no other claimer takes it meanwhile; None: due at once.
    claimed_until: float | None = None


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A stored webhook and the state of its handling."""

    id: int
    sdk_app_id: int
    command: str
    phase: str
    status: InboxStatus
    body: bytes
    client_ip: str
    opt_platform: str
    received_at: float
    attempts: int
    next_attempt_at: float | None
    last_error: str | None
    answer: bytes | None

    @property
    def payload(self) -> Any:
        """The webhook body as received, parsed as JSON."""
        return msgspec.json.decode(self.body)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: the fields ``timhooks events list --json`` prints."""
        return {
            "id": self.id,
            "sdk_app_id": self.sdk_app_id,
            "command": self.command,
            "phase": self.phase,
            "status": self.status.value,
            "received_at": self.received_at,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_error": self.last_error,
            "client_ip": self.client_ip,
            "opt_platform": self.opt_platform,
            "answer": None if self.answer is None else msgspec.json.decode(self.answer),
            "payload": self.payload,
        }


class InboxStore(Protocol):
    """The receiver's durable inbox. Every write is durable when its coroutine returns."""

    async def put(self, entry: NewInboxEntry) -> tuple[int, bool]:
        """Store a webhook once per SdkAppid, command and body; return its id and whether it
        was new (False: a repeat of the stored entry with that id)."""
        ...

    async def claim(self, *, now: float, limit: int, lease: float) -> list[InboxEntry]:
        """Take up to ``limit`` due pending entries for ``lease`` seconds; count an attempt."""
        ...

    async def complete(self, entry_id: int, *, now: float) -> None:
        """Mark an entry done."""
        ...

    async def fail(self, entry_id: int, error: str, *, retry_at: float | None, now: float) -> None:
        """Record a failed attempt: pending again at ``retry_at``, or dead when it is None."""
        ...

    async def record_answer(self, entry_id: int, answer: bytes) -> None:
        """Keep a JSON ``answer`` with an entry: what its handler's last run got back (for a
        webhook ``listen --forward-to`` passed on, the app's status, answer and latency)."""
        ...

    async def get(self, entry_id: int) -> InboxEntry | None:
        """One entry by id."""
        ...

    async def replay_count(self, where: LogFilter) -> tuple[int, int]:
        """How many entries ``replay_many`` would take, and the newest one's id (0: none)."""
        ...

    async def replay_many(
        self, where: LogFilter, *, through_id: int, limit: int, now: float
    ) -> list[int]:
        """Make up to ``limit`` handled after-webhook entries matching ``where`` pending again,
        oldest first, none newer than ``through_id``; return their ids."""
        ...

    async def list(
        self,
        *,
        command: str | None = None,
        status: InboxStatus | None = None,
        limit: int = 100,
        where: LogFilter | None = None,
        oldest_first: bool = False,
    ) -> list[InboxEntry]:
        """The newest entries first (or the oldest), filtered by command, status and ``where``."""
        ...

    async def replay(self, entry_id: int, *, now: float) -> bool:
        """Make an entry pending again with a fresh attempt count; False if it does not exist."""
        ...

    async def prune(self, *, before: float) -> int:
        """Delete handled entries received before ``before``; return how many."""
        ...

    async def close(self) -> None:
        """Finish pending writes and release the database."""
        ...
