"""Hostile input on both sides: forged or replayed webhooks, slow bodies, forged UserSigs,
one app reaching for another's data, private webhook targets, secrets in logs and output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from loopback import loopback_socket, timhooks
from timhooks.delivery.sender import Attempt, WebhookSender, WebhookTarget
from timhooks.protocol import (
    SignatureMismatch,
    build_query,
    compute_sign,
    generate_usersig,
    verify_sign,
)
from timhooks.protocol import signing as signing_module
from timhooks.receiver import Receiver
from timhooks.server.app import ChatServer
from timhooks.server.config import CallbackConfig, ServerConfig
from timhooks.server.store import App

APP, KEY = 1400000111, "app-one-secret-key-0123456789"
OTHER, OTHER_KEY = 1400000222, "app-two-secret-key-9876543210"
TOKEN = "webhook-token-s3cret"
ADMIN = "administrator"
COMMAND = "Group.CallbackAfterGroupFull"
ACK = json.dumps({"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}).encode()


# --- Sign and RequestTime ---------------------------------------------------------------------


def test_equal_length_wrong_signatures_are_rejected_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Sign that differs in any one hex digit (same length) is refused, and the check goes
    through hmac.compare_digest (constant time); no timing is measured."""
    now = 1669872112
    good = compute_sign("xxxxyyyy", now)
    calls: list[tuple[bytes, bytes]] = []
    real = signing_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing_module.hmac, "compare_digest", spy)
    assert verify_sign("xxxxyyyy", good, str(now), now=now) == now
    for i in range(len(good)):
        wrong = good[:i] + ("0" if good[i] != "0" else "1") + good[i + 1 :]
        with pytest.raises(SignatureMismatch):
            verify_sign("xxxxyyyy", wrong, str(now), now=now)
    assert len(calls) == 1 + len(good)
    assert all(len(a) == len(b) == 64 for a, b in calls)


def signed_query(token: str, when: int) -> str:
    return build_query(
        sdk_app_id=APP,
        callback_command=COMMAND,
        client_ip="127.0.0.1",
        opt_platform="Web",
        request_time=when,
        sign=compute_sign(token, when),
    )


async def test_request_time_outside_the_window_is_rejected(tmp_path: Path) -> None:
    """A correctly signed webhook whose RequestTime is more than 60 s off is answered 401 and
    not stored; inside the window it is accepted."""
    receiver = Receiver(app_id=APP, token=TOKEN, inbox=tmp_path / "inbox.db")
    body = json.dumps({"CallbackCommand": COMMAND, "GroupId": "@TGS#w"}).encode()
    try:
        now = int(time.time())
        for skew in (-61, 61, -3600):
            answer = await receiver.handle("POST", signed_query(TOKEN, now + skew), body)
            assert answer.status == 401, skew
            assert "RequestTime" in json.loads(answer.body)["ErrorInfo"]
        assert await receiver.inbox.list() == []
        assert (await receiver.handle("POST", signed_query(TOKEN, now - 50), body)).status == 200
    finally:
        await receiver.stop()


async def test_replayed_webhook_within_the_window_is_stored_and_handled_once(
    tmp_path: Path,
) -> None:
    """The same signed webhook replayed inside the window gets 200 each time but is stored once
    and its handler runs once."""
    seen: list[str] = []
    receiver = Receiver(app_id=APP, token=TOKEN, inbox=tmp_path / "inbox.db", poll_interval=0.05)

    @receiver.on(COMMAND)
    async def handle(event: Any) -> None:
        seen.append(event.group_id)

    body = json.dumps({"CallbackCommand": COMMAND, "GroupId": "@TGS#r", "EventTime": 1}).encode()
    query = signed_query(TOKEN, int(time.time()))
    try:
        for _ in range(5):
            assert (await receiver.handle("POST", query, body)).status == 200
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert seen == ["@TGS#r"]
        assert len(await receiver.inbox.list()) == 1
    finally:
        await receiver.stop()


# --- body limits and deadlines over real sockets -----------------------------------------------


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[int]:
    """Serve an ASGI app on 127.0.0.1 (lifespan off) in this loop; yield its port."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    server = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


async def dribble(port: int, target: str, declared: int, *, every: float = 0.2) -> bytes:
    """Send headers promising ``declared`` bytes, then one byte per ``every`` s; return the
    response that arrives (the server must answer before the body is complete)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
        )
        await writer.drain()

        async def trickle() -> None:
            with contextlib.suppress(OSError):
                for _ in range(declared - 1):
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(every)

        sender = asyncio.create_task(trickle())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            return head + await asyncio.wait_for(reader.readexactly(length), 10)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_receiver_answers_408_to_a_body_that_dribbles_in(tmp_path: Path) -> None:
    """A client that sends headers and then a byte now and then gets 408 once the body
    deadline passes; the receiver is not held for ever."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
    receiver.asgi.body_deadline = 0.5
    try:
        async with served(receiver.asgi) as port:
            started = time.monotonic()
            query = build_query(
                sdk_app_id=APP, callback_command=COMMAND, client_ip="1.2.3.4", opt_platform="Web"
            )
            answer = await dribble(port, f"/?{query}", 100)
            took = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"did not arrive within 0.5 s" in answer
        assert took < 3, took
    finally:
        await receiver.stop()


@contextlib.asynccontextmanager
async def chat_server(tmp_path: Path, **config: Any) -> AsyncIterator[ChatServer]:
    server = ChatServer(
        ServerConfig(db=str(tmp_path / "chat.db"), app_id=APP, key=KEY, dispatch=False, **config)
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def params(user: str = ADMIN, app: int = APP, key: str = KEY) -> dict[str, str]:
    sig = generate_usersig(app, key, user, now=int(time.time()))
    return {"sdkappid": str(app), "identifier": user, "usersig": sig, "random": "7"}


async def test_rest_answers_60002_to_a_body_that_dribbles_in(tmp_path: Path) -> None:
    """A REST call whose body does not arrive in time is an envelope with 60002."""
    async with chat_server(tmp_path) as server:
        server.rest.body_deadline = 0.5
        async with served(server.asgi) as port:
            query = httpx.QueryParams(params()).__str__()
            answer = await dribble(port, f"/v4/im_open_login_svc/account_import?{query}", 100)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        envelope = json.loads(body)
        assert envelope["ErrorCode"] == 60002
        assert "did not arrive within 0.5 s" in envelope["ErrorInfo"]


async def test_body_size_limits_on_both_sides(tmp_path: Path) -> None:
    """A body over the limit is refused before it is read: 413 from the receiver, 60002 from
    the REST API."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", max_body=1000)
    try:
        transport = httpx.ASGITransport(app=receiver.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
            r = await http.post("/?SdkAppid=1&CallbackCommand=x", content=b"x" * 1001)
        assert r.status_code == 413
    finally:
        await receiver.stop()
    async with chat_server(tmp_path) as server:
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:
            big = b'{"UserID": "' + b"x" * (1024 * 1024) + b'"}'
            r = await http.post(
                "/v4/im_open_login_svc/account_import", params=params(), content=big
            )
        assert r.json()["ErrorCode"] == 60002
        assert "larger than" in r.json()["ErrorInfo"]


async def asgi_post(app: Any, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """POST ``{}`` to an ASGI app with exactly ``headers`` (what no HTTP client would send);
    the answer's status and body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 4000),
        "server": ("127.0.0.1", 80),
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def test_a_content_length_that_is_no_number_is_refused_on_both_sides(
    tmp_path: Path,
) -> None:
    """Content-Length: ten is a 400 from the receiver and a 60002 from the REST API, each
    saying what is wrong, under ASGI servers that pass such a header on."""
    bad = [(b"content-length", b"ten")]
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db")
    try:
        query = build_query(
            sdk_app_id=APP, callback_command=COMMAND, client_ip="1.2.3.4", opt_platform="Web"
        )
        status, answer = await asgi_post(receiver.asgi, "/", query, bad)
        assert (status, answer["ErrorInfo"]) == (400, "Content-Length is not a number")
    finally:
        await receiver.stop()
    async with chat_server(tmp_path) as server:
        query = str(httpx.QueryParams(params()))
        status, envelope = await asgi_post(
            server.asgi, "/v4/im_open_login_svc/account_import", query, bad
        )
    assert (status, envelope["ErrorCode"]) == (200, 60002)
    assert envelope["ErrorInfo"] == "Content-Length is not a number"


# --- UserSig on every command, admin-only commands, app isolation ------------------------------


async def test_every_command_verifies_the_usersig(tmp_path: Path) -> None:
    """Every REST path refuses a missing, forged, other-user or other-app UserSig with its
    70xxx code, and every admin-only command refuses a user's valid UserSig with 60010."""
    async with chat_server(tmp_path) as server:
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:

            async def code(path: str, query: dict[str, str]) -> int:
                r = await http.post(path, params=query, content=b"{}")
                data = r.json()
                assert data["ErrorInfo"], data
                result: int = data["ErrorCode"]
                return result

            for (service, name), command in server.rest.commands.items():
                path = f"/v4/{service}/{name}"
                user = ADMIN if command.admin else "penn"
                good = params(user)
                assert await code(path, {**good, "usersig": ""}) == 70003, path
                assert await code(path, {**good, "usersig": good["usersig"][:-8]}) == 70003
                forged = generate_usersig(APP, "not-the-key", user, now=int(time.time()))
                assert await code(path, {**good, "usersig": forged}) == 70009, path
                assert await code(path, {**good, "usersig": params("mallory")["usersig"]}) == 70013
                assert (
                    await code(
                        path, params(user, app=OTHER, key=OTHER_KEY) | {"sdkappid": str(APP)}
                    )
                    == 70014
                )
                if command.admin:
                    assert await code(path, params("penn")) == 60010, path


async def test_one_app_never_reads_or_changes_another_apps_data(tmp_path: Path) -> None:
    """Two apps in one database: the second app's admin cannot see, change or destroy the
    first app's groups, Official Accounts, members or webhook settings."""
    async with chat_server(tmp_path) as server:
        await server.store.put_app(
            App(sdk_app_id=OTHER, key=OTHER_KEY, admins=(ADMIN,), callback=CallbackConfig()),
            now=time.time(),
        )
        await server.apps.load()
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:

            async def call(app: int, key: str, path: str, body: dict[str, Any]) -> Any:
                r = await http.post(f"/v4/{path}", params=params(app=app, key=key), json=body)
                return r.json()

            one = (APP, KEY)
            two = (OTHER, OTHER_KEY)
            ok = await call(
                *one, "im_open_login_svc/multiaccount_import", {"AccountList": ["a", "b"]}
            )
            assert ok["ErrorCode"] == 0
            group = await call(
                *one,
                "group_open_http_svc/create_group",
                {"Owner_Account": "a", "Type": "Public", "Name": "mine", "GroupId": "shared-id"},
            )
            assert group["ErrorCode"] == 0, group
            oa = await call(
                *one,
                "official_account_open_http_svc/create_official_account",
                {"Owner_Account": "a", "Name": "n", "OfficialAccountUserID": "@TOA#_shared"},
            )
            assert oa["ErrorCode"] == 0, oa
            set_cb = await call(
                *one,
                "timhooks_config/set_callback",
                {"Url": "http://127.0.0.1:9/hook", "Token": TOKEN},
            )
            assert set_cb["ErrorCode"] == 0

            info = await call(
                *two, "group_open_http_svc/get_group_info", {"GroupIdList": ["shared-id"]}
            )
            assert info["ErrorCode"] != 0 or all(g.get("ErrorCode") for g in info["GroupInfo"]), (
                info
            )
            assert "mine" not in json.dumps(info)
            for path, body in (
                ("group_open_http_svc/get_group_member_info", {"GroupId": "shared-id"}),
                (
                    "group_open_http_svc/add_group_member",
                    {"GroupId": "shared-id", "MemberList": [{"Member_Account": "b"}]},
                ),
                (
                    "group_open_http_svc/delete_group_member",
                    {"GroupId": "shared-id", "MemberToDel_Account": ["a"]},
                ),
                ("group_open_http_svc/destroy_group", {"GroupId": "shared-id"}),
                (
                    "official_account_open_http_svc/destroy_official_account",
                    {"Official_Account": "@TOA#_shared"},
                ),
                (
                    "official_account_open_http_svc/get_subscriber_info",
                    {"Official_Account": "@TOA#_shared"},
                ),
            ):
                answer = await call(*two, path, body)
                assert answer["ErrorCode"] != 0, (path, answer)
            oa_info = await call(
                *two,
                "official_account_open_http_svc/get_official_account_info",
                {"OfficialAccountIdList": [{"Official_Account": "@TOA#_shared"}]},
            )
            assert '"n"' not in json.dumps(oa_info)
            assert 'Owner_Account": "a' not in json.dumps(oa_info)
            other_cb = await call(*two, "timhooks_config/get_callback", {})
            assert other_cb["Callback"]["Url"] == ""
            # The same ids are free in the second app, and the first app's data is untouched.
            mine = await call(
                *two,
                "group_open_http_svc/create_group",
                {"Type": "Public", "Name": "theirs", "GroupId": "shared-id"},
            )
            assert mine["ErrorCode"] == 0, mine
            still = await call(
                *one, "group_open_http_svc/get_group_info", {"GroupIdList": ["shared-id"]}
            )
            assert still["GroupInfo"][0]["Name"] == "mine"
            members = await call(
                *one, "group_open_http_svc/get_group_member_info", {"GroupId": "shared-id"}
            )
            assert [m["Member_Account"] for m in members["MemberList"]] == ["a"]


# --- private webhook targets --------------------------------------------------------------------


@contextlib.asynccontextmanager
async def receiving(status: int = 200, answer: bytes = ACK) -> AsyncIterator[tuple[int, list[str]]]:
    """A webhook receiver on 127.0.0.1 answering ``status`` and ``answer`` to every POST;
    yields its port and the query strings of the webhooks it received."""
    hits: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        hits.append(scope["query_string"].decode())
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async with served(app) as port:
        yield port, hits


async def post_webhook(sender: WebhookSender, url: str) -> Attempt:
    """One webhook of COMMAND to ``url`` through ``sender``."""
    target = WebhookTarget(APP, url, None)
    return await sender.post(target, COMMAND, b"{}", client_ip="", platform="Web", time_limit=5)


async def test_sender_refuses_names_that_resolve_to_loopback() -> None:
    """With refuse_private, a webhook to a host that resolves to this machine is not sent (the
    receiver listening there sees nothing) and the attempt says why; off by default."""
    async with receiving() as (port, hits):
        guarded = WebhookSender(refuse_private=True)
        default = WebhookSender()
        try:
            for host in ("localhost", "127.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::1]", "0"):
                attempt = await post_webhook(guarded, f"http://{host}:{port}/hook")
                assert not attempt.ok
                assert attempt.error is not None
                assert "non-public address" in attempt.error, (host, attempt.error)
            assert hits == []
            local = await post_webhook(default, f"http://127.0.0.1:{port}/hook")
            assert local.ok, local.error
            assert len(hits) == 1
        finally:
            await guarded.aclose()
            await default.aclose()


class RecordingTransport:
    """The sender's transport seam recording what it is asked to send; it sends nothing."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        """Record the URL and the address to connect to; answer 200 and ACK."""
        self.sent.append((url, connect_to))
        return 200, ACK

    async def aclose(self) -> None:
        """Nothing to close."""


NON_GLOBAL_HOSTS = [
    "100.64.0.1",  # carrier-grade NAT
    "100.100.100.200",  # carrier-grade NAT (a cloud metadata service)
    "10.0.0.1",
    "169.254.169.254",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "[::ffff:100.64.0.1]",
    "[::ffff:a9fe:a9fe]",
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[64:ff9b:1::808:808]",  # local-use NAT64
    "[2002:6440:1::1]",  # 6to4 of 100.64.0.1
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
    "[fd00::1]",
    "[fe80::1]",
    "[2001:db8::1]",
    "[ff0e::1]",
]


async def test_sender_refuses_every_non_global_address() -> None:
    """With refuse_private, a webhook URL whose address is not globally routable (carrier-grade
    NAT, private, link-local, and the IPv6 forms that carry such an IPv4 address) is refused at
    delivery time; a public address goes out, pinned to the address checked. A fake transport
    stands in for the network: nothing leaves the process."""
    transport = RecordingTransport()
    sender = WebhookSender(transport=transport, refuse_private=True)
    for host in NON_GLOBAL_HOSTS:
        attempt = await post_webhook(sender, f"http://{host}/hook")
        assert attempt.error is not None, host
        assert "non-public address" in attempt.error, (host, attempt.error)
    assert transport.sent == []
    for host, address in (
        ("93.184.216.34", "93.184.216.34"),
        ("[::ffff:93.184.216.34]", "::ffff:93.184.216.34"),
        ("[64:ff9b::5db8:d822]", "64:ff9b::5db8:d822"),
    ):
        assert (await post_webhook(sender, f"http://{host}/hook")).ok, host
        assert transport.sent[-1][1] == address
    await sender.aclose()


def test_serve_refuse_private_targets_flag(tmp_path: Path) -> None:
    """`timhooks serve --refuse-private-targets` refuses a loopback webhook URL at start-up
    with a clear error."""
    result = timhooks(
        "serve",
        "--port",
        "0",  # any free port: the default may be taken on a shared machine
        "--db",
        str(tmp_path / "c.db"),
        "--refuse-private-targets",
        "--callback-url",
        "http://127.0.0.1:8080/im",
    )
    assert result.returncode == 2, result
    assert "not public" in result.stderr, result.stderr


# --- secrets stay out of logs and output ----------------------------------------------------


async def test_secrets_never_reach_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keys, the webhook token, UserSigs and Signs appear in no log record, even when
    webhooks fail and calls are refused."""
    caplog.set_level(logging.DEBUG)
    async with receiving(500, b"down") as (port, _):
        sigs = await _fail_webhooks_and_calls(tmp_path, f"http://127.0.0.1:{port}/hook")
    # The test's own httpx client logs the URLs it calls, UserSigs included: what is checked is
    # every record of timhooks and the libraries it runs on.
    text = "\n".join(
        caplog.handler.format(record)
        for record in caplog.records
        if not record.name.startswith(("httpx", "httpcore"))
    )
    assert "failed" in text  # the webhook failures were logged
    now = int(time.time())
    signs = {compute_sign(TOKEN, t) for t in range(now - 30, now + 2)}
    for secret in (KEY, TOKEN, *sigs, *signs):
        assert secret not in text


async def _fail_webhooks_and_calls(tmp_path: Path, url: str) -> list[str]:
    """Run a server whose webhooks to ``url`` fail and make REST calls, one refused; return
    the UserSigs used."""
    server = ChatServer(
        ServerConfig(
            db=str(tmp_path / "chat.db"),
            app_id=APP,
            key=KEY,
            callback=CallbackConfig(url=url, token=TOKEN),
        )
    )
    await server.start()
    sigs: list[str] = []
    try:
        transport = httpx.ASGITransport(app=server.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:
            for body in ({"Type": "Public", "Name": "g"}, {"Type": "Nope", "Name": "g"}):
                query = params()
                sigs.append(query["usersig"])
                await http.post("/v4/group_open_http_svc/create_group", params=query, json=body)
            bad = params() | {"usersig": params("x", key="wrong")["usersig"]}
            sigs.append(bad["usersig"])
            await http.post("/v4/group_open_http_svc/create_group", params=bad, json={})
        for _ in range(100):
            if (
                await server.store.deliveries(status=None)
                and not await server.store.pending_count()
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await server.stop()
    return sigs


def test_cli_output_holds_no_secrets(tmp_path: Path) -> None:
    """`deliveries list/show --json` (attempt URLs included) show neither the key, the token
    nor a Sign; only `serve --json`'s start-up facts and `usersig` print credentials."""
    db = tmp_path / "chat.db"

    async def make() -> None:
        async with receiving() as (port, _):
            await deliver(f"http://127.0.0.1:{port}/hook")

    async def deliver(url: str) -> None:
        server = ChatServer(
            ServerConfig(
                db=str(db),
                app_id=APP,
                key=KEY,
                callback=CallbackConfig(url=url, token=TOKEN),
            )
        )
        await server.start()
        try:
            transport = httpx.ASGITransport(app=server.asgi)
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as http:
                r = await http.post(
                    "/v4/group_open_http_svc/create_group",
                    params=params(),
                    json={"Type": "Public", "Name": "g"},
                )
                assert r.json()["ErrorCode"] == 0
            for _ in range(100):
                if not await server.store.pending_count():
                    break
                await asyncio.sleep(0.05)
        finally:
            await server.stop()

    asyncio.run(make())
    outputs = []
    for args in (("list", "--json"), ("list",), ("show", "1", "--json"), ("show", "2")):
        result = timhooks("deliveries", *args, "--db", str(db))
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "RequestTime=" in text  # attempt URLs are shown, without their Sign
    assert "Sign=" not in text
    for secret in (KEY, TOKEN):
        assert secret not in text
