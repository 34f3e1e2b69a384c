"""Webhook authentication: ``Sign`` = lowercase hex sha256(Token + RequestTime).

RequestTime is Unix seconds as decimal text. A receiver recomputes Sign from its own token and
rejects a request whose RequestTime is more than a minute from its clock (anti-replay; the
Chinese console doc states the one-minute rule). The Sign does not cover the body. From "Webhook
Overview" (https://trtc.io/document/34354) and "Webhook Configuration"
(https://cloud.tencent.com/document/product/269/32431); docs/protocol.md.
"""

from __future__ import annotations

import hashlib
import hmac

from timhooks.protocol.errors import MissingSignature, SignatureMismatch, StaleRequest

__all__ = ["DEFAULT_TOLERANCE", "compute_sign", "verify_sign"]

DEFAULT_TOLERANCE = 60
"""Seconds RequestTime may differ from the receiver's clock (docs/protocol.md)."""


def compute_sign(token: str, request_time: int | str) -> str:
    """Sign for ``token`` at ``request_time``: ``sha256(token + str(request_time)).hexdigest()``."""
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def verify_sign(
    token: str,
    sign: str | None,
    request_time: str | None,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> int:
    """Check Sign and RequestTime at ``now`` (epoch seconds); return RequestTime as an int.

    Raises MissingSignature, StaleRequest or SignatureMismatch. The comparison takes constant
    time whatever the Sign looks like.
    """
    if not sign or not request_time:
        missing = "Sign" if not sign else "RequestTime"
        raise MissingSignature(f"a token is configured but the query has no {missing}")
    text = request_time
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise StaleRequest(f"RequestTime must be Unix seconds, got {request_time[:40]!r}")
    when = int(text)
    if abs(now - when) > tolerance:
        raise StaleRequest(
            f"RequestTime {when} is {now - when:+d} s from now; at most {tolerance} s allowed"
        )
    expected = compute_sign(token, text).encode()
    if not hmac.compare_digest(expected, sign.lower().encode("utf-8", "replace")):
        raise SignatureMismatch("Sign does not match sha256(token + RequestTime)")
    return when
