"""Webhook authentication: Sign = sha256(Token + RequestTime), fresh within a minute (ref. 1.5)."""

from __future__ import annotations

import hashlib

import pytest

from timhooks.protocol import (
    DEFAULT_TOLERANCE,
    MissingSignature,
    SignatureMismatch,
    StaleRequest,
    VerificationError,
    compute_sign,
    verify_sign,
)

TOKEN = "xxxxyyyy"
WHEN = 1669872112
DOC_SIGN = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"


def test_known_answer_from_tencents_documentation() -> None:
    """compute_sign reproduces the documented sample: Token xxxxyyyy at 1669872112."""
    assert compute_sign("xxxxyyyy", 1669872112) == DOC_SIGN
    assert compute_sign("xxxxyyyy", "1669872112") == DOC_SIGN


def test_sign_is_lowercase_hex_sha256_of_token_then_time() -> None:
    """The Sign is the 64-char lowercase hex digest of the token and time joined as text."""
    sign = compute_sign("another-token", 1700000000)
    assert sign == hashlib.sha256(b"another-token1700000000").hexdigest()
    assert len(sign) == 64
    assert sign == sign.lower()


def test_fresh_signed_request_is_accepted() -> None:
    """A correct Sign at the receiver's own clock verifies and yields RequestTime."""
    assert verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN) == WHEN


@pytest.mark.parametrize("skew", [-DEFAULT_TOLERANCE, -1, 1, DEFAULT_TOLERANCE])
def test_clock_skew_within_a_minute_is_accepted(skew: int) -> None:
    """RequestTime up to 60 s before or after now is accepted."""
    assert DEFAULT_TOLERANCE == 60
    assert verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN + skew) == WHEN


def test_request_61_seconds_old_is_stale() -> None:
    """A correctly signed request 61 s old is rejected as a replay."""
    with pytest.raises(StaleRequest, match="61"):
        verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN + 61)


def test_request_from_the_future_is_stale() -> None:
    """A RequestTime more than a minute ahead of now is rejected too."""
    with pytest.raises(StaleRequest):
        verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN - 61)


def test_tolerance_is_configurable() -> None:
    """A receiver may widen or narrow the window."""
    assert verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN + 300, tolerance=300) == WHEN
    with pytest.raises(StaleRequest):
        verify_sign(TOKEN, DOC_SIGN, str(WHEN), now=WHEN + 2, tolerance=1)


def test_staleness_is_checked_whatever_the_sign() -> None:
    """An old request is stale even with a valid Sign for its time (replays are refused)."""
    old = WHEN - 3600
    with pytest.raises(StaleRequest):
        verify_sign(TOKEN, compute_sign(TOKEN, old), str(old), now=WHEN)


@pytest.mark.parametrize(("sign", "request_time"), [(None, "1"), ("", "1"), ("a", None), ("a", "")])
def test_missing_sign_or_request_time(sign: str | None, request_time: str | None) -> None:
    """With a token configured, a request without Sign or RequestTime is MissingSignature."""
    with pytest.raises(MissingSignature):
        verify_sign(TOKEN, sign, request_time, now=WHEN)


@pytest.mark.parametrize(
    "sign",
    [
        compute_sign("other-token", WHEN),
        compute_sign(TOKEN, WHEN + 1),
        DOC_SIGN[:-1],
        DOC_SIGN + "0",
        "0" * 64,
        "not hex at all",
        "\u00e9" * 64,
    ],
)
def test_wrong_sign_is_a_mismatch(sign: str) -> None:
    """A Sign made with another token or time, or not a digest at all, is SignatureMismatch."""
    with pytest.raises(SignatureMismatch):
        verify_sign(TOKEN, sign, str(WHEN), now=WHEN)


def test_sign_is_compared_without_regard_to_hex_case() -> None:
    """An upper-case hex Sign is the same digest."""
    assert verify_sign(TOKEN, DOC_SIGN.upper(), str(WHEN), now=WHEN) == WHEN


@pytest.mark.parametrize(
    "request_time", ["soon", "-1669872112", "1669872112.0", " 1669872112", "\u0663", "9" * 13]
)
def test_request_time_that_is_not_unix_seconds(request_time: str) -> None:
    """A RequestTime that is not plain decimal seconds is rejected as a VerificationError."""
    with pytest.raises(StaleRequest, match="Unix seconds"):
        verify_sign(TOKEN, DOC_SIGN, request_time, now=WHEN)
    assert issubclass(StaleRequest, VerificationError)
