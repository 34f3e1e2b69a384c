"""The app's webhook settings over REST: ``timhooks_config/set_callback`` and ``get_callback``.

A timhooks extension: Tencent sets webhooks in its console ("Webhook Configuration",
https://trtc.io/document/34520). The settings, what each field of ``set_callback`` accepts and
its schema are declared once (``timhooks.server.settings``); ``CallbackConfig.from_wire`` checks
them, and a bad one is 10004. The token is never shown.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import ConfigError, RestError
from timhooks.server.bodies import Body, Empty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.config import set_callback_schema
from timhooks.server.service import ChatService

__all__ = ["SetCallback", "commands"]

_SERVICE = "timhooks_config"

commands = CommandTable(bad_param=RestCode.BAD_PARAM)


class SettingsBody(Body, frozen=True, kw_only=True):
    """A body of settings, each taken as it comes (``null`` included) for
    ``CallbackConfig.from_wire`` to check."""

    def given(self) -> dict[str, Any]:
        """The settings given, by wire name."""
        return {
            field.encode_name: value
            for field in msgspec.structs.fields(self)
            if (value := getattr(self, field.name)) is not UNSET
        }


# One field per top-level property of the declared schema (AfterRetry is one object).
SetCallback = cast(
    type[SettingsBody],
    msgspec.defstruct(
        "SetCallback",
        [
            (wire, Annotated[Any, msgspec.Meta(extra_json_schema=schema)] | UnsetType, UNSET)
            for wire, schema in set_callback_schema()["properties"].items()
        ],
        bases=(SettingsBody,),
        module=__name__,
        kw_only=True,
        frozen=True,
    ),
)
SetCallback.__doc__ = "timhooks_config/set_callback: the settings given change, the others stay."


@commands.admin(_SERVICE, "set_callback", SetCallback)
async def set_callback(svc: ChatService, call: Call, body: SettingsBody) -> dict[str, Any]:
    """Change the app's webhook settings: Url, Token, CallbackCommandList, timeouts, retry."""
    try:
        cfg = await svc.configure_callback(call.app_id, body.given())
    except ConfigError as exc:
        raise RestError(commands.bad_param, str(exc)) from exc
    return {"Callback": cfg.to_wire()}


@commands.admin(_SERVICE, "get_callback", Empty)
async def get_callback(svc: ChatService, call: Call, body: Empty) -> dict[str, Any]:
    """The app's webhook settings (the token is never shown, only IsTokenEnable)."""
    return {"Callback": call.callback.to_wire()}
