"""The protocol core is total on untrusted input: a typed value or one of our own errors.

Hypothesis feeds arbitrary bytes, text and JSON; no KeyError, ValueError, UnicodeError or
binascii.Error may leak out (STYLE.md habit 1).
"""

from __future__ import annotations

import base64
import contextlib
import json
import typing
import zlib
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timhooks.protocol import (
    COMMANDS,
    Decision,
    Event,
    MalformedRequest,
    MalformedResponse,
    UserSigError,
    VerificationError,
    WebhookQuery,
    decode_usersig,
    parse_event,
    parse_query,
    summarize,
    verify_sign,
    verify_usersig,
)
from timhooks.protocol import events as ev

# Derandomized: the same examples on every run, so a failure is never a matter of chance.
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)

# Bodies that look like webhooks: a real command, its own field names, arbitrary values.
commands = st.sampled_from(sorted(COMMANDS))


def nested_model(tp: Any) -> type[ev.Model] | None:
    """The model a field holds (itself, in a tuple, or optional), or None."""
    if isinstance(tp, type) and issubclass(tp, ev.Model):
        return tp
    for arg in typing.get_args(tp):
        found = nested_model(arg)
        if found is not None:
            return found
    return None


def is_array(tp: Any) -> bool:
    """True if the field holds a tuple (a JSON array), possibly optional."""
    if typing.get_origin(tp) is tuple:
        return True
    return any(typing.get_origin(arg) is tuple for arg in typing.get_args(tp))


MSG_TYPES = [
    "TIMTextElem",
    "TIMLocationElem",
    "TIMFaceElem",
    "TIMCustomElem",
    "TIMSoundElem",
    "TIMImageElem",
    "TIMFileElem",
    "TIMVideoFileElem",
    "TIMRelayElem",
    "TIMNewElem",
]
CONTENT = {
    "TIMTextElem": ev.TextContent,
    "TIMLocationElem": ev.LocationContent,
    "TIMFaceElem": ev.FaceContent,
    "TIMCustomElem": ev.CustomContent,
    "TIMSoundElem": ev.SoundContent,
    "TIMImageElem": ev.ImageContent,
    "TIMFileElem": ev.FileContent,
    "TIMVideoFileElem": ev.VideoFileContent,
    "TIMRelayElem": ev.RelayContent,
}
scalars = st.none() | st.booleans() | st.integers(-5, 2**40) | st.text(max_size=8)


def model_like(draw: st.DrawFn, model: type[ev.Model], depth: int = 0) -> dict[str, Any]:
    """An object with some of ``model``'s wire fields: nested objects shaped like their models,
    values mostly of the right kind, sometimes anything at all."""
    if model is ev.MsgElement:
        msg_type = draw(st.sampled_from(MSG_TYPES))
        content = CONTENT.get(msg_type, ev.OtherContent)
        return {"MsgType": msg_type, "MsgContent": model_like(draw, content, depth + 1)}
    fields = [f for f in msgspec.structs.fields(model) if f.encode_name != ev.EXTRA_KEY]
    data: dict[str, Any] = {}
    indices = st.integers(0, max(len(fields) - 1, 0))
    chosen = draw(st.lists(indices, max_size=len(fields), unique=True)) if fields else []
    for field in (fields[i] for i in chosen):
        nested = nested_model(field.type)
        if nested is not None and depth < 3 and draw(st.integers(0, 4)):
            items = [model_like(draw, nested, depth + 1) for _ in range(draw(st.integers(0, 2)))]
            one = model_like(draw, nested, depth + 1)
            data[field.encode_name] = items if is_array(field.type) else one
        else:
            data[field.encode_name] = draw(scalars if draw(st.booleans()) else json_values)
    if draw(st.integers(0, 5)) == 0:
        data["Unknown"] = draw(json_values)
    return data


@st.composite
def webhook_like(draw: st.DrawFn) -> dict[str, Any]:
    """A body shaped like a real command's (nested structures included), or an unknown one."""
    name = draw(commands | st.text(max_size=30))
    spec = COMMANDS.get(name)
    body: dict[str, Any] = model_like(draw, spec.model) if spec else {"X": draw(json_values)}
    body["CallbackCommand"] = name
    return body


@FAST
@given(st.binary(max_size=300))
def test_parse_event_on_arbitrary_bytes(body: bytes) -> None:
    """Any bytes parse to an Event or raise MalformedRequest."""
    with contextlib.suppress(MalformedRequest):
        assert isinstance(parse_event(body), Event)


@FAST
@given(json_values | webhook_like())
def test_parse_event_on_arbitrary_json(value: Any) -> None:
    """Any JSON value, including webhook-shaped objects with wrong types, gives an Event or
    MalformedRequest; an Event always carries the body's (or its batch's) CallbackCommand."""
    try:
        event = parse_event(json.dumps(value))
    except MalformedRequest:
        return
    assert isinstance(event, Event)
    if "CallbackCommand" in value:
        assert event.callback_command == value["CallbackCommand"]
    else:
        assert event.callback_command == value["Events"][0]["CallbackCommand"]


@settings(FAST, max_examples=400)
@given(webhook_like(), st.booleans())
def test_parsed_events_round_trip_and_summarize(value: dict[str, Any], with_query: bool) -> None:
    """An event parsed from a webhook-shaped body writes back (to_wire) to JSON that parses to
    the same event, and summarizes without raising."""
    command = value["CallbackCommand"]
    spec = COMMANDS.get(command)
    if spec is not None and not spec.model.body_has_command and with_query:
        del value["CallbackCommand"]  # as Tencent sends these: the query names the command
    try:
        event = parse_event(json.dumps(value), command=command)
    except MalformedRequest:
        return
    wire = event.to_wire()
    assert parse_event(json.dumps(wire), command=command) == event
    assert isinstance(event.summary(), str)
    assert isinstance(summarize(value), str)


@FAST
@given(json_values | webhook_like())
def test_summarize_on_arbitrary_json(value: Any) -> None:
    """A one-line summary of any JSON value is a string without a line break."""
    line = summarize(value)
    assert isinstance(line, str)
    assert "\n" not in line


@FAST
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_parse_query_on_arbitrary_text(text: str) -> None:
    """Any query string parses to a WebhookQuery or raises MalformedRequest."""
    for query in (text, text.encode("utf-8", "surrogatepass")):
        with contextlib.suppress(MalformedRequest):
            assert isinstance(parse_query(query), WebhookQuery)


@FAST
@given(st.dictionaries(st.text(max_size=15), st.text(max_size=15), max_size=6))
def test_parse_query_on_arbitrary_mappings(params: dict[str, str]) -> None:
    """A framework's parameter mapping parses or raises MalformedRequest."""
    with contextlib.suppress(MalformedRequest):
        assert isinstance(parse_query(params), WebhookQuery)


usersig_docs = st.fixed_dictionaries(
    {},
    optional={
        "TLS.ver": json_values,
        "TLS.identifier": st.text(max_size=8) | json_values,
        "TLS.sdkappid": st.integers() | json_values,
        "TLS.time": st.integers() | json_values,
        "TLS.expire": st.integers() | json_values,
        "TLS.sig": st.text(max_size=50) | json_values,
        "TLS.userbuf": st.text(max_size=10) | json_values,
    },
)


def _pack(doc: Any) -> str:
    raw = zlib.compress(json.dumps(doc).encode())
    return base64.b64encode(raw).decode().translate(str.maketrans("+/=", "*-_"))


@FAST
@given(st.text(max_size=200) | usersig_docs.map(_pack) | json_values.map(_pack))
def test_usersig_checks_on_arbitrary_text(text: str) -> None:
    """decode_usersig and verify_usersig raise only UserSigError subclasses on any input."""
    with contextlib.suppress(UserSigError):
        decode_usersig(text)
    with contextlib.suppress(UserSigError):
        verify_usersig(text, sdk_app_id=1, key="k", identifier="", now=0)


@FAST
@given(
    st.text(max_size=20),
    st.none() | st.text(max_size=80),
    st.none() | st.text(max_size=20),
    st.integers(min_value=-(2**40), max_value=2**40),
)
def test_verify_sign_on_arbitrary_strings(
    token: str, sign: str | None, request_time: str | None, now: int
) -> None:
    """verify_sign returns RequestTime or raises a VerificationError, whatever it is given."""
    with contextlib.suppress(VerificationError):
        assert verify_sign(token, sign, request_time, now=now) == int(request_time or "x")


before_specs = st.sampled_from(sorted(n for n, s in COMMANDS.items() if s.is_before))
numberish = st.text(alphabet="-+ 0123456789\u00b2\u0663.e", max_size=8)
answer_like = st.fixed_dictionaries(
    {},
    optional={
        name: numberish | json_values
        for name in (
            "ActionStatus",
            "ErrorCode",
            "ErrorInfo",
            "RefusedMembers_Account",
            "RefusedSubscribers_Account",
            "MsgBody",
            "CloudCustomData",
            "ResultItem",
            "RspData",
        )
    },
)
answers = st.binary(max_size=200) | (json_values | answer_like).map(
    lambda v: json.dumps(v).encode()
)


@FAST
@given(before_specs, answers)
def test_parse_response_on_arbitrary_answers(name: str, body: bytes) -> None:
    """An app backend's answer parses to a Decision or raises MalformedResponse."""
    with contextlib.suppress(MalformedResponse):
        assert isinstance(COMMANDS[name].parse_response(body), Decision)
