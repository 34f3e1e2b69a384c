"""The protocol core is total on untrusted input: a typed value or one of our own errors.

Hypothesis feeds arbitrary bytes, text and JSON; no KeyError, ValueError, UnicodeError or
binascii.Error may leak out (STYLE.md habit 1).
"""

from __future__ import annotations

import base64
import contextlib
import json
import zlib
from typing import Any

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
    verify_sign,
    verify_usersig,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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


@st.composite
def webhook_like(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(commands | st.text(max_size=30))
    spec = COMMANDS.get(name)
    fields = sorted(spec.wire_fields - {"CallbackCommand"}) if spec else ["EventTime", "X"]
    body: dict[str, Any] = {"CallbackCommand": name}
    for field in draw(st.lists(st.sampled_from(fields), max_size=len(fields), unique=True)):
        body[field] = draw(json_values)
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
    MalformedRequest; an Event always carries the body's CallbackCommand."""
    try:
        event = parse_event(json.dumps(value))
    except MalformedRequest:
        return
    assert isinstance(event, Event)
    assert event.callback_command == value["CallbackCommand"]


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
