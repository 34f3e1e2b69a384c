"""Text that came from peers, made safe to show on a terminal or in a log line.

Used by the CLI's listings (``timhooks.cli``) and the dispatcher's log lines
(``timhooks.delivery.dispatcher``): stored webhooks and webhook answers are peer input and must
not forge lines or send escape sequences.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]

# Characters that move the cursor or change how a terminal draws what follows: C0 and C1
# controls, line and paragraph separators, and the bidirectional overrides and isolates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``), safe to show
    on a terminal: stored webhooks are peer input and must not forge lines or send escapes."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in text
    )
