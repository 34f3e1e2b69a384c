"""Push result webhooks (``Push.*``): batched, ``{"Events": [...]}``, times in seconds.

A body carries 1 to 100 events, each with its own CallbackCommand, and no CallbackCommand of
its own. The receiver stores a batch as one webhook; its handler gets the whole batch.
"""

from __future__ import annotations

from types import MappingProxyType

import msgspec

from timhooks.protocol.events.base import Event, Model, Seconds

__all__ = [
    "AllMemberPush",
    "AllMemberPushEvent",
    "OfflinePush",
    "OfflinePushEvent",
    "PushBatch",
    "PushEvent",
]


class PushEvent(Model, frozen=True, kw_only=True):
    """What every push event carries: its command, EventType and EventTime in seconds.

    PushPlatform 0 unknown, 1 APNs, 2 Xiaomi, 3 Huawei, 4 FCM, 5 Meizu, 6 OPPO, 7 vivo, 8 Honor;
    PushStage 1 sent, 2 delivered, 3 clicked; ErrCode 0 for success. Follows "Other Push
    Callbacks", https://tencentcloud.com/document/product/1047/67552.
    """

    callback_command: str = msgspec.field(name="CallbackCommand", default="")
    event_type: int | None = msgspec.field(name="EventType", default=None)
    event_time: Seconds | None = msgspec.field(name="EventTime", default=None)
    to_account: str = msgspec.field(name="To_Account", default="")
    push_platform: int | None = msgspec.field(name="PushPlatform", default=None)
    push_stage: int | None = msgspec.field(name="PushStage", default=None)
    err_code: int | None = msgspec.field(name="ErrCode", default=None)
    err_info: str | None = msgspec.field(name="ErrInfo", default=None)

    @property
    def event_time_ms(self) -> int | None:
        """EventTime in milliseconds (it is sent in seconds)."""
        return None if self.event_time is None else self.event_time * 1000


class OfflinePushEvent(PushEvent, frozen=True, kw_only=True):
    """One offline push of a message: EventType 1 one-to-one, 2 group.

    A group event names its group ``GroupID`` (capital D) and has no MsgKey; ``GroupId`` is read
    too. ``PushID`` is in the Chinese page's sample only. Follows "Other Push Callbacks",
    https://tencentcloud.com/document/product/1047/67552.
    """

    wire_aliases = MappingProxyType({"GroupId": "GroupID"})
    from_account: str = msgspec.field(name="From_Account", default="")
    group_id: str | None = msgspec.field(name="GroupID", default=None)
    msg_key: str | None = msgspec.field(name="MsgKey", default=None)
    msg_seq: int | None = msgspec.field(name="MsgSeq", default=None)
    msg_random: int | None = msgspec.field(name="MsgRandom", default=None)
    msg_time: Seconds | None = msgspec.field(name="MsgTime", default=None)
    push_id: str | None = msgspec.field(name="PushID", default=None)


class AllMemberPushEvent(PushEvent, frozen=True, kw_only=True):
    """One push of an all-user, tag or user-ID push task: EventType 1 offline, 2 online.

    Follows "All Users / Tags / UserID Push Callback",
    https://tencentcloud.com/document/product/1047/67551.
    """

    task_id: str = msgspec.field(name="TaskId", default="")
    task_time: Seconds | None = msgspec.field(name="TaskTime", default=None)


class PushBatch(Event, frozen=True, kw_only=True):
    """A batched push webhook: no CallbackCommand or EventTime of its own.

    Follows "Other Push Callbacks", https://tencentcloud.com/document/product/1047/67552.
    """

    body_has_command = False
    items_field = "Events"

    @property
    def event_time_ms(self) -> int | None:
        """The earliest event's time, in milliseconds."""
        times = [e.event_time_ms for e in getattr(self, "events", ())]
        known = [t for t in times if t is not None]
        return min(known) if known else None


class OfflinePush(PushBatch, frozen=True, kw_only=True):
    """Push.OfflinePush: results of offline pushes of one-to-one and group messages.

    Follows "Other Push Callbacks", https://tencentcloud.com/document/product/1047/67552.
    """

    command = "Push.OfflinePush"
    events: tuple[OfflinePushEvent, ...] = msgspec.field(name="Events", default=())


class AllMemberPush(PushBatch, frozen=True, kw_only=True):
    """Push.AllMemberPush: results of all-user, tag and user-ID push tasks.

    Follows "All Users / Tags / UserID Push Callback",
    https://tencentcloud.com/document/product/1047/67551.
    """

    command = "Push.AllMemberPush"
    events: tuple[AllMemberPushEvent, ...] = msgspec.field(name="Events", default=())
