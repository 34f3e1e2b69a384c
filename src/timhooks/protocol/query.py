"""The query string Tencent appends to the webhook URL ("Webhook Overview",
https://trtc.io/document/34354).

``SdkAppid``, ``CallbackCommand``, ``contenttype``, ``ClientIP``, ``OptPlatform``, and with a
token ``Sign`` and ``RequestTime``. Names are matched without regard to case (the docs spell
``SdkAppid``; the moderation and extension pages write ``SdkAppId`` and ``SDKAppID``); the first
of repeated names wins. ``ClientIP`` and ``OptPlatform`` may be absent: the online-status of
audio-video groups, moderation, push and alert webhooks send neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_plus, urlencode

from timhooks.protocol.errors import MalformedRequest

__all__ = ["Platform", "WebhookQuery", "build_query", "parse_query"]

_MAX_QUERY = 8192


class Platform(StrEnum):
    """The client platform of the action a webhook reports ("Webhook Overview")."""

    RESTAPI = "RESTAPI"
    WEB = "Web"
    ANDROID = "Android"
    IOS = "iOS"
    WINDOWS = "Windows"
    MAC = "Mac"
    IPAD = "iPad"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: str) -> Platform:
        """Read an OptPlatform value; ``IOS`` and ``macOS`` are accepted, others give Unknown."""
        return _PLATFORM_ALIASES.get(value.lower(), cls.UNKNOWN)


# State.StateChange sends "IOS" and the English overview writes "macOS" ("Webhook Overview").
_PLATFORM_ALIASES = {p.value.lower(): p for p in Platform} | {"macos": Platform.MAC}


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    """The parsed webhook query parameters."""

    sdk_app_id: int
    callback_command: str
    content_type: str = "json"
    client_ip: str = ""
    opt_platform: Platform = Platform.UNKNOWN
    opt_platform_raw: str = ""
    request_time: str | None = None
    sign: str | None = None


def parse_query(query: bytes | str | Mapping[str, str]) -> WebhookQuery:
    """Parse the webhook query; MalformedRequest says which parameter is missing or wrong.

    ``RequestTime`` and ``Sign`` are kept as text: checking them is ``signing.verify_sign``'s job.
    """
    params: dict[str, str] = {}
    if isinstance(query, Mapping):
        for key, value in query.items():
            params.setdefault(str(key).lower(), str(value))
    else:
        if len(query) > _MAX_QUERY:
            raise MalformedRequest(f"query string longer than {_MAX_QUERY} bytes")
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
        # parse_qsl's rules (pairs split on "&", "+" and %XX decoded, blank values kept) with
        # the decoding done only where there is something to decode: this runs per webhook.
        for pair in text.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            if "%" in key or "+" in key:
                key = unquote_plus(key)
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            params.setdefault(key.lower(), value)

    app = params.get("sdkappid")
    if app is None or app == "":
        raise MalformedRequest("query has no SdkAppid")
    if not app.isascii() or not app.isdigit() or len(app) > 20:
        raise MalformedRequest(f"query SdkAppid must be a number, got {app[:40]!r}")
    command = params.get("callbackcommand")
    if not command:
        raise MalformedRequest("query has no CallbackCommand")
    platform_raw = params.get("optplatform") or ""
    return WebhookQuery(
        sdk_app_id=int(app),
        callback_command=command,
        content_type=params.get("contenttype") or "json",
        client_ip=params.get("clientip") or "",
        opt_platform=Platform.parse(platform_raw) if platform_raw else Platform.UNKNOWN,
        opt_platform_raw=platform_raw,
        request_time=params.get("requesttime"),
        sign=params.get("sign"),
    )


def build_query(
    *,
    sdk_app_id: int,
    callback_command: str,
    client_ip: str,
    opt_platform: Platform | str,
    request_time: int | None = None,
    sign: str | None = None,
) -> str:
    """The query string the Chat backend appends to the app's webhook URL, in Tencent's order."""
    pairs = [
        ("SdkAppid", str(sdk_app_id)),
        ("CallbackCommand", callback_command),
        ("contenttype", "json"),
        ("ClientIP", client_ip),
        ("OptPlatform", str(opt_platform)),
    ]
    if sign is not None and request_time is not None:
        pairs += [("Sign", sign), ("RequestTime", str(request_time))]
    return urlencode(pairs)
