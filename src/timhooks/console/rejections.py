"""What a receiver refused, and what each refusal most likely means: the listen console's
"Rejected" page and ``timhooks listen``'s lines on stderr say the same."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from timhooks.receiver.observe import Cause, Notice, Rejection, Repeat

__all__ = ["FIXES", "LABELS", "RejectionLog", "likely_fix"]

# What a rejection most likely means, and what to do, in the words of `listen`'s flags.
FIXES = {
    Cause.NOT_POST: "Tencent sends webhooks with POST; is something else calling this URL?",
    Cause.TOO_LARGE: "webhooks are far smaller; is something else calling this URL?",
    Cause.SLOW_BODY: "the sender or the network stalled mid-body",
    Cause.BAD_QUERY: "the URL lacks the webhook query; point the sender's callback URL here",
    Cause.BAD_BODY: "the body is not this command's webhook JSON",
    Cause.NO_SIGN: "the sender has no callback token; give it the one --token has"
    " (serve --callback-token), or start listen without --token",
    Cause.SIGN_MISMATCH: "the sender's token differs from --token",
    Cause.STALE_TIME: "the sender's clock and this one differ by more than 60 s",
    Cause.INBOX_FAILED: "the inbox could not store it (see the error above); the sender may retry",
    Cause.UNKNOWN_APP: "start listen with --app-id of the sender's SDKAppID",
}
"""The likely fix of each cause of rejection."""

LABELS = {
    Cause.SIGN_MISMATCH: "Sign mismatch",
    Cause.NO_SIGN: "no Sign",
}
"""Short names of the causes whose reasons are long."""


def likely_fix(rejection: Rejection) -> str:
    """What to do about ``rejection``, naming the app when that is the fix."""
    if rejection.cause is Cause.UNKNOWN_APP and rejection.sdk_app_id is not None:
        return f"start listen with --app-id {rejection.sdk_app_id}"
    return FIXES[rejection.cause]


@dataclass(frozen=True, slots=True)
class Shown:
    """A rejection as the console lists it."""

    rejection: Rejection
    fix: str


class RejectionLog:
    """A receiver observer that keeps the latest rejections, and counts every rejection by
    cause and every repeat, for the console (memory only: a restart clears it)."""

    def __init__(self, keep: int = 200) -> None:
        self.latest: deque[Shown] = deque(maxlen=keep)
        self.by_cause: Counter[Cause] = Counter()
        self.repeats = 0
        self.last_repeat: Repeat | None = None

    def __call__(self, notice: Notice) -> None:
        """Record one notice."""
        if isinstance(notice, Rejection):
            self.latest.appendleft(Shown(notice, likely_fix(notice)))
            self.by_cause[notice.cause] += 1
        else:
            self.repeats += 1
            self.last_repeat = notice
