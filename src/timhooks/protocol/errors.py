"""The one exception tree of timhooks.

    TimhooksError
    ├── ProtocolError              bad input from a peer (never a crash of ours)
    │   ├── MalformedRequest       a webhook request that is not what the protocol says
    │   │   └── CommandMismatch    query CallbackCommand differs from the body's
    │   ├── BodyError              a request body refused before it is read (request_body.py)
    │   │   ├── BodyTooLarge       413: over the size limit
    │   │   ├── BodyTooSlow        408: not in within the deadline
    │   │   └── BadContentLength   400: a Content-Length that is not a number
    │   ├── MalformedResponse      an app backend's answer that is not what the protocol says
    │   ├── VerificationError      Sign / RequestTime authentication failed
    │   │   ├── MissingSignature
    │   │   ├── StaleRequest
    │   │   └── SignatureMismatch
    │   └── UserSigError           UserSig check failed; ``code`` is the REST error code
    │       ├── UserSigExpired            70001
    │       ├── UserSigMalformed          70003
    │       ├── UserSigInvalid            70009
    │       ├── UserSigIdentifierMismatch 70013
    │       └── UserSigAppMismatch        70014
    ├── ConfigError                misuse by the caller (bad decision, bad URL, bad option)
    ├── RestError                  a REST call the Chat backend refuses; ``code`` is its ErrorCode
    ├── StorageError               the database failed; mapped from sqlite3 / psycopg
    │   ├── DatabaseNotFound       no database (or schema) where one must exist (storage/)
    │   └── SchemaMismatch         a schema older or newer than this timhooks (storage/)
    └── DeliveryError              a webhook could not be delivered
        ├── HttpError              the POST failed: connection, protocol or size (delivery/http.py)
        └── ForwardFailed          the app refused a webhook listen forwarded (devtools/forward.py)

Foreign exceptions are mapped at the adapter boundary with ``raise ... from exc``, so the
original error stays the ``__cause__``. The subclasses defined outside this module are raised
where their adapter is, and caught by their base class here.
"""

from __future__ import annotations

from timhooks.protocol.codes import RestCode

__all__ = [
    "CommandMismatch",
    "ConfigError",
    "DeliveryError",
    "MalformedRequest",
    "MalformedResponse",
    "MissingSignature",
    "ProtocolError",
    "RestError",
    "SignatureMismatch",
    "StaleRequest",
    "StorageError",
    "TimhooksError",
    "UserSigAppMismatch",
    "UserSigError",
    "UserSigExpired",
    "UserSigIdentifierMismatch",
    "UserSigInvalid",
    "UserSigMalformed",
    "VerificationError",
]


class TimhooksError(Exception):
    """Base of every error timhooks raises on purpose."""


class ProtocolError(TimhooksError):
    """A peer sent something the protocol does not allow."""


class MalformedRequest(ProtocolError):
    """A webhook request (query or body) is not well formed."""


class CommandMismatch(MalformedRequest):
    """The query's CallbackCommand and the body's CallbackCommand differ."""


class MalformedResponse(ProtocolError):
    """An app backend answered a webhook with something that is not a valid response."""


class VerificationError(ProtocolError):
    """Webhook authentication (Sign and RequestTime) failed."""


class MissingSignature(VerificationError):
    """A token is configured but the request carries no Sign or RequestTime."""


class StaleRequest(VerificationError):
    """RequestTime is outside the accepted window around now."""


class SignatureMismatch(VerificationError):
    """Sign is not sha256(Token + RequestTime)."""


class UserSigError(ProtocolError):
    """A UserSig failed verification; ``code`` is the REST error code Tencent returns."""

    code: RestCode = RestCode.USERSIG_INVALID


class UserSigExpired(UserSigError):
    """The UserSig's TLS.time + TLS.expire is in the past (70001)."""

    code = RestCode.USERSIG_EXPIRED


class UserSigMalformed(UserSigError):
    """The UserSig cannot be decoded: bad base64url, zlib or JSON, or missing fields (70003)."""

    code = RestCode.USERSIG_MALFORMED


class UserSigInvalid(UserSigError):
    """The UserSig's HMAC does not match the app's key (70009)."""

    code = RestCode.USERSIG_INVALID


class UserSigIdentifierMismatch(UserSigError):
    """The UserSig was issued to another UserID (70013)."""

    code = RestCode.USERSIG_IDENTIFIER_MISMATCH


class UserSigAppMismatch(UserSigError):
    """The UserSig was issued for another SDKAppID (70014)."""

    code = RestCode.USERSIG_SDKAPPID_MISMATCH


class ConfigError(TimhooksError):
    """timhooks was called or configured in a way it cannot honour."""


class RestError(TimhooksError):
    """A REST call the Chat backend refuses: ``code`` and ``info`` are its answer's ErrorCode and
    ErrorInfo (Tencent's "Error Codes", https://trtc.io/document/34348)."""

    def __init__(self, code: int, info: str) -> None:
        super().__init__(f"{code}: {info}")
        self.code = int(code)
        self.info = info


class StorageError(TimhooksError):
    """The database failed (locked, read-only, full, corrupt, unreachable)."""


class DeliveryError(TimhooksError):
    """A webhook could not be delivered to the app backend."""
