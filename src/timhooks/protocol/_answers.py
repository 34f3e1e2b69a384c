"""Reading and writing the JSON of an app backend's answer, field by field.

``CommandSpec.parse_response`` and ``CommandSpec.encode`` (``commands.py``) use these: each field
of an answer is checked on its own, so a bad one is a MalformedResponse naming it, never a
foreign error (STYLE.md habit 1).
"""

from __future__ import annotations

import re
from typing import Any

from timhooks.protocol import events as ev
from timhooks.protocol.decisions import Decision, DecisionKind, ResultItem
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import MalformedResponse

# ErrorCode as a quoted number: ASCII digits only (str.isdigit also takes "²", which int()
# refuses), and short enough that int() never meets its digit limit.
_INT_TEXT = re.compile(r"-?[0-9]{1,18}")


def encode_results(decision: Decision, event: ev.Event | None, low: int) -> bytes:
    """A per-recipient answer: a ResultItem for every recipient of ``event``.

    ErrorCode stays 0: Tencent treats any other as the app failing and ignores it; a refusal is
    a non-zero ResultCode (https://trtc.io/document/43468). A deny, or a refusal without its own
    code, gets ``low``, the first code of the range.
    """
    recipients = event.recipients() if isinstance(event, ev.BeforeEvent) else ()
    verdicts: dict[str, tuple[int, str]] = {}
    if decision.kind is DecisionKind.DENY:
        verdicts = dict.fromkeys(recipients, (low, decision.error_info))
    for account in decision.refused:
        verdicts[account] = (low, "")
    for item in decision.results:
        verdicts[item.to_account] = (item.result_code, item.result_info)
    items = [
        ResultItem(account, *verdicts.get(account, (0, ""))).to_wire()
        for account in dict.fromkeys([*recipients, *verdicts])
    ]
    body = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, "ResultItem": items}
    return encode_json(body)


def decode_reason(exc: Exception) -> str:
    """Why a body is not valid JSON, in words (for MalformedRequest/MalformedResponse)."""
    # msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 inside a JSON string;
    # atheris found it: without it a hostile body leaked a foreign error (STYLE.md habit 1).
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def json_type(value: object) -> str:
    """The JSON type of a decoded value, for error messages ("an array", "null" ...)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "an object"


def int_field(data: dict[str, Any], name: str, where: str = "answer field ") -> int:
    """The integer field ``name`` (a quoted integer is read too); MalformedResponse otherwise."""
    value = data.get(name)
    if isinstance(value, bool):
        raise MalformedResponse(f"{where}{name} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value)
    if value is None:
        raise MalformedResponse(f"answer has no {name}")
    raise MalformedResponse(f"{where}{name} must be an integer, got {json_type(value)}")


def str_field(data: dict[str, Any], name: str) -> str | None:
    """The string field ``name``, or None when absent; MalformedResponse if not a string."""
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedResponse(f"answer field {name} must be a string")
    return value


def result_items(data: dict[str, Any]) -> tuple[ResultItem, ...]:
    """The ``ResultItem`` array of a per-recipient answer; MalformedResponse if malformed."""
    value = data.get("ResultItem")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedResponse("answer field ResultItem must be an array of objects")
    items = []
    for item in value:
        account = item.get("To_Account")
        if not isinstance(account, str):
            raise MalformedResponse("answer field ResultItem[].To_Account must be a string")
        code = int_field(item, "ResultCode", "answer field ResultItem[].")
        info = item.get("ResultInfo", "")
        if not isinstance(info, str):
            raise MalformedResponse("answer field ResultItem[].ResultInfo must be a string")
        items.append(ResultItem(account, code, info))
    return tuple(items)
