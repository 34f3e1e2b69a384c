"""UserSig (TLS sig v2) against Tencent's published Python generator, tls-sig-api-v2 (ref. 6.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import types
import zlib
from typing import Any

import pytest
import TLSSigAPIv2

from timhooks.protocol import (
    DEFAULT_EXPIRE,
    UserSigAppMismatch,
    UserSigError,
    UserSigExpired,
    UserSigIdentifierMismatch,
    UserSigInvalid,
    UserSigMalformed,
    decode_usersig,
    generate_usersig,
    verify_usersig,
)

APP = 1400000000
KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
USER = "xiaojun"
NOW = 1700000000

# tls-sig-api-v2 1.1: TLSSigAPIv2(1400000000, KEY).gen_sig("xiaojun", 86400) at time 1700000000.
KNOWN_ANSWER = (
    "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpQJlLMxM"
    "4IIlmbkgIUNzNMXFmekg44P93EzccsOcA0qT8yOKnfwLksLcjNPcnNNMzb0Ccg1Sq6IMs1LDPH1ywpJtlWoBk68y0A__"
)


@pytest.fixture
def tencent(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Tencent's generator for APP/KEY with its clock pinned at NOW."""
    monkeypatch.setattr(TLSSigAPIv2, "time", types.SimpleNamespace(time=lambda: NOW))
    return TLSSigAPIv2.TLSSigAPIv2(APP, KEY)


TO_URL = str.maketrans("+/=", "*-_")
FROM_URL = str.maketrans("*-_", "+/=")


def to_usersig(doc: bytes, *, level: int = -1) -> str:
    """Compress and base64url' a UserSig JSON document, as any generator does."""
    return base64.b64encode(zlib.compress(doc, level)).decode().translate(TO_URL)


def inflate(usersig: str) -> dict[str, Any]:
    """The JSON document inside a UserSig."""
    doc: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(usersig.translate(FROM_URL))))
    return doc


def verify(usersig: str, **overrides: Any) -> Any:
    args: dict[str, Any] = {"sdk_app_id": APP, "key": KEY, "identifier": USER, "now": NOW}
    return verify_usersig(usersig, **(args | overrides))


# --- interop --------------------------------------------------------------------------------


@pytest.mark.parametrize("expire", [86400, DEFAULT_EXPIRE, 1])
def test_tencents_usersig_verifies(tencent: Any, expire: int) -> None:
    """A UserSig from Tencent's generator passes verify_usersig with the right fields."""
    info = verify(tencent.gen_sig(USER, expire))
    assert (info.identifier, info.sdk_app_id, info.time, info.expire) == (USER, APP, NOW, expire)
    assert info.expires_at == NOW + expire
    assert info.userbuf is None


def test_tencents_usersig_with_userbuf_verifies(tencent: Any) -> None:
    """A UserSig with a userbuf (TRTC PrivateMapKey) verifies and exposes the bytes."""
    info = verify(tencent.gen_sig_with_userbuf(USER, 86400, b"\x00room-42\xff"))
    assert info.userbuf == b"\x00room-42\xff"


@pytest.mark.parametrize("expire", [86400, DEFAULT_EXPIRE])
def test_generate_usersig_equals_tencents_byte_for_byte(tencent: Any, expire: int) -> None:
    """At the same time and key, generate_usersig writes exactly what Tencent's generator does."""
    ours = generate_usersig(APP, KEY, USER, now=NOW, expire=expire)
    assert ours == tencent.gen_sig(USER, expire)


def test_generate_usersig_with_userbuf_equals_tencents(tencent: Any) -> None:
    """With a userbuf too, the output is byte-for-byte Tencent's."""
    ours = generate_usersig(APP, KEY, USER, now=NOW, expire=86400, userbuf=b"abc")
    assert ours == tencent.gen_sig_with_userbuf(USER, 86400, b"abc")


def test_default_expiry_is_180_days(tencent: Any) -> None:
    """Without an expire, both generators issue a 180-day UserSig."""
    assert DEFAULT_EXPIRE == 180 * 86400
    assert generate_usersig(APP, KEY, USER, now=NOW) == tencent.gen_sig(USER)


def test_known_answer(tencent: Any) -> None:
    """A pinned UserSig: both generators produce it, and it verifies at its issue time."""
    assert tencent.gen_sig(USER, 86400) == KNOWN_ANSWER
    assert generate_usersig(APP, KEY, USER, now=NOW, expire=86400) == KNOWN_ANSWER
    content = f"TLS.identifier:{USER}\nTLS.sdkappid:{APP}\nTLS.time:{NOW}\nTLS.expire:86400\n"
    mac = hmac.new(KEY.encode(), content.encode(), hashlib.sha256).digest()
    assert inflate(KNOWN_ANSWER) == {
        "TLS.ver": "2.0",
        "TLS.identifier": USER,
        "TLS.sdkappid": APP,
        "TLS.expire": 86400,
        "TLS.time": NOW,
        "TLS.sig": base64.b64encode(mac).decode(),
    }
    assert verify(KNOWN_ANSWER).expires_at == NOW + 86400


def test_our_usersig_verifies() -> None:
    """generate_usersig's output passes verify_usersig, with or without userbuf."""
    assert verify(generate_usersig(APP, KEY, USER, now=NOW)).expire == DEFAULT_EXPIRE
    info = verify(generate_usersig(APP, KEY, USER, now=NOW, userbuf=b"buf"))
    assert info.userbuf == b"buf"


def test_go_style_usersig_is_accepted(tencent: Any) -> None:
    """Tencent's Go generator stores zlib level 0 and compact JSON: any zlib stream is read."""
    doc = inflate(tencent.gen_sig(USER, 86400))
    compact = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    go_style = to_usersig(compact, level=0)
    assert base64.b64decode(go_style.translate(FROM_URL))[:2] == b"\x78\x01"  # stored, level 0
    assert go_style != tencent.gen_sig(USER, 86400)
    info = verify(go_style)
    assert (info.identifier, info.time, info.expire) == (USER, NOW, 86400)


# --- failures and their REST codes ----------------------------------------------------------


def test_error_codes() -> None:
    """Each failure carries the REST error code Tencent answers with."""
    assert UserSigExpired.code == 70001
    assert UserSigMalformed.code == 70003
    assert UserSigInvalid.code == 70009
    assert UserSigIdentifierMismatch.code == 70013
    assert UserSigAppMismatch.code == 70014
    for cls in (
        UserSigExpired,
        UserSigMalformed,
        UserSigInvalid,
        UserSigIdentifierMismatch,
        UserSigAppMismatch,
    ):
        assert issubclass(cls, UserSigError)


def test_expired_usersig(tencent: Any) -> None:
    """Valid until TLS.time + TLS.expire inclusive; one second later it is 70001."""
    sig = tencent.gen_sig(USER, 100)
    assert verify(sig, now=NOW + 100).expire == 100
    with pytest.raises(UserSigExpired) as caught:
        verify(sig, now=NOW + 101)
    assert caught.value.code == 70001


def test_wrong_key(tencent: Any) -> None:
    """A UserSig signed with another key is 70009."""
    with pytest.raises(UserSigInvalid) as caught:
        verify(tencent.gen_sig(USER), key=KEY[::-1])
    assert caught.value.code == 70009


def test_other_identifier(tencent: Any) -> None:
    """A UserSig issued to another UserID is 70013."""
    with pytest.raises(UserSigIdentifierMismatch) as caught:
        verify(tencent.gen_sig("someone-else"))
    assert caught.value.code == 70013


def test_other_sdkappid() -> None:
    """A UserSig issued for another SDKAppID is 70014."""
    other = TLSSigAPIv2.TLSSigAPIv2(APP + 1, KEY).gen_sig(USER)
    with pytest.raises(UserSigAppMismatch) as caught:
        verify(other, now=inflate(other)["TLS.time"])
    assert caught.value.code == 70014


def test_forged_fields_break_the_hmac(tencent: Any) -> None:
    """Extending TLS.expire or changing the userbuf without the key is 70009, not accepted."""
    doc = inflate(tencent.gen_sig(USER, 100))
    doc["TLS.expire"] = 10**9
    with pytest.raises(UserSigInvalid):
        verify(to_usersig(json.dumps(doc).encode()), now=NOW + 1000)

    with_buf = inflate(tencent.gen_sig_with_userbuf(USER, 100, b"room-1"))
    with_buf["TLS.userbuf"] = base64.b64encode(b"room-2").decode()
    with pytest.raises(UserSigInvalid):
        verify(to_usersig(json.dumps(with_buf).encode()))


def _garbage(tencent: Any) -> dict[str, str]:
    good = tencent.gen_sig(USER)
    doc = inflate(good)
    missing_sig = {k: v for k, v in doc.items() if k != "TLS.sig"}
    return {
        "empty": "",
        "not base64": "!!!!",
        "bad padding": "eJw",
        "truncated": good[: len(good) // 2],
        "last char cut": good[:-1],
        "not zlib": base64.b64encode(b"hello world").decode().translate(TO_URL),
        "not json": to_usersig(b"not json"),
        "json array": to_usersig(b"[1, 2]"),
        "json string": to_usersig(b'"TLS.sig"'),
        "missing TLS.sig": to_usersig(json.dumps(missing_sig).encode()),
        "sdkappid as text": to_usersig(json.dumps(doc | {"TLS.sdkappid": str(APP)}).encode()),
        "time as bool": to_usersig(json.dumps(doc | {"TLS.time": True}).encode()),
        "userbuf not base64": to_usersig(json.dumps(doc | {"TLS.userbuf": "**"}).encode()),
        "not ascii": good[:-1] + "\u00e9",
        "too long": good * 40,
        "zip bomb": to_usersig(b'{"a":"' + b"x" * 100_000 + b'"}', level=9),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "not base64",
        "bad padding",
        "truncated",
        "last char cut",
        "not zlib",
        "not json",
        "json array",
        "json string",
        "missing TLS.sig",
        "sdkappid as text",
        "time as bool",
        "userbuf not base64",
        "not ascii",
        "too long",
        "zip bomb",
    ],
)
def test_undecodable_usersig_is_70003(tencent: Any, case: str) -> None:
    """Garbage, truncated, non-zlib or non-JSON UserSigs are UserSigMalformed (70003)."""
    sig = _garbage(tencent)[case]
    with pytest.raises(UserSigMalformed) as caught:
        verify(sig)
    assert caught.value.code == 70003
    with pytest.raises(UserSigMalformed):
        decode_usersig(sig)


def test_decode_reads_without_checking(tencent: Any) -> None:
    """decode_usersig returns the fields of any well-formed UserSig, whatever its key or age."""
    info = decode_usersig(tencent.gen_sig_with_userbuf("bob", 5, b"u"))
    assert (info.identifier, info.sdk_app_id, info.time, info.expire) == ("bob", APP, NOW, 5)
    assert info.userbuf_b64 == "dQ=="
    assert info.userbuf == b"u"
