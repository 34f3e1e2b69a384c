"""The app's webhook settings over REST: ``timhooks_config/set_callback`` and ``get_callback``.

A timhooks extension: Tencent sets webhooks in its console ("Webhook Configuration",
https://trtc.io/document/34520). The settings themselves, and what each field accepts, are
``timhooks.server.config.CallbackConfig``'s; a bad one is 10004. The token is never shown.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol.codes import RestCode
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.errors import ConfigError, RestError
from timhooks.server.bodies import Body, Empty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.config import CallbackConfig, validate_callback_url
from timhooks.server.service import ChatService

__all__ = ["commands"]

_SERVICE = "timhooks_config"

commands = CommandTable(bad_param=RestCode.BAD_PARAM)


def _documented(schema: dict[str, Any]) -> msgspec.Meta:
    """A setting ``CallbackConfig.from_wire`` reads (and checks) as it comes; ``schema`` says
    what it takes."""
    return msgspec.Meta(extra_json_schema=schema)


# OpenAPI 3.0 spells an open bound as a boolean next to minimum.
_TIMEOUT_MS = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 60000}


class SetCallback(Body, frozen=True, kw_only=True):
    """timhooks_config/set_callback: the settings given change, the others stay."""

    url: Annotated[Any, _documented({"type": "string"})] | UnsetType = msgspec.field(
        name="Url", default=UNSET
    )
    token: Annotated[Any, _documented({"type": "string", "maxLength": 128})] | UnsetType = (
        msgspec.field(name="Token", default=UNSET)
    )
    is_token_enable: Annotated[Any, _documented({"type": "boolean"})] | UnsetType = msgspec.field(
        name="IsTokenEnable", default=UNSET
    )
    command_list: (
        Annotated[
            Any,
            _documented({"type": "array", "items": {"type": "string", "enum": sorted(COMMANDS)}}),
        ]
        | UnsetType
    ) = msgspec.field(name="CallbackCommandList", default=UNSET)
    before_timeout_ms: Annotated[Any, _documented(_TIMEOUT_MS)] | UnsetType = msgspec.field(
        name="BeforeTimeoutMs", default=UNSET
    )
    after_timeout_ms: Annotated[Any, _documented(_TIMEOUT_MS)] | UnsetType = msgspec.field(
        name="AfterTimeoutMs", default=UNSET
    )
    failure_policy: (
        Annotated[Any, _documented({"type": "string", "enum": ["proceed", "deny"]})] | UnsetType
    ) = msgspec.field(name="BeforeFailurePolicy", default=UNSET)
    after_retry: (
        Annotated[
            Any,
            _documented(
                {
                    "type": "object",
                    "properties": {
                        "Attempts": {"type": "integer", "minimum": 1},
                        "BaseSeconds": {"type": "number", "minimum": 0},
                        "Factor": {"type": "number", "minimum": 1},
                        "MaxSeconds": {"type": "number", "minimum": 0},
                    },
                }
            ),
        ]
        | UnsetType
    ) = msgspec.field(name="AfterRetry", default=UNSET)

    def given(self) -> dict[str, Any]:
        """The settings given, by wire name."""
        return {
            field.encode_name: value
            for field in msgspec.structs.fields(self)
            if (value := getattr(self, field.name)) is not UNSET
        }


@commands.admin(_SERVICE, "set_callback", SetCallback)
async def set_callback(svc: ChatService, call: Call, body: SetCallback) -> dict[str, Any]:
    """Change the app's webhook settings: Url, Token, CallbackCommandList, timeouts, retry."""
    try:
        cfg = CallbackConfig.from_wire(body.given(), call.callback)
        if cfg.url is not None:
            validate_callback_url(cfg.url, allow_private=svc.allow_private_targets)
    except ConfigError as exc:
        raise RestError(commands.bad_param, str(exc)) from exc
    await svc.apps.set_callback(call.app_id, cfg)
    return {"Callback": cfg.to_wire()}


@commands.admin(_SERVICE, "get_callback", Empty)
async def get_callback(svc: ChatService, call: Call, body: Empty) -> dict[str, Any]:
    """The app's webhook settings (the token is never shown, only IsTokenEnable)."""
    return {"Callback": call.callback.to_wire()}
