"""Invalid UTF-8 inside a JSON string (found by atheris) is a clean rejection everywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timhooks.protocol import (
    COMMANDS,
    MalformedRequest,
    MalformedResponse,
    build_query,
    generate_usersig,
    parse_event,
)
from timhooks.receiver import Receiver
from timhooks.server.app import ChatServer
from timhooks.server.config import ServerConfig

APP = 1400000098
COMMAND = "Group.CallbackAfterGroupFull"
BEFORE = sorted(n for n, s in COMMANDS.items() if s.is_before)

# Bytes that are never valid UTF-8 at the place they are put.
bad_bytes = st.sampled_from([b"\xad", b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8"])


@st.composite
def json_with_bad_utf8(draw: st.DrawFn) -> bytes:
    """A webhook-like JSON object with invalid UTF-8 spliced into one of its strings."""
    body = {"CallbackCommand": COMMAND, "GroupId": draw(st.text(max_size=10)), "EventTime": 1}
    raw = json.dumps(body).encode()
    quotes = [i for i, b in enumerate(raw) if b == ord('"')]
    at = draw(st.sampled_from(quotes)) + 1
    return raw[:at] + draw(bad_bytes) + raw[at:]


@settings(max_examples=100, deadline=None)
@given(json_with_bad_utf8(), st.sampled_from(BEFORE))
def test_parsers_reject_invalid_utf8_with_their_own_errors(body: bytes, before: str) -> None:
    """parse_event and parse_response raise MalformedRequest / MalformedResponse, not
    UnicodeDecodeError, for JSON whose strings hold invalid UTF-8."""
    with pytest.raises(MalformedRequest, match="not valid JSON"):
        parse_event(body)
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        COMMANDS[before].parse_response(body.replace(COMMAND.encode(), b"ErrorCode"))


async def test_receiver_answers_400_to_invalid_utf8(tmp_path: Path) -> None:
    """The receiver answers 400 with a reason, and stores nothing."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
    try:
        query = build_query(
            sdk_app_id=APP, callback_command=COMMAND, client_ip="127.0.0.1", opt_platform="Web"
        )
        body = b'{"CallbackCommand": "' + COMMAND.encode() + b'", "GroupId": "\xad"}'
        answer = await receiver.handle("POST", query, body)
        assert answer.status == 400
        assert "UTF-8" in json.loads(answer.body)["ErrorInfo"]
        assert await receiver.inbox.list() == []
    finally:
        await receiver.stop()


async def test_rest_answers_60003_to_invalid_utf8(tmp_path: Path) -> None:
    """A REST body with invalid UTF-8 in a string is JSON error 60003, not a 500."""
    server = ChatServer(
        ServerConfig(db=str(tmp_path / "c.db"), app_id=APP, key="k", dispatch=False)
    )
    await server.start()
    try:
        sig = generate_usersig(APP, "k", "administrator", now=int(time.time()))
        params = {"sdkappid": str(APP), "identifier": "administrator", "usersig": sig}
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.post(
                "/v4/im_open_login_svc/account_import",
                params=params,
                content=b'{"UserID": "\xff"}',
            )
        assert r.status_code == 200
        assert r.json()["ErrorCode"] == 60003
        assert r.json()["ErrorInfo"]
    finally:
        await server.stop()
