"""UserSig (TLS sig v2): the credential every REST and client call carries.

A UserSig is base64url' (``+``->``*``, ``/``->``-``, ``=``->``_``) of zlib(JSON) where the JSON
holds ``TLS.ver`` "2.0", ``TLS.identifier``, ``TLS.sdkappid``, ``TLS.expire``, ``TLS.time`` and
``TLS.sig`` = base64(HMAC-SHA256(key, content)), content being the lines
``TLS.identifier:..\\nTLS.sdkappid:..\\nTLS.time:..\\nTLS.expire:..\\n`` (+ ``TLS.userbuf:..\\n``).

``generate_usersig`` reproduces Tencent's Python generator byte for byte (same JSON layout and
zlib level); ``verify_usersig`` accepts any generator's output (Go's uses another zlib level and
JSON layout), so it parses instead of comparing bytes. Tencent's generators:
https://github.com/tencentyun/tls-sig-api-v2-python and its Go sibling; docs/protocol.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass

from timhooks.protocol.errors import (
    UserSigAppMismatch,
    UserSigExpired,
    UserSigIdentifierMismatch,
    UserSigInvalid,
    UserSigMalformed,
)

__all__ = ["DEFAULT_EXPIRE", "UserSigInfo", "decode_usersig", "generate_usersig", "verify_usersig"]

DEFAULT_EXPIRE = 180 * 86400
"""Validity of a UserSig in Tencent's generators: 180 days (``TLSSigAPIv2.py``)."""

_MAX_USERSIG = 4096
_MAX_JSON = 16384
_TO_URL = str.maketrans("+/=", "*-_")
_FROM_URL = str.maketrans("*-_", "+/=")


@dataclass(frozen=True, slots=True)
class UserSigInfo:
    """The decoded fields of a UserSig."""

    identifier: str
    sdk_app_id: int
    time: int
    expire: int
    sig: str
    userbuf_b64: str | None = None

    @property
    def userbuf(self) -> bytes | None:
        """The TLS.userbuf bytes, if the UserSig carries one."""
        return None if self.userbuf_b64 is None else base64.b64decode(self.userbuf_b64)

    @property
    def expires_at(self) -> int:
        """Epoch second after which the UserSig is expired."""
        return self.time + self.expire


def _content(
    identifier: str, sdk_app_id: int, time: int, expire: int, userbuf_b64: str | None
) -> bytes:
    text = (
        f"TLS.identifier:{identifier}\n"
        f"TLS.sdkappid:{sdk_app_id}\n"
        f"TLS.time:{time}\n"
        f"TLS.expire:{expire}\n"
    )
    if userbuf_b64 is not None:
        text += f"TLS.userbuf:{userbuf_b64}\n"
    return text.encode()


def _hmac(key: str, content: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), content, hashlib.sha256).digest()).decode()


def generate_usersig(
    sdk_app_id: int,
    key: str,
    identifier: str,
    *,
    now: int,
    expire: int = DEFAULT_EXPIRE,
    userbuf: bytes | None = None,
) -> str:
    """A UserSig for ``identifier``, issued at ``now`` and valid ``expire`` seconds."""
    userbuf_b64 = base64.b64encode(userbuf).decode() if userbuf is not None else None
    doc: dict[str, object] = {
        "TLS.ver": "2.0",
        "TLS.identifier": identifier,
        "TLS.sdkappid": sdk_app_id,
        "TLS.expire": expire,
        "TLS.time": now,
    }
    if userbuf_b64 is not None:
        doc["TLS.userbuf"] = userbuf_b64
    doc["TLS.sig"] = _hmac(key, _content(identifier, sdk_app_id, now, expire, userbuf_b64))
    compressed = zlib.compress(json.dumps(doc).encode())
    return base64.b64encode(compressed).decode().translate(_TO_URL)


def decode_usersig(usersig: str) -> UserSigInfo:
    """Decode a UserSig without checking it; UserSigMalformed (70003) if it cannot be read."""
    if not usersig or len(usersig) > _MAX_USERSIG or not usersig.isascii():
        raise UserSigMalformed("UserSig is empty, too long or not ASCII")
    try:
        raw = base64.b64decode(usersig.translate(_FROM_URL), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UserSigMalformed("UserSig is not base64url text") from exc
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(raw, _MAX_JSON)
    except zlib.error as exc:
        raise UserSigMalformed("UserSig is not zlib-compressed") from exc
    if inflater.unconsumed_tail:
        raise UserSigMalformed("UserSig inflates to more than 16 KiB")
    if not inflater.eof:
        # A UserSig cut short (here: its zlib checksum lost) is 70003, "parse failed (e.g.
        # truncated)" ("Error Codes", https://trtc.io/document/34348), even when what is left still
        # inflates to the full JSON.
        raise UserSigMalformed("UserSig is truncated")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserSigMalformed("UserSig does not hold JSON") from exc
    if not isinstance(doc, dict):
        raise UserSigMalformed("UserSig does not hold a JSON object")
    identifier = doc.get("TLS.identifier")
    sig = doc.get("TLS.sig")
    userbuf_b64 = doc.get("TLS.userbuf")
    sdk_app_id, time, expire = (_int(doc.get(f"TLS.{n}")) for n in ("sdkappid", "time", "expire"))
    if (
        not isinstance(identifier, str)
        or not isinstance(sig, str)
        or sdk_app_id is None
        or time is None
        or expire is None
        or not (userbuf_b64 is None or isinstance(userbuf_b64, str))
    ):
        raise UserSigMalformed(
            "UserSig lacks TLS.identifier, TLS.sdkappid, TLS.time, TLS.expire or TLS.sig"
        )
    if userbuf_b64 is not None:
        try:
            base64.b64decode(userbuf_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UserSigMalformed("UserSig TLS.userbuf is not base64") from exc
    return UserSigInfo(identifier, sdk_app_id, time, expire, sig, userbuf_b64)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verify_usersig(
    usersig: str,
    *,
    sdk_app_id: int,
    key: str,
    identifier: str,
    now: int,
) -> UserSigInfo:
    """Check a UserSig for ``identifier`` of app ``sdk_app_id`` at ``now``.

    Checks in this order, each raising the error named after its REST code: decodable (70003),
    same SDKAppID (70014), same UserID (70013), HMAC with the app's key (70009), not expired
    (70001). The HMAC goes before expiry so a forged UserSig learns nothing about time.
    """
    info = decode_usersig(usersig)
    if info.sdk_app_id != sdk_app_id:
        raise UserSigAppMismatch(f"UserSig is for SDKAppID {info.sdk_app_id}, not {sdk_app_id}")
    if info.identifier != identifier:
        raise UserSigIdentifierMismatch("UserSig was issued to another identifier")
    content = _content(info.identifier, info.sdk_app_id, info.time, info.expire, info.userbuf_b64)
    expected = _hmac(key, content)
    if not hmac.compare_digest(expected.encode(), info.sig.encode("utf-8", "replace")):
        raise UserSigInvalid("UserSig signature does not match the app's key")
    if now > info.expires_at:
        raise UserSigExpired(f"UserSig expired at {info.expires_at} (now {now})")
    return info
