"""The work queue both sides run: the receiver's inbox and the server's outbox.

Rows are claimed with a lease (``claim_due``), processed by a ``ClaimLoop`` with bounded
concurrency, retried on a ``RetryPolicy`` (a pure function of the attempt number), and replayed
by hand (``replay_row``, ``replay_rows``).
"""

from __future__ import annotations

from timhooks.workqueue.claims import claim_due, release_claimed
from timhooks.workqueue.loop import ClaimLoop
from timhooks.workqueue.replays import count_replayable, replay_row, replay_rows
from timhooks.workqueue.retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "ClaimLoop",
    "RetryPolicy",
    "claim_due",
    "count_replayable",
    "release_claimed",
    "replay_row",
    "replay_rows",
]
