"""A client of Tencent's REST API as ``timhooks serve`` speaks it, over ``HttpPool``.

``POST /v4/{service}/{command}?sdkappid=&identifier=&usersig=&random=&contenttype=json`` with a
JSON body; the answer is always an envelope with ``ActionStatus``, ``ErrorCode`` and
``ErrorInfo`` (https://trtc.io/document/34620). Client actions
(``timhooks_client/...``, a timhooks extension) are the same call made with a user's UserSig and a
``platform``. Used by ``timhooks trigger --via-server`` and the pytest fixtures.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from timhooks.delivery.http import HttpError, HttpPool
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import ConfigError, DeliveryError
from timhooks.protocol.usersig import generate_usersig

__all__ = ["CLIENT_SERVICE", "RestClient"]

CLIENT_SERVICE = "timhooks_client"
"""The REST service of the client actions (README, "Client actions")."""

_MAX_ANSWER = 16 * 1024 * 1024


class RestClient:
    """Calls the REST API of one app on a server at ``base_url`` (``http://127.0.0.1:8600``)."""

    def __init__(
        self,
        base_url: str,
        *,
        app_id: int,
        key: str,
        admin: str = "administrator",
        pool: HttpPool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{base_url!r} is not a server URL: give it as http://HOST:PORT"
                " (timhooks serve prints it)"
            )
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.app_id = app_id
        self.key = key
        self.admin = admin
        self.clock = clock
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else HttpPool(max_body=_MAX_ANSWER)

    async def aclose(self) -> None:
        """Close the connections (of a pool this client made)."""
        if self._owns_pool:
            await self.pool.aclose()

    def usersig(self, user: str) -> str:
        """A fresh UserSig of ``user`` under the app's key."""
        return generate_usersig(self.app_id, self.key, user, now=int(self.clock()))

    async def call(
        self,
        command: str,
        body: Mapping[str, Any] | None = None,
        *,
        identifier: str | None = None,
        platform: str | None = None,
    ) -> dict[str, Any]:
        """POST ``command`` (``service/command``, e.g. ``group_open_http_svc/create_group``) as
        ``identifier`` (the admin by default); return the parsed answer, whatever its ErrorCode.

        DeliveryError when the server cannot be reached or answers something else than JSON.
        """
        path = command.strip("/")
        if path.startswith("v4/"):
            path = path[3:]
        if path.count("/") != 1:
            raise ConfigError(
                f"REST command {command!r}: write it as SERVICE/COMMAND,"
                " e.g. group_open_http_svc/create_group"
            )
        user = identifier or self.admin
        params = {
            "sdkappid": str(self.app_id),
            "identifier": user,
            "usersig": self.usersig(user),
            "random": str(secrets.randbelow(2**32)),
            "contenttype": "json",
        }
        if platform is not None:
            params["platform"] = platform
        url = f"{self.base_url}/v4/{path}?{urlencode(params)}"
        try:
            status, answer = await self.pool.post(url, encode_json(dict(body or {})))
        except HttpError as exc:
            raise DeliveryError(f"cannot reach the server at {self.base_url}: {exc}") from None
        try:
            data = msgspec.json.decode(answer)
        except (msgspec.DecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or "ErrorCode" not in data:
            text = answer[:200].decode("utf-8", "replace")
            raise DeliveryError(
                f"{self.base_url} answered {command} with HTTP {status} and no REST envelope"
                f" ({text!r}); is it a timhooks serve?"
            )
        return data

    async def client(
        self, user: str, action: str, body: Mapping[str, Any], *, platform: str = "iOS"
    ) -> dict[str, Any]:
        """A client action of ``user`` on ``platform`` (``subscribe_official_account`` ...)."""
        return await self.call(
            f"{CLIENT_SERVICE}/{action}", body, identifier=user, platform=platform
        )
