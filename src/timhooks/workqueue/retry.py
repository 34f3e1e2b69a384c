"""Retry schedules as pure functions of the attempt number.

Tencent does not retry after-webhooks unless the app asks for it ("Webhook Overview",
https://trtc.io/document/34354); timhooks offers exponential backoff on top. The server's outbox
dispatcher and the receiver's inbox worker only read a policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from timhooks.protocol.errors import ConfigError

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the wait before try n+1 is ``base * factor**(n-1)``, capped."""

    attempts: int = 8
    base: float = 1.0
    factor: float = 4.0
    cap: float = 3600.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError("a retry policy needs at least one attempt")
        if self.base < 0 or self.factor < 1 or self.cap < 0:
            raise ConfigError("retry delays must be non-negative and non-decreasing")

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait after failed try number ``attempt`` (1-based); None when none is left."""
        if attempt >= self.attempts:
            return None
        return float(min(self.cap, self.base * self.factor ** (attempt - 1)))


NO_RETRY = RetryPolicy(attempts=1)
"""Tencent's default for after-webhooks: one try, no retry ("Webhook Overview")."""
