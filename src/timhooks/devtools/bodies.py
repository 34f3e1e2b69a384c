"""Webhook bodies built from a command's model: realistic defaults, a fresh EventTime, overrides.

``build_body`` starts from the model's own defaults (every field the model knows, required ones
filled in), lays the command's sample (``devtools.samples``) over them, sets ``EventTime`` to
now (milliseconds; seconds in each event of a ``Push.*`` batch, which carries none of its own,
"Other Push Callbacks", https://tencentcloud.com/document/product/1047/67552), applies
``--set`` assignments, and checks the result parses as the command's webhook.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from timhooks.devtools.samples import SAMPLES
from timhooks.protocol.commands import COMMANDS, CommandSpec, parse_event
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import ConfigError, MalformedRequest
from timhooks.protocol.events import Event

__all__ = [
    "Assignment",
    "apply_assignments",
    "build_body",
    "check_body",
    "known_command",
    "model_defaults",
]


def model_defaults(spec: CommandSpec) -> dict[str, Any]:
    """The body the model writes with nothing but its defaults (required strings blank)."""
    model: type[Event] = spec.model
    required: dict[str, Any] = {}
    for f in msgspec.structs.fields(model):
        if f.required and f.encode_name != "CallbackCommand":
            required[f.encode_name] = ""
    event = parse_event(encode_json({**required, "CallbackCommand": spec.name}), command=spec.name)
    body = event.to_wire()
    body["CallbackCommand"] = spec.name
    return body


def _stamp(body: dict[str, Any], spec: CommandSpec, now: float) -> None:
    """A fresh EventTime: milliseconds, or seconds in each event of a push batch."""
    items_field = spec.model.items_field
    if items_field is None:
        body.pop("EventTime", None)
        body["EventTime"] = int(now * 1000)  # last, as in every sample
        return
    for item in body.get(items_field) or ():
        if isinstance(item, dict):
            item["EventTime"] = int(now)


def build_body(spec: CommandSpec, *, now: float, sdk_app_id: int | None = None) -> dict[str, Any]:
    """A realistic body of ``spec``'s command at ``now`` (epoch seconds); a body that names its
    app (a moderation result's ``SdkAppId``) names ``sdk_app_id``."""
    body = model_defaults(spec)
    sample = json.loads(json.dumps(SAMPLES.get(spec.name, {})))  # a deep copy
    body.update(sample)
    if sdk_app_id is not None and "SdkAppId" in body:
        body["SdkAppId"] = sdk_app_id
    if not spec.model.body_has_command:
        body.pop("CallbackCommand", None)
    _stamp(body, spec, now)
    return body


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``--set PATH=VALUE``: a dotted path (numbers index arrays) and a JSON value."""

    path: tuple[str, ...]
    value: Any
    text: str

    @classmethod
    def parse(cls, text: str) -> Assignment:
        """Read ``Field=value``; the value is JSON when it parses as JSON, else a string."""
        name, sep, raw = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(
                f"--set {text!r}: write FIELD=VALUE, e.g. --set GroupId=@TGS#123 or"
                " --set 'MsgBody.0.MsgContent.Text=hi'"
            )
        path = tuple(part.strip() for part in name.split("."))
        if any(not part for part in path):
            raise ConfigError(f"--set {text!r}: the path {name!r} has an empty part")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw  # a bare word: a string (quote it to get "5" as a string)
        return cls(path, value, text)


def apply_assignments(body: dict[str, Any], assignments: Iterable[Assignment]) -> None:
    """Set each assignment's value in ``body``, creating objects along the path as needed."""
    for a in assignments:
        node: Any = body
        for depth, part in enumerate(a.path):
            last = depth == len(a.path) - 1
            where = ".".join(a.path[:depth]) or "the body"
            if isinstance(node, list):
                if not part.isdigit():
                    raise ConfigError(f"--set {a.text}: {where} is an array; index it by number")
                index = int(part)
                if index > len(node):
                    raise ConfigError(
                        f"--set {a.text}: {where} has {len(node)} item(s); use an index up to"
                        f" {len(node)} (that one appends)"
                    )
                if index == len(node):
                    node.append({})
                if last:
                    node[index] = a.value
                else:
                    node = _descend(node, index, a.path[depth + 1])
            elif isinstance(node, dict):
                if last:
                    node[part] = a.value
                else:
                    node = _descend(node, part, a.path[depth + 1])
            else:
                raise ConfigError(f"--set {a.text}: {where} is not an object or an array")


def _descend(node: Any, key: Any, following: str) -> Any:
    child = node[key] if isinstance(node, list) else node.get(key)
    if child is None:
        child = [] if following.isdigit() else {}
        node[key] = child
    return child


def check_body(spec: CommandSpec, body: Mapping[str, Any]) -> bytes:
    """The body as JSON bytes, after checking it parses as ``spec``'s webhook (ConfigError
    saying what is wrong otherwise)."""
    raw = encode_json(body)
    try:
        parse_event(raw, command=spec.name)
    except MalformedRequest as exc:
        raise ConfigError(f"the body is not a valid {spec.name} webhook: {exc}") from None
    return raw


def known_command(name: str) -> CommandSpec:
    """The spec of ``name``; ConfigError naming the closest known commands otherwise."""
    spec = COMMANDS.get(name)
    if spec is not None:
        return spec
    import difflib

    close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ConfigError(
        f"unknown CallbackCommand {name!r}{hint} (`timhooks trigger --list` lists them)"
    )
