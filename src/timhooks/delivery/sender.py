"""The webhook sender: one POST to the app's URL, exactly as Tencent makes it.

The query is ``SdkAppid``, ``CallbackCommand``, ``contenttype=json``, ``ClientIP``,
``OptPlatform``, plus ``Sign`` and ``RequestTime`` when the app has a token; connections are kept
alive. A call counts as answered only with HTTP 200 and a JSON answer object; anything else is a
failure with its reason recorded ("Webhook Overview", https://trtc.io/document/34354;
docs/protocol.md).

With ``refuse_private=True`` (multi-tenant deployments; off by default so local development
works) the sender resolves the target's host before each attempt and refuses every address that
is not globally routable (``delivery.addresses``): a public-looking host name that resolves to
an internal address must not turn webhooks into requests against the internal network (SSRF).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from timhooks.delivery.addresses import is_public_address
from timhooks.delivery.http import HttpPool, HttpTransport
from timhooks.protocol.commands import COMMANDS, CommandSpec
from timhooks.protocol.decisions import ACK_BODY, Decision
from timhooks.protocol.errors import DeliveryError, MalformedResponse
from timhooks.protocol.events import AfterGroupFull
from timhooks.protocol.query import build_query
from timhooks.protocol.signing import compute_sign

__all__ = ["Attempt", "WebhookSender", "WebhookTarget"]

_MAX_ANSWER = 64 * 1024

# Any after-command's spec reads an answer for after-webhooks: their answers only need to be
# well formed, Tencent ignores the code ("Webhook Overview", https://trtc.io/document/34354).
_AFTER_SPEC = COMMANDS[AfterGroupFull.command]


@functools.lru_cache(maxsize=4096)
def _base_url(url: str, sdk_app_id: int, command: str, client_ip: str, platform: str) -> str:
    """The webhook URL with Tencent's query, Sign aside (the same for many webhooks)."""
    query = build_query(
        sdk_app_id=sdk_app_id,
        callback_command=command,
        client_ip=client_ip,
        opt_platform=platform,
    )
    return f"{url}?{query}"


@functools.lru_cache(maxsize=64)
def _sign(token: str, request_time: int) -> str:
    """Sign for a token in one second: computed once, used by every webhook of that second."""
    return compute_sign(token, request_time)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where and how one app's webhooks go."""

    sdk_app_id: int
    url: str
    token: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """The record of one delivery attempt."""

    url: str
    at: float
    latency_ms: float
    status_code: int | None
    error: str | None
    response: bytes | None
    decision: Decision | None = None

    @property
    def ok(self) -> bool:
        """True when the app backend answered 200 with a valid answer."""
        return self.error is None


class WebhookSender:
    """Posts webhooks over keep-alive connections.

    Through timhooks' own HTTP/1.1 pool (``delivery.http.HttpPool``), or through ``transport``
    when given (anything with the pool's ``post`` and ``aclose``: a test's fake).
    """

    def __init__(
        self,
        *,
        transport: HttpTransport | None = None,
        max_connections: int = 256,
        clock: Callable[[], float] = time.time,
        refuse_private: bool = False,
    ) -> None:
        self.clock = clock
        self.refuse_private = refuse_private
        self.transport: HttpTransport = (
            transport
            if transport is not None
            else HttpPool(max_idle_per_origin=max_connections, max_body=_MAX_ANSWER)
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self.transport.aclose()

    def _url(
        self, target: WebhookTarget, command: str, client_ip: str, platform: str
    ) -> tuple[str, str]:
        """The URL to post to, and the same without its Sign (for the attempt log)."""
        shown = _base_url(target.url, target.sdk_app_id, command, client_ip, platform)
        if target.token is None:
            return shown, shown
        now = int(self.clock())
        # Tencent's order: ...&Sign=...&RequestTime=... (docs/protocol.md); the log omits the Sign.
        return f"{shown}&Sign={_sign(target.token, now)}&RequestTime={now}", (
            f"{shown}&RequestTime={now}"
        )

    async def post(
        self,
        target: WebhookTarget,
        command: str,
        body: bytes,
        *,
        client_ip: str,
        platform: str,
        time_limit: float,
        spec: CommandSpec | None = None,
    ) -> Attempt:
        """POST one webhook within ``time_limit`` seconds and judge the answer.

        Never raises for network or peer faults: they are the attempt's ``error``.

        With a before-command ``spec`` the answer is read into the attempt's ``decision``.
        """
        url, shown = self._url(target, command, client_ip, platform)
        started = self.clock()
        clock_start = time.perf_counter()
        status: int | None = None
        answer: bytes | None = None
        error: str | None = None
        decision: Decision | None = None
        try:
            async with asyncio.timeout(time_limit):
                connect_to = None
                if self.refuse_private:
                    error, connect_to = await _private_target(target.url)
                if error is None:
                    status, answer = await self.transport.post(url, body, connect_to=connect_to)
        except TimeoutError:
            error = f"timed out after {time_limit:g} s"
        except DeliveryError as exc:  # HttpError, or a transport's own
            error = str(exc)
        if error is None and status != 200:
            error = f"HTTP status {status}, not 200"
        before = spec is not None and spec.is_before
        # An after-webhook's answer only has to be well formed: Tencent's own OK answer, the
        # one almost every app sends, is, without reading it.
        if error is None and answer is not None and (before or answer != ACK_BODY):
            reader = spec if spec is not None and before else _AFTER_SPEC
            try:
                decision = reader.parse_response(answer)
            except MalformedResponse as exc:
                error = str(exc)
        latency = (time.perf_counter() - clock_start) * 1000
        return Attempt(
            url=shown,
            at=started,
            latency_ms=latency,
            status_code=status,
            error=error,
            response=answer,
            decision=decision if before else None,
        )


async def _private_target(url: str) -> tuple[str | None, str | None]:
    """Why ``url``'s host may not be called (a non-public address), or None and the address.

    Resolved with the running loop's getaddrinfo. Every address the name resolves to must be
    public: a name with one internal address is refused. The checked address is the one the
    connection goes to, so a DNS server that changes its answer in between gains nothing.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the webhook URL has a bad port", None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve {host!r}: {exc}", None
    for info in infos:
        address = str(info[4][0])
        if not is_public_address(address):
            return f"refused: {host!r} resolves to the non-public address {address}", None
    return None, str(infos[0][4][0]) if infos else None
