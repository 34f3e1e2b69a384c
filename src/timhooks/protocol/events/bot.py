"""Chatbot webhooks: messages to a chatbot (``Bot.*``) and pass-through data (``Chatbot.*``).

Chatbot user IDs look like ``@RBT#...``. ``Chatbot.OnC2CSignalMessage`` is answered inline: its
answer carries the chatbot's reply (``RspData``).
"""

from __future__ import annotations

from types import MappingProxyType

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event
from timhooks.protocol.events.message import MsgElement

__all__ = ["BotOnC2CMessage", "BotOnGroupMessage", "ChatbotOnC2CSignalMessage"]


class BotOnC2CMessage(Event, frozen=True, kw_only=True):
    """Bot.OnC2CMessage: a one-to-one message was sent to a chatbot.

    Follows "Callback After Sending a One-to-One Message to a Chatbot",
    https://tencentcloud.com/document/product/1047/68952.
    """

    command = "Bot.OnC2CMessage"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_random: int = msgspec.field(name="MsgRandom", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    msg_key: str = msgspec.field(name="MsgKey", default="")
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    send_msg_result: int = msgspec.field(name="SendMsgResult", default=0)
    error_info: str = msgspec.field(name="ErrorInfo", default="")
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class BotOnGroupMessage(Event, frozen=True, kw_only=True):
    """Bot.OnGroupMessage: a group message @-mentioned chatbots (an @all does not count).

    Follows "Callback After Reminding a Chatbot in a Group", https://trtc.io/document/68953.
    The robot list is read as ``AtRobots_Account`` (the page's spelling) or ``AtRobotAccount``;
    ``MsgRandom`` and ``IsPlaceMsg`` are read when they come, their meaning undocumented.
    """

    command = "Bot.OnGroupMessage"
    wire_aliases = MappingProxyType({"AtRobotAccount": "AtRobots_Account"})
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    random: int = msgspec.field(name="Random", default=0)
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    at_robots_account: tuple[str, ...] = msgspec.field(name="AtRobots_Account", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)
    msg_random: int | None = msgspec.field(name="MsgRandom", default=None)
    is_place_msg: int | None = msgspec.field(name="IsPlaceMsg", default=None)


class ChatbotOnC2CSignalMessage(BeforeEvent, frozen=True, kw_only=True):
    """Chatbot.OnC2CSignalMessage: an app sent pass-through data to a chatbot; answer with a
    reply (``event.reply(data)``), which Tencent returns to the chatbot.

    Follows "Chatbot Passthrough Message Callback",
    https://www.tencentcloud.com/document/product/1047/59057. ``Data`` is the pass-through
    protocol's data field; the sample's MsgKey puts MsgRandom first.
    """

    command = "Chatbot.OnC2CSignalMessage"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_random: int = msgspec.field(name="MsgRandom", default=0)
    msg_key: str = msgspec.field(name="MsgKey", default="")
    data: str = msgspec.field(name="Data", default="")
