"""One-line summaries of webhook bodies: who, where, what, and the message text.

``summarize`` reads a body as JSON data (a stored payload or ``event.to_wire()``), so it works
for every command, known or not, and never raises. The fields that identify an event are listed
here once, in the order they are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["summarize"]

# Scalar fields shown as Name=value, in this order (those of the body that are present).
_KEYS = (
    "Official_Account",
    "GroupId",
    "GroupID",
    "TopicId",
    "Scene",
    "Operator_Account",
    "Owner_Account",
    "Requestor_Account",
    "Requester_Account",
    "From_Account",
    "To_Account",
    "ToGroupId",
    "Report_Account",
    "Peer_Account",
    "Member_Account",
    "Modified_Account",
    "OldOwner_Account",
    "NewOwner_Account",
    "Admin_Account",
    "Name",
    "Notification",
    "MsgKey",
    "MsgSeq",
    "MsgID",
    "JoinType",
    "ExitType",
    "Action",
    "Reason",
    "CustomStatus",
    "EventType",
    "EventCause",
    "Role",
    "NameCard",
    "OptionType",
    "OperateType",
    "ClientCmd",
    "AddType",
    "SendMsgResult",
    "ErrorCode",
    "CtxcbResult",
    "CtxcbSuggestion",
    "CtxcbLabel",
    "ServiceName",
    "Command",
    "Request",
    "Limit",
    "QuotaUsed",
    "Quota",
    "TaskId",
    "PushPlatform",
    "PushStage",
    "ErrCode",
    "LastReadTime",
)
_KEY_SET = frozenset(_KEYS)
# The field that names an item of a list of objects, in order of preference.
_ITEM_IDS = (
    "Member_Account",
    "Subscriber_Account",
    "To_Account",
    "MsgKey",
    "MsgSeq",
    "Key",
    "key",
    "Tag",
    "Platform",
)
_TEXT_MAX = 60


def summarize(payload: Any) -> str:
    """``Key=value`` pairs that say what a webhook body is about, on one line.

    Lists of members, subscribers, friends ... show their IDs; a MsgBody shows its text
    (truncated), other elements as ``[image]`` and the like. Anything that is not a JSON object
    gives "".
    """
    if not isinstance(payload, Mapping):
        return ""
    parts = _scalars(payload)
    for key, value in payload.items():
        if key == "MsgBody" or not isinstance(value, list | tuple) or not value:
            continue
        if key == "Events" and isinstance(value[0], Mapping):
            # A push batch: how many, and what the first one is about.
            parts.append(f"Events={len(value)}")
            parts += _scalars(value[0])
            continue
        parts.append(f"{key}={_items(value)}")
    body = payload.get("MsgBody")
    if isinstance(body, list | tuple) and body:
        parts.append(f"MsgBody={_quoted(_message_text(body))}")
    return " ".join(parts)


def _scalars(data: Mapping[str, Any]) -> list[str]:
    found: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            # One level down (State.StateChange's Info, moderation's ContactItem).
            for inner, inner_value in value.items():
                if inner in _KEY_SET and _is_scalar(inner_value):
                    found.setdefault(inner, inner_value)
        elif key in _KEY_SET and _is_scalar(value):
            found[key] = value
    return [f"{key}={found[key]}" for key in _KEYS if key in found]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and value != ""


def _items(values: list[Any] | tuple[Any, ...]) -> str:
    ids: list[str] = []
    for item in values:
        if _is_scalar(item):
            ids.append(str(item))
        elif isinstance(item, Mapping) and len(item) == 1:
            only = next(iter(item.values()))
            if not _is_scalar(only):
                break
            ids.append(str(only))
        elif (
            isinstance(item, Mapping)
            and _is_scalar(item.get("From_Account"))
            and _is_scalar(item.get("To_Account"))
        ):
            ids.append(f"{item['From_Account']}>{item['To_Account']}")  # a friend pair
        elif isinstance(item, Mapping):
            name = next((k for k in _ITEM_IDS if _is_scalar(item.get(k))), None)
            if name is None:
                break
            ids.append(str(item[name]))
        else:
            break
    return ",".join(ids) if len(ids) == len(values) else f"[{len(values)}]"


def _message_text(body: list[Any] | tuple[Any, ...]) -> str:
    parts = []
    for element in body:
        if not isinstance(element, Mapping):
            continue
        msg_type = element.get("MsgType")
        content = element.get("MsgContent")
        text = content.get("Text") if isinstance(content, Mapping) else None
        if msg_type == "TIMTextElem" and isinstance(text, str):
            parts.append(text)
        elif isinstance(msg_type, str):
            parts.append(f"[{msg_type.removeprefix('TIM').removesuffix('Elem').lower()}]")
    return " ".join(parts)


def _quoted(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _TEXT_MAX:
        flat = flat[: _TEXT_MAX - 1] + "…"
    return '"' + flat.replace('"', "'") + '"'
