"""Retry schedules now live in ``timhooks.workqueue``; these names stay importable."""

from __future__ import annotations

from timhooks.workqueue.retry import NO_RETRY, RetryPolicy

__all__ = ["NO_RETRY", "RetryPolicy"]
