"""What one-to-one and group messages share: the body fields of a send, and what a
``CallbackBeforeSendMsg`` answer does to the message.

A message is an array of elements ``{"MsgType": ..., "MsgContent": {...}}`` ("Message Formats",
https://www.tencentcloud.com/document/product/1047/33527), kept as given whatever its type.
``ForbidCallbackControl`` switches off the before- or after-webhook of one message, and
``SendMsgControl`` holds delivery options ("Sending One-to-One Messages to One User",
https://trtc.io/document/34919; "Sending Ordinary Messages in a Group",
https://trtc.io/document/34959). A before-webhook may refuse the message, discard it (the
sender sees success, nothing is stored or delivered) or rewrite its ``MsgBody`` and
``CloudCustomData`` ("Before a One-to-One Message Is Sent", https://trtc.io/document/34364;
"Before Group Message Is Sent", https://tencentcloud.com/document/product/1047/34374).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from timhooks.protocol.decisions import Decision, DecisionKind
from timhooks.protocol.encoding import encode_json
from timhooks.server.bodies import NonEmpty, object_with

__all__ = [
    "Forbid",
    "MsgBody",
    "Outgoing",
    "Random32",
    "Switches",
    "body_text",
    "decided",
    "new_random",
    "read_body_text",
]

UINT32 = 2**32 - 1

MessageElement = Annotated[dict[str, Any], object_with("MsgType", MsgContent={"type": "object"})]
MsgBody = Annotated[list[MessageElement], msgspec.Meta(min_length=1)]
"""``MsgBody``: one or more elements, each kept as given."""

Random32 = Annotated[int, msgspec.Meta(ge=0, le=UINT32)]
"""A 32-bit unsigned integer (``MsgRandom``, ``Random``, ``MsgSeq`` of a one-to-one message)."""

Forbid = Annotated[
    list[NonEmpty],
    msgspec.Meta(
        description="ForbidBeforeSendMsgCallback and/or ForbidAfterSendMsgCallback;"
        " other values are ignored"
    ),
]
"""``ForbidCallbackControl``."""


@dataclass(frozen=True, slots=True)
class Switches:
    """Which of a message's webhooks ``ForbidCallbackControl`` leaves on."""

    before: bool = True
    after: bool = True

    @classmethod
    def of(cls, forbid: Sequence[str]) -> Switches:
        """The switches of a ``ForbidCallbackControl`` list."""
        return cls(
            before="ForbidBeforeSendMsgCallback" not in forbid,
            after="ForbidAfterSendMsgCallback" not in forbid,
        )


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a send carries that a before-webhook may rewrite."""

    msg_body: tuple[dict[str, Any], ...]
    cloud_custom_data: str = ""


def decided(msg: Outgoing, decision: Decision) -> Outgoing | None:
    """The message after its before-webhook's ``decision`` (refusals were raised already):
    None when discarded, else the message with what the answer rewrote."""
    if decision.kind is DecisionKind.DISCARD:
        return None
    return dataclasses.replace(
        msg,
        msg_body=decision.msg_body if decision.msg_body is not None else msg.msg_body,
        cloud_custom_data=decision.cloud_custom_data
        if decision.cloud_custom_data is not None
        else msg.cloud_custom_data,
    )


def new_random() -> int:
    """A random 32-bit unsigned integer, for a send that gives none."""
    return secrets.randbits(32)


def body_text(msg_body: Sequence[dict[str, Any]]) -> str:
    """A MsgBody as stored (JSON text)."""
    return encode_json(list(msg_body)).decode()


def read_body_text(text: str) -> list[dict[str, Any]]:
    """A stored MsgBody, as given when sent."""
    body: list[dict[str, Any]] = msgspec.json.decode(text)
    return body
