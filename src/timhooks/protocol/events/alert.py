"""Operations alerts (``Alert.*``): on by default once a webhook URL is set."""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import Event

__all__ = ["RequestOverLimit"]


class RequestOverLimit(Event, frozen=True, kw_only=True):
    """Alert.RequestOverLimit: a REST API's request rate passed 80 % of its limit.

    Follows "API Overclocking Alarm Callbacks", https://tencentcloud.com/document/product/1047/60256.
    ``ServiceName`` and ``Command`` name the API (``api_command`` here: ``command`` is the
    webhook's); ``Request`` is the observed rate and ``Limit`` the threshold, per second.
    """

    command = "Alert.RequestOverLimit"
    service_name: str = msgspec.field(name="ServiceName", default="")
    api_command: str = msgspec.field(name="Command", default="")
    request: int = msgspec.field(name="Request", default=0)
    limit: int = msgspec.field(name="Limit", default=0)
