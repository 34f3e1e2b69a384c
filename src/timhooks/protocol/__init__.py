"""Sans-IO core of the Tencent Cloud Chat webhook protocol.

Bytes and strings in, typed values out: no sockets, no asyncio, no database, no HTTP client.
Both the receiver and the Chat backend build on it; it imports nothing from them.
"""

from __future__ import annotations

from timhooks.protocol.codes import RestCode, WebhookCode
from timhooks.protocol.commands import COMMANDS, CommandSpec, Phase, get_command, parse_event
from timhooks.protocol.decisions import ACK_BODY, Decision, DecisionKind, ResultItem
from timhooks.protocol.errors import (
    CommandMismatch,
    ConfigError,
    DeliveryError,
    MalformedRequest,
    MalformedResponse,
    MissingSignature,
    ProtocolError,
    SignatureMismatch,
    StaleRequest,
    StorageError,
    TimhooksError,
    UserSigAppMismatch,
    UserSigError,
    UserSigExpired,
    UserSigIdentifierMismatch,
    UserSigInvalid,
    UserSigMalformed,
    VerificationError,
)
from timhooks.protocol.events import BeforeEvent, Event, UnknownEvent
from timhooks.protocol.query import Platform, WebhookQuery, build_query, parse_query
from timhooks.protocol.signing import DEFAULT_TOLERANCE, compute_sign, verify_sign
from timhooks.protocol.summary import summarize
from timhooks.protocol.usersig import (
    DEFAULT_EXPIRE,
    UserSigInfo,
    decode_usersig,
    generate_usersig,
    verify_usersig,
)

__all__ = [
    "ACK_BODY",
    "COMMANDS",
    "DEFAULT_EXPIRE",
    "DEFAULT_TOLERANCE",
    "BeforeEvent",
    "CommandMismatch",
    "CommandSpec",
    "ConfigError",
    "Decision",
    "DecisionKind",
    "DeliveryError",
    "Event",
    "MalformedRequest",
    "MalformedResponse",
    "MissingSignature",
    "Phase",
    "Platform",
    "ProtocolError",
    "RestCode",
    "ResultItem",
    "SignatureMismatch",
    "StaleRequest",
    "StorageError",
    "TimhooksError",
    "UnknownEvent",
    "UserSigAppMismatch",
    "UserSigError",
    "UserSigExpired",
    "UserSigIdentifierMismatch",
    "UserSigInfo",
    "UserSigInvalid",
    "UserSigMalformed",
    "VerificationError",
    "WebhookCode",
    "WebhookQuery",
    "build_query",
    "compute_sign",
    "decode_usersig",
    "generate_usersig",
    "get_command",
    "parse_event",
    "parse_query",
    "summarize",
    "verify_sign",
    "verify_usersig",
]
