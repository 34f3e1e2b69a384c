"""Tencent's REST API over HTTP: ``POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=``.

Every answer is HTTP 200 with ``{"ActionStatus", "ErrorInfo", "ErrorCode", "RequestId"}`` and the
command's fields (Tencent's REST API conventions, https://trtc.io/document/34620). The UserSig is
checked on every call (70001, 70003, 70009, 70013, 70014); admin commands need an admin
identifier (60010). The ``timhooks_client`` service is the client API: the same URL shape with a
user's own UserSig and a ``platform`` query parameter (timhooks extension; the webhook's
OptPlatform). The commands are ``timhooks.server.registry``'s.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from timhooks import request_body
from timhooks.protocol.codes import RestCode
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import RestError, StorageError, UserSigError
from timhooks.protocol.query import Platform
from timhooks.protocol.usersig import verify_usersig
from timhooks.request_body import BODY_DEADLINE, MAX_BODY
from timhooks.server.accounts import ensure_user
from timhooks.server.bodies import read_body
from timhooks.server.command import CLIENT_SERVICE, RestCommand
from timhooks.server.registry import COMMANDS
from timhooks.server.service import ChatService

if TYPE_CHECKING:
    from timhooks.metrics import ServerMetrics

__all__ = ["BODY_DEADLINE", "MAX_BODY", "RestApi"]

log = logging.getLogger("timhooks.server")

_SIGS_KEPT = 4096  # verified UserSigs remembered; past that the cache starts again


class VerifiedSigs:
    """UserSigs verified already, each until it expires, so a client's every call does not
    inflate and HMAC its UserSig again.

    Keyed by the whole UserSig, the SDKAppID, the app's secret key and the identifier: a new
    key (rotation) or another identifier misses, and a miss is checked in full. An expired
    UserSig is checked in full too, so it gets its error (70001) as before.
    """

    def __init__(self) -> None:
        self._expiry: dict[tuple[str, int, str, str], int] = {}

    def check(self, usersig: str, *, sdk_app_id: int, key: str, identifier: str, now: int) -> None:
        """Raise what ``verify_usersig`` raises for this UserSig at ``now``."""
        cache_key = (usersig, sdk_app_id, key, identifier)
        expires_at = self._expiry.get(cache_key)
        if expires_at is not None and now <= expires_at:
            return
        info = verify_usersig(
            usersig, sdk_app_id=sdk_app_id, key=key, identifier=identifier, now=now
        )
        if len(self._expiry) >= _SIGS_KEPT:
            self._expiry.clear()
        self._expiry[cache_key] = info.expires_at


class RestApi:
    """The ``/v4/...`` endpoint over a ChatService."""

    def __init__(
        self,
        service: ChatService,
        commands: Mapping[tuple[str, str], RestCommand] = COMMANDS,
        *,
        body_deadline: float = BODY_DEADLINE,
    ) -> None:
        self.service = service
        self.commands = commands
        self.body_deadline = body_deadline
        self._prefix = f"Id-{os.urandom(8).hex()}-O-Seq-"
        self._seq = itertools.count(1)
        self.metrics: ServerMetrics | None = None  # counts calls (timhooks/metrics.py)
        self._sigs = VerifiedSigs()

    def _envelope(self, code: int, info: str, fields: dict[str, Any] | None = None) -> Response:
        body: dict[str, Any] = {
            "ActionStatus": "OK" if code == 0 else "FAIL",
            "ErrorInfo": info,
            "ErrorCode": code,
        }
        if fields:
            body.update(fields)
        body["RequestId"] = f"{self._prefix}{next(self._seq)}"
        return Response(encode_json(body), media_type="application/json")

    async def endpoint(self, request: Request) -> Response:
        """Serve one REST call; failures are envelopes, never HTTP errors."""
        code, info, fields = await self._outcome(request)
        if self.metrics is not None:
            self.metrics.rest_call(self._command_label(request), code)
        return self._envelope(code, info, fields)

    def _command_label(self, request: Request) -> str:
        """``service/command`` of a known command, else ``other`` (a metric label)."""
        key = (request.path_params.get("service", ""), request.path_params.get("command", ""))
        return "/".join(key) if key in self.commands else "other"

    async def _outcome(self, request: Request) -> tuple[int, str, dict[str, Any] | None]:
        try:
            fields = await self._serve(request)
        except RestError as exc:
            return exc.code, exc.info, None
        except StorageError as exc:
            # The database is locked, read-only or full: say so in the envelope (never a 500);
            # the change was rolled back, so the caller may simply try again.
            log.error("REST %s failed on storage: %s", request.url.path, exc)
            return RestCode.INTERNAL, f"storage unavailable, try again: {exc}", None
        except Exception:  # a bug of ours: logged with its traceback, answered as Tencent would
            log.exception("REST %s failed", request.url.path)
            return RestCode.INTERNAL, "internal error", None
        return 0, "", fields

    async def unknown_path(self, request: Request) -> Response:
        """A path under /v4/ that is not ``/v4/{service}/{command}``: 60009 in the envelope."""
        path = request.url.path[:200]
        info = f"no REST command at {path!r}; REST paths are /v4/{{service}}/{{command}}"
        return self._envelope(RestCode.BAD_RESOURCE_URL, info)

    async def _serve(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            raise RestError(RestCode.HTTP_PARSE_ERROR, "REST calls are POST requests")
        service = request.path_params["service"]
        name = request.path_params["command"]
        command = self.commands.get((service, name))
        if command is None:
            raise RestError(RestCode.BAD_RESOURCE_URL, f"unknown command v4/{service}/{name}")
        q = request.query_params
        raw_app = q.get("sdkappid")
        if not raw_app:
            raise RestError(RestCode.MISSING_SDKAPPID, "the query has no sdkappid")
        if not (raw_app.isascii() and raw_app.isdigit()) or len(raw_app) > 18:
            raise RestError(RestCode.SDKAPPID_INVALID, "sdkappid must be a number")
        app = self.service.apps.get(int(raw_app))
        if app is None:
            raise RestError(RestCode.SDKAPPID_NOT_FOUND, f"SDKAppID {raw_app} does not exist")
        identifier = q.get("identifier")
        if not identifier:
            raise RestError(RestCode.URL_ACCOUNT_ERROR, "the query has no identifier")
        try:
            self._sigs.check(
                q.get("usersig", ""),
                sdk_app_id=app.sdk_app_id,
                key=app.key,
                identifier=identifier,
                now=int(self.service.clock()),
            )
        except UserSigError as exc:
            raise RestError(exc.code, str(exc)) from exc
        if command.admin and identifier not in app.admins:
            raise RestError(RestCode.NEEDS_ADMIN, f"{identifier!r} is not an App admin")
        data = await self._body(request)
        client_ip = request.client.host if request.client else ""
        rest = service != CLIENT_SERVICE
        if rest:
            platform = Platform.RESTAPI
        else:
            # A client cannot claim to be the REST API: that platform is the admin's alone.
            platform = Platform.parse(q.get("platform", "Unknown"))
            if platform is Platform.RESTAPI:
                platform = Platform.UNKNOWN
            await ensure_user(self.service, app, identifier)
        call = self.service.call(app, identifier, client_ip, platform, rest=rest)
        body = read_body(command.body, data, command.bad_param)
        return await command.handler(self.service, call, body)

    async def _body(self, request: Request) -> dict[str, Any]:
        """The body's JSON object. Past the size limit or the deadline (timhooks/request_body.py)
        it is 60002, what Tencent answers for an HTTP request it cannot parse."""
        try:
            raw = await request_body.read_body(
                request.scope.get("headers", ()),
                request.receive,
                limit=MAX_BODY,
                deadline=self.body_deadline,
            )
        except request_body.BodyError as exc:
            raise RestError(RestCode.HTTP_PARSE_ERROR, str(exc)) from exc
        if raw is None:
            raise RestError(RestCode.HTTP_PARSE_ERROR, "the client left before sending its body")
        if not raw.strip():
            raise RestError(RestCode.JSON_PARSE_ERROR, "the body is empty; send {} for no fields")
        try:
            data = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError, not as a
            # DecodeError: without it such a body was a 500.
            raise RestError(
                RestCode.JSON_PARSE_ERROR, f"the body is not valid JSON: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise RestError(RestCode.JSON_PARSE_ERROR, "the body must be a JSON object")
        return data
