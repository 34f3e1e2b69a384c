"""REST request bodies as msgspec structs: one declaration gives the check and the schema.

Each command declares its body as a ``Body`` struct, with Tencent's field names as the wire
names and the limits as ``msgspec.Meta`` constraints. From that one declaration:

- ``read_body`` checks a decoded JSON body and builds the struct. Every fault is a ``RestError``
  with the command's bad-parameter code (6017 on Official Account commands, 10004 on group
  commands, 70402 on account commands) and an ErrorInfo that names the field; the fields are
  checked in their declared order, so the first faulty one is named.
- ``timhooks.server.openapi`` describes it (``msgspec.json.schema_components``).

How the constraints read, where JSON Schema and Tencent differ: ``max_length`` of a string is
checked in UTF-8 bytes (Tencent's limits are bytes: "Name (≤150 bytes)" on the Official Account
pages), which the schema's ``maxLength`` (in characters) can only approximate. A JSON ``null`` is
an absent field, except for a boolean, where it is no answer. A field of type ``Any`` is taken as
it comes (``null`` included), for the command to read.

What a schema cannot say stays with the command: checks across fields, against the database, or
with another code (``timhooks.server.groups`` on a group's type and size, for example).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar, cast

import msgspec
from msgspec import inspect as mi

from timhooks.protocol.errors import RestError

__all__ = [
    "INT32",
    "Body",
    "Empty",
    "NonEmpty",
    "Shapes",
    "object_with",
    "one_of",
    "read_body",
]

B = TypeVar("B", bound="Body")

INT32 = 2**31 - 1  # the largest count or offset timhooks takes
_INT64 = 2**63

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
"""A string that must not be empty (IDs, names)."""


class Body(msgspec.Struct, frozen=True, kw_only=True):
    """A REST request body: its fields under Tencent's names, unknown fields ignored.

    ``wire_aliases`` maps a field's name to another spelling read when the field is absent (as
    ``timhooks.protocol.events.Model`` does for webhooks).
    """

    wire_aliases: ClassVar[Mapping[str, str]] = {}


class Empty(Body, frozen=True, kw_only=True):
    """A body with no fields (``{}``)."""


def object_with(key: str, **documented: Any) -> msgspec.Meta:
    """``Annotated[dict[str, Any], object_with(key)]``: an array item that is a JSON object with
    a string ``key``, kept as it came (a message element: ``object_with("MsgType")``);
    ``documented`` adds the other properties to the schema."""
    schema = {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "string"}, **documented},
    }
    return msgspec.Meta(extra_json_schema=schema, extra={"string_key": key})


def one_of(values: Sequence[str]) -> msgspec.Meta:
    """``Annotated[str, one_of(values)]``: a string that must be one of ``values``."""
    names = list(values)
    return msgspec.Meta(min_length=1, extra_json_schema={"enum": names}, extra={"one_of": names})


@dataclass(frozen=True, slots=True)
class Shapes:
    """A body Tencent documents in more than one shape: ``choose`` picks the struct that reads
    a given body (``delete_subscriber``: its sample and its field table disagree)."""

    structs: tuple[type[Body], ...]
    choose: Callable[[Mapping[str, Any]], type[Body]]


def read_body(shape: type[B] | Shapes, data: Mapping[str, Any], bad_param: int) -> B:
    """The body ``data`` read as ``shape``; a fault is RestError(``bad_param``) naming it."""
    struct = shape.choose(data) if isinstance(shape, Shapes) else shape
    given: dict[str, Any] = {}
    info = _struct_info(struct)
    for field in info.fields:
        name = field.encode_name
        key = name if name in data else struct.wire_aliases.get(name, name)
        value = data.get(key)
        kind, extra = _unwrap(field.type)
        absent = key not in data or (value is None and not isinstance(kind, _NULLABLE))
        if absent:
            if field.required:
                raise RestError(bad_param, f"{name} {extra.get('invalid', 'is required')}")
            continue
        fault = _fault(name, value, kind, extra)
        if fault is not None:
            raise RestError(bad_param, fault)
        given[name] = value
    try:
        # ``struct`` is ``shape`` or, for Shapes, the one that reads this body.
        return cast(B, msgspec.convert(given, struct))
    except msgspec.ValidationError as exc:  # a constraint the checks above do not know
        raise RestError(bad_param, str(exc)) from exc


# Types for which a JSON null is a value (Any takes it; a boolean refuses it), not an absence.
_NULLABLE = (mi.AnyType, mi.BoolType)

_INFO: dict[type[Body], mi.StructType] = {}


def _struct_info(struct: type[Body]) -> mi.StructType:
    info = _INFO.get(struct)
    if info is None:
        found = mi.type_info(struct)
        if not isinstance(found, mi.StructType):
            raise TypeError(f"{struct.__name__} is not a struct")
        info = _INFO[struct] = found
    return info


def _unwrap(kind: mi.Type) -> tuple[mi.Type, Mapping[str, Any]]:
    """A field's type without its metadata, and the metadata's ``extra``."""
    if isinstance(kind, mi.Metadata):
        return kind.type, kind.extra or {}
    return kind, {}


def _fault(name: str, value: Any, kind: mi.Type, extra: Mapping[str, Any]) -> str | None:
    """What is wrong with ``value``, a field of type ``kind``, or None."""
    invalid = extra.get("invalid")
    if isinstance(kind, mi.StrType):
        if not isinstance(value, str):
            return f"{name} {invalid or 'must be a string'}"
        if kind.max_length is not None and len(value.encode()) > kind.max_length:
            return f"{name} is longer than {kind.max_length} bytes"
        if kind.min_length and len(value) < kind.min_length:
            return f"{name} {invalid or 'must not be empty'}"
        if "one_of" in extra and value not in extra["one_of"]:
            return f"{name} must be one of {', '.join(extra['one_of'])}, got {value!r}"
        return None
    if isinstance(kind, mi.IntType):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be an integer"
        if not -_INT64 <= value < _INT64:
            return f"{name} is out of the 64-bit integer range"
        low, high = kind.ge, kind.le
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            return f"{name} must be in {bounds}, got {value}"
        return None
    if isinstance(kind, mi.BoolType):
        return None if isinstance(value, bool) else f"{name} must be true or false"
    if isinstance(kind, mi.ListType):
        return _list_fault(name, value, kind)
    return None  # Any: the command reads it


def _list_fault(name: str, value: Any, kind: mi.ListType) -> str | None:
    if not isinstance(value, list):
        return f"{name} must be an array"
    if kind.min_length and len(value) < kind.min_length:
        return f"{name} must not be empty"
    if kind.max_length is not None and len(value) > kind.max_length:
        return f"{name} holds at most {kind.max_length} items, got {len(value)}"
    item, extra = _unwrap(kind.item_type)
    if isinstance(item, mi.StrType):
        # UserIDs, MsgKeys, GroupIds: ["a", "b"]
        if item.min_length and not all(isinstance(v, str) and v for v in value):
            return f"{name} must be an array of non-empty strings"
        if not all(isinstance(v, str) for v in value):
            return f"{name} must be an array of strings"
    elif isinstance(item, mi.StructType):
        # Member and subscriber lists, objects of non-empty strings: [{"Member_Account": "a"}]
        keys = [f.encode_name for f in item.fields if f.required]
        for i, obj in enumerate(value):
            for key in keys:
                got = obj.get(key) if isinstance(obj, dict) else None
                if not isinstance(got, str) or not got:
                    return f"{name}[{i}].{key} must be a non-empty string"
    elif "string_key" in extra:
        key = extra["string_key"]
        for i, obj in enumerate(value):
            if not isinstance(obj, dict) or not isinstance(obj.get(key), str):
                return f"{name}[{i}] must be an object with a {key} string"
    return None
