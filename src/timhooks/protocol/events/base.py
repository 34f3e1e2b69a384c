"""What every webhook model shares: wire names, the ``extra`` of unknown fields, ``to_wire``.

A model is one JSON object of Tencent's: a webhook body (an ``Event``) or an object inside one (a
message element, a friend item). Python names are snake_case; Tencent's wire names
(``Official_Account``, ``MsgBody``, ``EventTime`` ...) are the field aliases. Fields a model does
not name are kept in its ``extra``, at every level: Tencent adds fields over time and a receiver
must not drop them, and ``to_wire`` writes them back.

Before a body is converted, ``prepare`` walks it along the model's structure (a ``_Plan`` per
model, built once) and moves the unknown fields of every object under ``EXTRA_KEY``; ``to_wire``
walks the other way. Objects whose model depends on a sibling field (a message element's
``MsgContent`` on its ``MsgType``) are converted by their parent's ``__post_init__``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union

import msgspec

from timhooks.protocol.decisions import Decision, MessageLike, ResultItem

if TYPE_CHECKING:
    from timhooks.protocol.commands import CommandSpec

__all__ = [
    "EXTRA_KEY",
    "BeforeEvent",
    "Event",
    "Millis",
    "Model",
    "Seconds",
    "UnknownEvent",
    "convert",
    "prepare",
]

# The wire name under which the fields a model does not name travel into ``extra``. No Tencent
# field starts with a double underscore.
EXTRA_KEY = "__extra__"

# Epoch times, bounded to what every database stores as a 64-bit integer.
Millis = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""Milliseconds since the epoch (EventTime of almost every webhook)."""
Seconds = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
"""Seconds since the epoch (MsgTime, and EventTime of the push webhooks)."""


class Model(msgspec.Struct, frozen=True, kw_only=True, repr_omit_defaults=True):
    """One JSON object of Tencent's: its fields under their wire names, the others in ``extra``.

    The objects are those of the webhook pages listed from "Webhook Overview",
    https://trtc.io/document/34354.

    ``wire_aliases`` maps another spelling of a field (one document's) onto the model's own; it
    is read when the model's spelling is absent, and ``to_wire`` writes the model's spelling.
    ``dynamic`` names fields whose model a sibling decides (they are typed ``Any`` on the wire
    and converted in ``__post_init__``).
    """

    wire_aliases: ClassVar[Mapping[str, str]] = {}
    dynamic: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], type[Model]]]] = {}

    extra: dict[str, Any] = msgspec.field(name=EXTRA_KEY, default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The object as Tencent's JSON: wire names, absent fields left out, ``extra`` merged."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        _restore(data, plan_of(type(self)))
        return data


class Event(Model, frozen=True, kw_only=True):
    """Fields every webhook body carries.

    Follows "Webhook Overview", https://trtc.io/document/34354. ``event_time`` is the body's
    EventTime: milliseconds since the epoch for almost every command, written as a number or a
    quoted number (both are read), and absent from many older bodies. ``event_time_ms`` gives it
    in milliseconds whatever the command's unit.
    ``body_has_command`` is False for the bodies that carry no CallbackCommand of their own (the
    query's is used); ``items_field`` names the array of a batched body.
    """

    command: ClassVar[str] = ""
    body_has_command: ClassVar[bool] = True
    items_field: ClassVar[str | None] = None

    callback_command: str = msgspec.field(name="CallbackCommand")
    event_time: Millis | None = msgspec.field(name="EventTime", default=None)

    @property
    def event_time_ms(self) -> int | None:
        """When the event happened, in milliseconds since the epoch (None when not given)."""
        return self.event_time

    def to_wire(self) -> dict[str, Any]:
        """The event as Tencent's JSON body: wire names, unknown fields merged back."""
        data = super().to_wire()
        if not self.body_has_command:
            data.pop("CallbackCommand", None)
        event_time = data.pop("EventTime", None)
        if event_time is not None:
            data["EventTime"] = event_time  # last, as in every sample body
        return data

    def summary(self) -> str:
        """A one-line description of what the event is about (who, where, the message text)."""
        from timhooks.protocol.summary import summarize

        return summarize(self.to_wire())


class UnknownEvent(Event, frozen=True, kw_only=True):
    """A command timhooks does not know yet; every field but the two common ones is in ``extra``.

    The known ones are those of "Webhook Overview", https://trtc.io/document/34354.
    """


class BeforeEvent(Event, frozen=True, kw_only=True):
    """A webhook answered inline, whose answer decides: build the answer from the event.

    Follows "Webhook Overview", https://trtc.io/document/34354 (before-webhooks).

    Each builder checks the decision against this command's rules (``commands.COMMANDS``) and
    raises ConfigError at once if the command does not allow it, so a wrong answer is never sent.
    """

    @property
    def spec(self) -> CommandSpec:
        """This command's entry in the registry."""
        from timhooks.protocol.commands import COMMANDS

        return COMMANDS[self.command]

    def _checked(self, decision: Decision) -> Decision:
        self.spec.check(decision)
        return decision

    def allow(self) -> Decision:
        """Let the action proceed unchanged (ErrorCode 0)."""
        return self._checked(Decision.allow())

    def deny(self, info: str = "") -> Decision:
        """Refuse; the caller sees the command's deny code (ErrorCode 1)."""
        return self._checked(Decision.deny(info))

    def reject(self, code: int, info: str) -> Decision:
        """Refuse with the app's own code, which must lie in the command's custom range."""
        return self._checked(Decision.reject(code, info))

    def discard(self) -> Decision:
        """Drop the message silently; its sender sees success (ErrorCode 2)."""
        return self._checked(Decision.discard())

    def refuse(self, accounts: Iterable[str]) -> Decision:
        """Let the action proceed for everyone but these users."""
        return self._checked(Decision.refuse(accounts))

    def rewrite(
        self,
        *,
        msg_body: Iterable[MessageLike] | None = None,
        cloud_custom_data: str | None = None,
    ) -> Decision:
        """Deliver the message with this MsgBody and/or CloudCustomData instead (ErrorCode 0)."""
        return self._checked(
            Decision.rewrite(msg_body=msg_body, cloud_custom_data=cloud_custom_data)
        )

    def per_recipient(
        self, results: Mapping[str, int | tuple[int, str]] | Iterable[ResultItem]
    ) -> Decision:
        """A ResultCode (and ResultInfo) per recipient; recipients not named are allowed."""
        return self._checked(Decision.per_recipient(results))

    def reply(self, rsp_data: str) -> Decision:
        """Answer with data for the chatbot (RspData, ErrorCode 0)."""
        return self._checked(Decision.reply(rsp_data))

    def recipients(self) -> tuple[str, ...]:
        """The users a per-recipient answer speaks for (none for most commands)."""
        return ()


# --- plans: the model's structure, walked by prepare() and to_wire() ----------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """What prepare() and to_wire() need to know about one model."""

    known: frozenset[str]
    nullable: frozenset[str]
    aliases: tuple[tuple[str, str], ...]
    children: dict[str, _Plan]
    dynamic: Mapping[str, Callable[[Mapping[str, Any]], type[Model]]]
    arrays: bool  # some field holds a tuple: to_wire() must make it a list


_PLANS: dict[type[Model], _Plan] = {}


def plan_of(model: type[Model]) -> _Plan:
    """The plan of ``model``, built on first use."""
    plan = _PLANS.get(model)
    if plan is not None:
        return plan
    fields = msgspec.structs.fields(model)
    children: dict[str, _Plan] = {}
    plan = _Plan(
        known=frozenset(f.encode_name for f in fields if f.encode_name != EXTRA_KEY),
        nullable=frozenset(f.encode_name for f in fields if f.default is None),
        aliases=tuple(model.wire_aliases.items()),
        children=children,
        dynamic=model.dynamic,
        arrays=any(_holds_tuple(f.type) for f in fields),
    )
    _PLANS[model] = plan  # before the children: a model may (indirectly) contain itself
    for f in fields:
        nested = _nested_model(f.type)
        if nested is not None:
            children[f.encode_name] = plan_of(nested)
    return plan


def _nested_model(tp: Any) -> type[Model] | None:
    """The Model a field holds (itself, in a tuple, or optional), or None."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _nested_model(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, tuple, list):
        for arg in typing.get_args(tp):
            found = _nested_model(arg)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, Model):
        return tp
    return None


def _holds_tuple(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return True
    if origin in (Annotated, Union, types.UnionType):
        return any(_holds_tuple(arg) for arg in typing.get_args(tp))
    return False


def prepare(data: dict[str, Any], model: type[Model]) -> dict[str, Any]:
    """Move the fields ``model`` does not name into ``extra``, at every level of ``data``.

    ``data`` is changed in place (it is freshly decoded JSON) and returned. Values of the wrong
    JSON type are left alone: converting them raises the validation error.
    """
    _attach(data, plan_of(model))
    return data


def _attach(data: dict[str, Any], plan: _Plan) -> None:
    for alias, own in plan.aliases:
        if alias in data and own not in data:
            data[own] = data.pop(alias)
    if not data.keys() <= plan.known:  # only then is there anything for extra
        data[EXTRA_KEY] = {k: v for k, v in data.items() if k not in plan.known}
    for name, child in plan.children.items():
        value = data.get(name)
        if isinstance(value, dict):
            _attach(value, child)
        elif isinstance(value, list):
            if child.children or child.aliases:
                for item in value:
                    if isinstance(item, dict):
                        _attach(item, child)
                continue
            known = child.known  # a leaf (a member list): the common case, kept tight
            for item in value:
                if isinstance(item, dict) and not item.keys() <= known:
                    item[EXTRA_KEY] = {k: v for k, v in item.items() if k not in known}


def _restore(data: dict[str, Any], plan: _Plan) -> None:
    extra = data.pop(EXTRA_KEY, None)
    for name in plan.nullable:
        if name in data and data[name] is None:
            del data[name]  # absent on the wire
    if plan.arrays or plan.children or plan.dynamic:
        _restore_values(data, plan)
    if extra:
        for key, value in extra.items():
            data.setdefault(key, value)


def _restore_values(data: dict[str, Any], plan: _Plan) -> None:
    for name, value in data.items():
        child = plan.children.get(name)
        resolve = plan.dynamic.get(name)
        if resolve is not None and isinstance(value, dict):
            _restore(value, plan_of(resolve(data)))
        elif child is not None and isinstance(value, dict):
            _restore(value, child)
        elif isinstance(value, list | tuple):
            items = list(value)  # JSON has arrays; the models hold tuples (immutability)
            if child is not None:
                for item in items:
                    if isinstance(item, dict):
                        _restore(item, child)
            data[name] = items


M = typing.TypeVar("M", bound=Model)


def convert(data: Any, model: type[M]) -> M:
    """``data`` (decoded JSON) as ``model``; msgspec.ValidationError if it is not one."""
    if isinstance(data, dict):
        prepare(data, model)
    return msgspec.convert(data, model, strict=False)
