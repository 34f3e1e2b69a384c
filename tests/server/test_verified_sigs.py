"""The REST API remembers verified UserSigs (timhooks/server/rest.py ``VerifiedSigs``): a hit
skips the work, never the outcome. An expired UserSig still gets 70001, a rotated key 70009,
another identifier 70013."""

from __future__ import annotations

import pytest

from timhooks.protocol import generate_usersig
from timhooks.protocol.errors import UserSigError
from timhooks.server.rest import VerifiedSigs

APP = 1400000001
KEY = "k" * 64
T0 = 1_800_000_000


def _check(
    sigs: VerifiedSigs, usersig: str, *, key: str = KEY, user: str = "admin", now: int
) -> int:
    try:
        sigs.check(usersig, sdk_app_id=APP, key=key, identifier=user, now=now)
    except UserSigError as exc:
        return exc.code
    return 0


def test_a_remembered_usersig_still_expires() -> None:
    sigs = VerifiedSigs()
    usersig = generate_usersig(APP, KEY, "admin", now=T0, expire=60)
    assert _check(sigs, usersig, now=T0 + 1) == 0
    assert _check(sigs, usersig, now=T0 + 60) == 0
    assert _check(sigs, usersig, now=T0 + 61) == 70001


@pytest.mark.parametrize(("key", "user", "code"), [("n" * 64, "admin", 70009), (KEY, "bob", 70013)])
def test_a_remembered_usersig_is_checked_again_for_another_key_or_user(
    key: str, user: str, code: int
) -> None:
    sigs = VerifiedSigs()
    usersig = generate_usersig(APP, KEY, "admin", now=T0, expire=60)
    assert _check(sigs, usersig, now=T0) == 0
    assert _check(sigs, usersig, key=key, user=user, now=T0) == code
