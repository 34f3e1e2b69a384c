"""Requests the receiver refuses: a 4xx, a JSON body saying why, and nothing stored."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from receiver_support import APP, GROUP_FULL, MEMBER_EXIT, body, client, post, query, receiving

from timhooks.protocol import ConfigError, Decision
from timhooks.receiver import Receiver

TOKEN = "s3cret-token"


async def assert_refused(
    receiver: Receiver,
    response_status: int,
    response_json: dict[str, object],
    status: int,
    why: str,
) -> None:
    assert response_status == status
    assert response_json["ActionStatus"] == "FAIL"
    assert response_json["ErrorCode"] == status
    info = response_json["ErrorInfo"]
    assert isinstance(info, str)
    assert why in info, info
    assert await receiver.inbox.list() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_method_other_than_post_is_405(method: str, tmp_path: Path) -> None:
    """Tencent sends webhooks with POST only; anything else is 405."""
    async with receiving(tmp_path) as receiver:
        async with client(receiver) as http:
            r = await http.request(method, f"/?{query(GROUP_FULL)}", content=body(GROUP_FULL))
        await assert_refused(receiver, r.status_code, r.json(), 405, method)
        direct = await receiver.handle(method, query(GROUP_FULL), body(GROUP_FULL))
        assert direct.status == 405


async def test_unknown_sdkappid_is_403(tmp_path: Path) -> None:
    """A webhook for an SDKAppID the receiver was not configured with is 403."""
    async with receiving(tmp_path) as receiver:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, body(GROUP_FULL), app=APP + 1)
        await assert_refused(receiver, r.status_code, r.json(), 403, str(APP + 1))


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("unsigned", "no Sign"),
        ("wrong token", "does not match"),
        ("stale", "from now"),
        ("future", "from now"),
        ("garbled time", "Unix seconds"),
    ],
)
async def test_bad_sign_is_401_when_a_token_is_set(case: str, why: str, tmp_path: Path) -> None:
    """With a token configured, a missing, wrong, stale or garbled Sign is 401."""
    now = int(time.time())
    url = {
        "unsigned": query(GROUP_FULL),
        "wrong token": query(GROUP_FULL, token="not-the-token"),
        "stale": query(GROUP_FULL, token=TOKEN, when=now - 120),
        "future": query(GROUP_FULL, token=TOKEN, when=now + 120),
        "garbled time": query(GROUP_FULL, token=TOKEN).replace("RequestTime=", "RequestTime=x"),
    }[case]
    async with receiving(tmp_path, token=TOKEN) as receiver:
        async with client(receiver) as http:
            r = await http.post(f"/?{url}", content=body(GROUP_FULL))
        await assert_refused(receiver, r.status_code, r.json(), 401, why)


async def test_signed_request_is_accepted_when_a_token_is_set(tmp_path: Path) -> None:
    """A fresh, correctly signed request passes."""
    async with receiving(tmp_path, token=TOKEN) as receiver:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, body(GROUP_FULL), token=TOKEN)
        assert r.status_code == 200
        assert len(await receiver.inbox.list()) == 1


async def test_no_sign_needed_without_a_token(tmp_path: Path) -> None:
    """An app configured without a token accepts unsigned webhooks, and ignores a Sign."""
    async with receiving(tmp_path, token=None) as receiver:
        async with client(receiver) as http:
            unsigned = await post(http, GROUP_FULL, body(GROUP_FULL))
            signed = await post(http, MEMBER_EXIT, body(MEMBER_EXIT), token="anything")
        assert (unsigned.status_code, signed.status_code) == (200, 200)
        assert len(await receiver.inbox.list()) == 2


async def test_body_over_max_body_is_413(tmp_path: Path) -> None:
    """A body larger than max_body is 413, whether it reaches the app whole or via handle()."""
    big = body(GROUP_FULL, Padding="x" * 300)
    async with receiving(tmp_path, max_body=200) as receiver:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, big)
        await assert_refused(receiver, r.status_code, r.json(), 413, "200 bytes")
        direct = await receiver.handle("POST", query(GROUP_FULL), big)
        assert direct.status == 413
        assert await receiver.inbox.list() == []
        fits = body(GROUP_FULL)
        assert len(fits) <= 200
        assert (await receiver.handle("POST", query(GROUP_FULL), fits)).status == 200


async def test_declared_content_length_over_the_limit_is_413_unread(tmp_path: Path) -> None:
    """A Content-Length over max_body is refused on the header alone, before any body is read."""
    reads = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal reads
        reads += 1
        yield body(GROUP_FULL)

    async with receiving(tmp_path, max_body=1000) as receiver:
        async with client(receiver) as http:
            r = await http.post(
                f"/?{query(GROUP_FULL)}", content=chunks(), headers={"Content-Length": "5000"}
            )
        await assert_refused(receiver, r.status_code, r.json(), 413, "1000 bytes")
        assert reads == 0


async def test_streamed_chunked_body_over_the_limit_is_413(tmp_path: Path) -> None:
    """A chunked body with no Content-Length is cut off with 413 as soon as it passes max_body."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "g", "P": "'
        for _ in range(50):
            sent += 1
            yield b"x" * 100
        yield b'"}'

    async with receiving(tmp_path, max_body=1000) as receiver:
        async with client(receiver) as http:
            r = await http.post(f"/?{query(GROUP_FULL)}", content=chunks())
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        await assert_refused(receiver, r.status_code, r.json(), 413, "1000 bytes")
        assert sent < 15  # stopped reading just past the limit, not at the end of the stream


async def test_streamed_body_within_the_limit_is_accepted(tmp_path: Path) -> None:
    """A chunked body under max_body is reassembled and stored as sent."""
    payload = body(GROUP_FULL, Padding="y" * 200)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    async with receiving(tmp_path, max_body=1000) as receiver:
        async with client(receiver) as http:
            r = await http.post(f"/?{query(GROUP_FULL)}", content=chunks())
        assert r.status_code == 200
        [entry] = await receiver.inbox.list()
        assert entry.body == payload


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b'{"CallbackCommand": "Group.CallbackAfterGroupFull"', "not valid JSON"),
        (b"[]", "JSON object"),
        (b'[{"CallbackCommand": "Group.CallbackAfterGroupFull"}]', "JSON object"),
        (b"{}", "CallbackCommand"),
        (b'{"CallbackCommand": "Group.CallbackAfterGroupFull"}', "GroupId"),
        (body(MEMBER_EXIT), "differs"),
    ],
)
async def test_bad_body_is_400(payload: bytes, why: str, tmp_path: Path) -> None:
    """Invalid JSON, a JSON array, a missing field, or a body whose CallbackCommand differs
    from the query's is 400 with the reason in ErrorInfo."""
    async with receiving(tmp_path) as receiver:
        async with client(receiver) as http:
            r = await post(http, GROUP_FULL, payload)
        await assert_refused(receiver, r.status_code, r.json(), 400, why)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("/", "no SdkAppid"),
        (f"/?CallbackCommand={GROUP_FULL}", "no SdkAppid"),
        (f"/?SdkAppid=abc&CallbackCommand={GROUP_FULL}", "must be a number"),
        (f"/?SdkAppid={APP}", "no CallbackCommand"),
    ],
)
async def test_bad_query_is_400(url: str, why: str, tmp_path: Path) -> None:
    """A query without a numeric SdkAppid or without CallbackCommand is 400."""
    async with receiving(tmp_path) as receiver:
        async with client(receiver) as http:
            r = await http.post(url, content=body(GROUP_FULL))
        await assert_refused(receiver, r.status_code, r.json(), 400, why)


def test_receiver_configuration_errors(tmp_path: Path) -> None:
    """A receiver with no app, a token without an app, a non-positive limit, or a fallback not
    every before-command accepts is refused when built, not mid-request."""
    db = tmp_path / "never-opened.db"
    with pytest.raises(ConfigError, match="at least one app"):
        Receiver(inbox=db)
    with pytest.raises(ConfigError, match="app_id"):
        Receiver(token="t", inbox=db)
    with pytest.raises(ConfigError, match="positive"):
        Receiver(app_id=APP, inbox=db, max_body=0)
    with pytest.raises(ConfigError, match="positive"):
        Receiver(app_id=APP, inbox=db, before_deadline=0)
    for fallback in (
        Decision.discard(),
        Decision.reject(120001, "x"),
        Decision.refuse(["u"]),
        Decision.rewrite(cloud_custom_data="x"),
    ):
        with pytest.raises(ConfigError, match="fallback"):
            Receiver(app_id=APP, inbox=db, fallback=fallback)
    assert not db.exists()
