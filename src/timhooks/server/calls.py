"""The context of one REST call or client action: who acts, from where, for which app, when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timhooks.protocol import events as ev
from timhooks.server.config import CallbackConfig

__all__ = ["Call", "new_event"]


@dataclass(frozen=True, slots=True)
class Call:
    """Who is acting, from where, for which app: what every change and webhook needs."""

    app_id: int
    operator: str
    client_ip: str
    platform: str
    callback: CallbackConfig
    now: float
    rest: bool = True

    @property
    def seconds(self) -> int:
        """Server time in seconds (MsgTime, CreateTime)."""
        return int(self.now)

    @property
    def millis(self) -> int:
        """Server time in milliseconds (EventTime)."""
        return int(self.now * 1000)


def new_event(call: Call, model: type[ev.Event], **fields: Any) -> ev.Event:
    """A webhook event of ``model`` stamped with the call's EventTime."""
    return model(callback_command=model.command, event_time=call.millis, **fields)
