"""The REST API is total on hostile input: any path under /v4/, query and body gets HTTP 200
and an envelope; a rejection has a nonzero ErrorCode and an ErrorInfo; nothing raises.

The ChatServer runs in-process behind httpx.ASGITransport, which re-raises any exception the
app lets out, so an uncaught error fails the test instead of hiding behind a 500.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fakes import AckTransport
from timhooks.protocol import COMMANDS, Platform, generate_usersig
from timhooks.server.app import ChatServer
from timhooks.server.bodies import Shapes
from timhooks.server.config import ServerConfig
from timhooks.server.registry import COMMANDS as REST_COMMANDS

APP = 1400000099
KEY = "fuzz-key"
ADMIN = "administrator"
EXAMPLES = 1000


KNOWN = sorted(REST_COMMANDS)
# Each command's body fields, by wire name (of each shape, where it has several).
OWN = {
    key: sorted(
        {
            field.encode_name
            for struct in (c.body.structs if isinstance(c.body, Shapes) else (c.body,))
            for field in msgspec.structs.fields(struct)
        }
    )
    for key, c in REST_COMMANDS.items()
}
FIELDS = sorted({name for names in OWN.values() for name in names})

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=15), inner, max_size=4)
    ),
    max_leaves=25,
)
names = st.sampled_from(["penn", "jared", ADMIN, "@TOA#_x", "grp1", ""]) | st.text(max_size=40)
# Values that reach deep: ids that may exist, lists of member objects, plausible enums.
field_values = (
    names
    | st.lists(names, max_size=4)
    | st.lists(st.fixed_dictionaries({"Member_Account": names}), max_size=3)
    | st.lists(st.fixed_dictionaries({"Subscriber_Account": names}), max_size=3)
    | st.lists(st.fixed_dictionaries({"Official_Account": names}), max_size=3)
    | st.lists(st.fixed_dictionaries({"MsgType": st.text(max_size=10)}), max_size=2)
    | st.sampled_from(["Public", "Private", "AVChatRoom", "FreeAccess", "proceed", "deny"])
    | st.integers(min_value=-(2**64), max_value=2**64)
    | json_values
)
segment = st.text(
    alphabet=st.characters(blacklist_characters="/?#", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=30,
)


def _valid() -> dict[str, str]:
    """The query of a well-formed admin call."""
    sig = generate_usersig(APP, KEY, ADMIN, now=int(time.time()))
    return {"sdkappid": str(APP), "identifier": ADMIN, "usersig": sig, "contenttype": "json"}


@st.composite
def rest_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str] | str, bytes]:
    """(method, path, query, body): mostly well-formed calls with hostile parts."""
    if draw(st.sampled_from([True] * 9 + [False])):
        service, command = draw(st.sampled_from(KNOWN))
    else:
        service, command = draw(segment), draw(segment)
    # Anything but POST answers 60002 (an envelope, like everything under /v4/).
    method = draw(st.sampled_from(["POST"] * 32 + ["GET", "PUT", "DELETE", "PATCH"]))
    who = draw(st.sampled_from([ADMIN] * 6 + ["penn", "jared"]) | names)
    kind = draw(st.sampled_from(["valid"] * 6 + ["bad sig", "other app", "raw", "missing"]))
    query: dict[str, str] | str
    if kind == "raw":
        query = draw(st.text(max_size=200))
    else:
        sig = generate_usersig(APP, KEY, who or "x", now=int(time.time()))
        query = {
            "sdkappid": str(APP),
            "identifier": who,
            "usersig": sig,
            "random": str(draw(st.integers(0, 2**32 - 1))),
            "contenttype": "json",
        }
        if kind == "bad sig":
            query["usersig"] = draw(st.text(max_size=200) | st.just(sig[:-3] + "abc"))
        elif kind == "other app":
            query["sdkappid"] = draw(st.text(max_size=22))
        elif kind == "missing":
            del query[draw(st.sampled_from(sorted(query)))]
        if service == "timhooks_client" or draw(st.booleans()):
            query["platform"] = draw(st.sampled_from([p.value for p in Platform]) | names)
    shape = draw(st.sampled_from(["fields"] * 5 + ["json", "bytes", "empty", "deep", "utf8"]))
    if shape == "fields":
        own = OWN.get((service, command)) or FIELDS
        chosen = draw(st.lists(st.sampled_from(own), max_size=len(own), unique=True))
        extra = draw(st.lists(st.sampled_from(FIELDS), max_size=2))
        body = json.dumps({name: draw(field_values) for name in [*chosen, *extra]}).encode()
    elif shape == "json":
        body = json.dumps(draw(json_values)).encode()
    elif shape == "bytes":
        body = draw(st.binary(max_size=300))
    elif shape == "deep":
        depth = draw(st.integers(1, 5000))
        body = b"[" * depth + b"]" * draw(st.sampled_from([depth, 0]))
    elif shape == "utf8":  # invalid UTF-8 inside a JSON string (an atheris find)
        body = b'{"UserID": "' + draw(st.sampled_from([b"\xad", b"\xff", b"\xc3("])) + b'"}'
    else:
        body = b""
    return method, f"/v4/{quote(service, safe='')}/{quote(command, safe='')}", query, body


def test_rest_api_answers_every_request_with_an_envelope(tmp_path: Path) -> None:
    """Arbitrary /v4/ paths, query strings and bodies never give a 500 or an uncaught
    exception: always HTTP 200 and an envelope, and a rejection names its reason."""
    seen: Counter[str] = Counter()

    with asyncio.Runner() as runner:
        server = ChatServer(
            ServerConfig(db=str(tmp_path / "chat.db"), app_id=APP, key=KEY, dispatch=False),
            transport=AckTransport(),
        )
        runner.run(server.start())
        transport = httpx.ASGITransport(app=server.asgi)
        http = httpx.AsyncClient(transport=transport, base_url="http://fuzz")

        async def setup() -> None:
            # Something to find: users, an Official Account and a group.
            sig = generate_usersig(APP, KEY, ADMIN, now=int(time.time()))
            params = {"sdkappid": str(APP), "identifier": ADMIN, "usersig": sig}
            for path, body in (
                ("im_open_login_svc/multiaccount_import", {"AccountList": ["penn", "jared"]}),
                (
                    "official_account_open_http_svc/create_official_account",
                    {"Owner_Account": "penn", "Name": "n", "OfficialAccountUserID": "@TOA#_x"},
                ),
                (
                    "group_open_http_svc/create_group",
                    {"Owner_Account": "penn", "Type": "Public", "Name": "g", "GroupId": "grp1"},
                ),
            ):
                r = await http.post(f"/v4/{path}", params=params, json=body)
                assert r.json()["ErrorCode"] == 0, r.text

        @given(request=rest_requests())
        # Always tried, whatever hypothesis generates: a call that succeeds (the run must reach
        # the commands' logic), and a path with an empty command segment once answered with
        # Starlette's plain 404 (httpx sends /v4/0/. as /v4/0/).
        @example(
            request=(
                "POST",
                "/v4/group_open_http_svc/get_group_info",
                _valid(),
                b'{"GroupIdList": ["grp1"]}',
            )
        )
        @example(request=("POST", "/v4/0/.", _valid(), b"{}"))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        def check(request: tuple[str, str, Any, bytes]) -> None:
            method, path, query, body = request
            r = runner.run(http.request(method, path, params=query, content=body))
            assert r.status_code == 200, (r.status_code, r.text)
            data = r.json()
            assert set(data) >= {"ActionStatus", "ErrorInfo", "ErrorCode", "RequestId"}, data
            code, info = data["ErrorCode"], data["ErrorInfo"]
            assert isinstance(code, int)
            assert isinstance(info, str)
            assert (data["ActionStatus"] == "OK") == (code == 0), data
            if code != 0:
                assert info, data
            seen["ok" if code == 0 else str(code)] += 1

        try:
            runner.run(setup())
            check()
        finally:
            runner.run(http.aclose())
            runner.run(server.stop())
    total = sum(seen.values())
    print(f"\nREST fuzz: {total} requests, answers by ErrorCode: {dict(seen.most_common())}")
    assert total >= EXAMPLES // 2
    assert seen["ok"] > 0, "no generated call went deep enough to succeed"
    assert len(seen) >= 8, seen
    assert len([c for c in COMMANDS if c]) > 0
