"""Receiver.handle never raises: any method, query and body gets an HTTP answer."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receiver_support import APP, query

from timhooks.protocol import COMMANDS, Decision
from timhooks.receiver import Receiver

STATUSES = {200, 400, 401, 403, 405, 413, 503}
SIGNED_APP, TOKEN = APP + 1, "tok"

commands = st.sampled_from([*sorted(COMMANDS), "C2C.CallbackAfterSendMsg"]) | st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def webhook_body(draw: st.DrawFn, command: str) -> bytes:
    """JSON for ``command``: its own fields, mostly with plausible values, sometimes not."""
    spec = COMMANDS.get(command)
    names = sorted(spec.wire_fields - {"CallbackCommand"}) if spec else ["GroupId", "X"]
    data: dict[str, Any] = {"CallbackCommand": command}
    for name in names:
        if draw(st.booleans()):
            data[name] = draw(st.text(max_size=8) | json_values)
        elif name.endswith(("_Account", "Id", "Name")):
            data[name] = "x"
    return json.dumps(data).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str | bytes | dict[str, str], bytes]:
    """Mostly well-formed webhooks (so handling goes deep), sometimes anything at all."""
    command = draw(commands)
    kind = draw(st.sampled_from(["plain", "plain", "signed", "text", "bytes", "mapping"]))
    q: str | bytes | dict[str, str]
    if kind == "plain":
        q = query(command, app=draw(st.sampled_from([APP, APP, SIGNED_APP, 7])))
    elif kind == "signed":
        skew = draw(st.sampled_from([0, 0, 120]))
        q = query(command, app=SIGNED_APP, token=TOKEN, when=int(time.time()) - skew)
    elif kind == "text":
        q = draw(st.text(max_size=120))
    elif kind == "bytes":
        q = draw(st.binary(max_size=120))
    else:
        q = draw(st.dictionaries(st.text(max_size=15), st.text(max_size=15), max_size=5))
    shape = draw(st.sampled_from(["webhook", "webhook", "other command", "json", "bytes"]))
    if shape == "webhook":
        payload = webhook_body(draw, command)
    elif shape == "other command":
        payload = webhook_body(draw, draw(commands))
    elif shape == "json":
        payload = json.dumps(draw(json_values)).encode()
    else:
        payload = draw(st.binary(max_size=500))
    return q, payload


def test_handle_never_raises(tmp_path: Path) -> None:
    """Any method, query and body gives a status in {200, 400, 401, 403, 405, 413, 503} and a
    JSON body; handle() itself never raises."""
    with asyncio.Runner() as runner:
        receiver = Receiver(
            {APP: None, SIGNED_APP: TOKEN},
            inbox=tmp_path / "inbox.db",
            max_body=400,
            before_deadline=0.5,
            poll_interval=0.05,
        )

        @receiver.on("*")
        def anything(event: Any) -> Decision | None:
            return None

        @given(
            method=st.sampled_from(["POST", "POST", "POST", "post", "GET"]) | st.text(max_size=8),
            request=requests(),
        )
        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        def check(method: str, request: tuple[Any, bytes]) -> None:
            response = runner.run(receiver.handle(method, *request))
            assert response.status in STATUSES
            answer = json.loads(response.body)
            assert answer["ActionStatus"] == ("OK" if response.status == 200 else "FAIL")

        try:
            check()
        finally:
            runner.run(receiver.stop())
