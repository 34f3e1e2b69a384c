"""The registry of every CallbackCommand timhooks knows, and total parsing of webhook bodies.

One entry per command: before or after, its event model, and for before-commands the decisions
it allows, the REST error code its caller sees on a plain deny, and the range of custom codes
the app may pass through to the caller (reference 3.1-3.11, 4.1-4.7, 7.5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode, WebhookCode
from timhooks.protocol.decisions import ACK_BODY, Decision, DecisionKind
from timhooks.protocol.errors import (
    CommandMismatch,
    ConfigError,
    MalformedRequest,
    MalformedResponse,
)

__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Phase",
    "get_command",
    "parse_event",
]


class Phase(StrEnum):
    """Before-webhooks can veto the action; after-webhooks only report it (reference 1.1)."""

    BEFORE = "before"
    AFTER = "after"


_REFUSE_SUBSCRIBERS = "RefusedSubscribers_Account"
_REFUSE_MEMBERS = "RefusedMembers_Account"
# The BeforeAddSubscriber page's prose says RefusedMembers_Account while its sample says
# RefusedSubscribers_Account (reference 3.5): answers with either are accepted.
_REFUSAL_ALIASES = (_REFUSE_SUBSCRIBERS, _REFUSE_MEMBERS)

_OA_CUSTOM = (120001, 130000)  # reference 3.1, 3.9
_GROUP_CUSTOM = (10100, 10200)  # reference 4.1, 4.3, 4.4

_encoder = msgspec.json.Encoder()
# ErrorCode as a quoted number: ASCII digits only (str.isdigit also takes "²", which int()
# refuses), and short enough that int() never meets its digit limit.
_INT_TEXT = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What the protocol says about one CallbackCommand."""

    name: str
    phase: Phase
    model: type[ev.Event]
    decisions: frozenset[DecisionKind] = frozenset()
    deny_code: RestCode | None = None
    custom_range: tuple[int, int] | None = None
    refusal_field: str | None = None
    rewrites: bool = False
    wire_fields: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def is_before(self) -> bool:
        """True for a before-webhook, whose answer decides the action."""
        return self.phase is Phase.BEFORE

    def check(self, decision: Decision) -> None:
        """Raise ConfigError unless ``decision`` is a valid answer to this command."""
        if not self.is_before:
            raise ConfigError(f"{self.name} is an after-webhook: its answer cannot decide anything")
        kind = decision.kind
        if kind not in self.decisions:
            if kind is DecisionKind.REJECT:
                raise ConfigError(self._range_message(decision.error_code))
            raise ConfigError(f"{self.name} does not allow the decision {kind.value!r}")
        if kind is DecisionKind.REJECT and not self.in_custom_range(decision.error_code):
            raise ConfigError(self._range_message(decision.error_code))
        if decision.refused and self.refusal_field is None:
            raise ConfigError(f"{self.name} does not allow refusing some users")
        if decision.refused and kind is not DecisionKind.ALLOW:
            raise ConfigError("a partial refusal goes with ErrorCode 0 only")
        rewriting = decision.msg_body is not None or decision.cloud_custom_data is not None
        if rewriting and not self.rewrites:
            raise ConfigError(f"{self.name} does not allow rewriting the message")
        if rewriting and kind is not DecisionKind.ALLOW:
            raise ConfigError("a rewrite goes with ErrorCode 0 only")

    def in_custom_range(self, code: int) -> bool:
        """True if ``code`` is one the app may pass through to the caller."""
        return (
            self.custom_range is not None and self.custom_range[0] <= code <= self.custom_range[1]
        )

    def _range_message(self, code: int) -> str:
        if self.custom_range is None:
            return f"{self.name} takes no custom error codes (got {code})"
        low, high = self.custom_range
        return f"{self.name} custom error codes must be in [{low}, {high}] (got {code})"

    def encode(self, decision: Decision) -> bytes:
        """The JSON answer Tencent expects for ``decision`` (checked first)."""
        self.check(decision)
        if decision == Decision():
            return ACK_BODY
        body: dict[str, Any] = {
            "ActionStatus": "OK",
            "ErrorInfo": decision.error_info,
            "ErrorCode": decision.error_code,
        }
        if decision.refused and self.refusal_field is not None:
            body[self.refusal_field] = list(decision.refused)
        if decision.msg_body is not None:
            body["MsgBody"] = list(decision.msg_body)
        if decision.cloud_custom_data is not None:
            body["CloudCustomData"] = decision.cloud_custom_data
        return _encoder.encode(body)

    def parse_response(self, body: bytes) -> Decision:
        """Read an app backend's answer into a Decision; MalformedResponse if it is not one.

        Tencent counts a non-JSON body as a failed call (reference 1.6). A code this command does
        not allow is returned as it is; what to do with it is the caller's policy.
        """
        try:
            data = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"answer is not valid JSON: {_decode_reason(exc)}") from None
        if not isinstance(data, dict):
            raise MalformedResponse(f"answer must be a JSON object, got {_json_type(data)}")
        code = _int_field(data, "ErrorCode")
        info = data.get("ErrorInfo", "")
        if not isinstance(info, str):
            raise MalformedResponse("answer field ErrorInfo must be a string")
        refused: tuple[str, ...] = ()
        for name in _REFUSAL_ALIASES:
            value = data.get(name)
            if value is not None:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise MalformedResponse(f"answer field {name} must be an array of strings")
                refused += tuple(value)
        msg_body = data.get("MsgBody")
        if msg_body is not None and (
            not isinstance(msg_body, list) or not all(isinstance(e, dict) for e in msg_body)
        ):
            raise MalformedResponse("answer field MsgBody must be an array of objects")
        ccd = data.get("CloudCustomData")
        if ccd is not None and not isinstance(ccd, str):
            raise MalformedResponse("answer field CloudCustomData must be a string")
        return Decision(
            error_code=code,
            error_info=info,
            refused=refused if code == WebhookCode.ALLOW else (),
            msg_body=tuple(msg_body) if msg_body is not None and self.rewrites else None,
            cloud_custom_data=ccd if self.rewrites else None,
        )


def _decode_reason(exc: Exception) -> str:
    # msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 inside a JSON string;
    # atheris found it: without it a hostile body leaked a foreign error (STYLE.md habit 1).
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _json_type(value: object) -> str:
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


def _int_field(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool):
        raise MalformedResponse(f"answer field {name} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value)
    if value is None:
        raise MalformedResponse(f"answer has no {name}")
    raise MalformedResponse(f"answer field {name} must be an integer, got {_json_type(value)}")


def _wire_names(model: type[ev.Event]) -> frozenset[str]:
    names = {f.encode_name for f in msgspec.structs.fields(model)}
    return frozenset(names - {ev.EXTRA_KEY})


def _spec(
    model: type[ev.Event],
    phase: Phase,
    *,
    decisions: tuple[DecisionKind, ...] = (),
    deny_code: RestCode | None = None,
    custom_range: tuple[int, int] | None = None,
    refusal_field: str | None = None,
    rewrites: bool = False,
) -> CommandSpec:
    names = _wire_names(model)
    return CommandSpec(
        name=model.command,
        phase=phase,
        model=model,
        decisions=frozenset(decisions),
        deny_code=deny_code,
        custom_range=custom_range,
        refusal_field=refusal_field,
        rewrites=rewrites,
        wire_fields=names,
    )


_A, _D, _R, _X = DecisionKind.ALLOW, DecisionKind.DENY, DecisionKind.REJECT, DecisionKind.DISCARD
_AFTER = Phase.AFTER
_BEFORE = Phase.BEFORE

# BeforeAddSubscriber: the docs name no caller-visible code and no custom range (reference 3.5);
# timhooks answers a deny with 10016, Tencent's generic "refused by the app backend" code.
_SPECS = (
    _spec(
        ev.BeforeCreateOfficialAccount,
        _BEFORE,
        decisions=(_A, _D, _R),
        deny_code=RestCode.CREATE_REFUSED_BY_CALLBACK,
        custom_range=_OA_CUSTOM,
    ),
    _spec(ev.AfterCreateOfficialAccount, _AFTER),
    _spec(ev.AfterOfficialAccountInfoChanged, _AFTER),
    _spec(ev.AfterOfficialAccountDestroyed, _AFTER),
    _spec(
        ev.BeforeAddSubscriber,
        _BEFORE,
        decisions=(_A, _D),
        deny_code=RestCode.REFUSED_BY_CALLBACK,
        refusal_field=_REFUSE_SUBSCRIBERS,
    ),
    _spec(ev.AfterAddSubscriber, _AFTER),
    _spec(ev.AfterOfficialAccountFull, _AFTER),
    _spec(ev.AfterDeleteSubscriber, _AFTER),
    _spec(
        ev.BeforeSendMsg,
        _BEFORE,
        decisions=(_A, _D, _R, _X),
        deny_code=RestCode.REFUSED_BY_CALLBACK,
        custom_range=_OA_CUSTOM,
        rewrites=True,
    ),
    _spec(ev.AfterSendMsg, _AFTER),
    _spec(ev.AfterMsgWithDraw, _AFTER),
    _spec(
        ev.BeforeCreateGroup,
        _BEFORE,
        decisions=(_A, _D, _R),
        deny_code=RestCode.REFUSED_BY_CALLBACK,
        custom_range=_GROUP_CUSTOM,
    ),
    _spec(ev.AfterCreateGroup, _AFTER),
    _spec(
        ev.BeforeApplyJoinGroup,
        _BEFORE,
        decisions=(_A, _D, _R),
        deny_code=RestCode.REFUSED_BY_CALLBACK,
        custom_range=_GROUP_CUSTOM,
    ),
    _spec(
        ev.BeforeInviteJoinGroup,
        _BEFORE,
        decisions=(_A, _D, _R),
        deny_code=RestCode.REFUSED_BY_CALLBACK,
        custom_range=_GROUP_CUSTOM,
        refusal_field=_REFUSE_MEMBERS,
    ),
    _spec(ev.AfterNewMemberJoin, _AFTER),
    _spec(ev.AfterMemberExit, _AFTER),
    _spec(ev.AfterGroupFull, _AFTER),
)

COMMANDS: Mapping[str, CommandSpec] = {s.name: s for s in _SPECS}
"""Every known CallbackCommand by its wire name."""

_UNKNOWN_FIELDS = _wire_names(ev.UnknownEvent)


def get_command(name: str) -> CommandSpec | None:
    """The spec of a CallbackCommand, or None if timhooks does not know it."""
    return COMMANDS.get(name)


def parse_event(body: bytes | str, *, command: str | None = None) -> ev.Event:
    """Parse a webhook body into its typed event.

    Total: any input gives an Event or raises MalformedRequest (CommandMismatch when ``command``,
    the query's CallbackCommand, differs from the body's). An unknown command gives UnknownEvent.
    """
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"body is not valid JSON: {_decode_reason(exc)}") from None
    if not isinstance(data, dict):
        raise MalformedRequest(f"body must be a JSON object, got {_json_type(data)}")
    name = data.get("CallbackCommand")
    if not isinstance(name, str) or not name:
        raise MalformedRequest("body has no CallbackCommand string")
    if command is not None and command != name:
        raise CommandMismatch(f"query CallbackCommand {command!r} differs from the body's {name!r}")
    spec = COMMANDS.get(name)
    model, known = (spec.model, spec.wire_fields) if spec else (ev.UnknownEvent, _UNKNOWN_FIELDS)
    data[ev.EXTRA_KEY] = {k: v for k, v in data.items() if k not in known}
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedRequest(f"{name}: {exc}") from None
