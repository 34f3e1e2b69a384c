"""The claim loop now lives in ``timhooks.workqueue``; this name stays importable."""

from __future__ import annotations

from timhooks.workqueue.loop import ClaimLoop

__all__ = ["ClaimLoop"]
