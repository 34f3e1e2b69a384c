"""The webhook sender's building blocks: retry schedules, and (in the server) the dispatcher."""

from __future__ import annotations

from timhooks.workqueue.retry import NO_RETRY, RetryPolicy

__all__ = ["NO_RETRY", "RetryPolicy"]
