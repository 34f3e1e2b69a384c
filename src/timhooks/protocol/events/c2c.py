"""One-to-one message webhooks (``C2C.*``).

``MsgSeq`` and ``MsgRandom`` are 32-bit identifiers, ``MsgTime`` is in seconds and ``MsgKey`` is
``<MsgSeq>_<MsgRandom>_<MsgTime>`` (usable with the recall REST API). The older message bodies
document no EventTime.
"""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event
from timhooks.protocol.events.message import MsgElement, MsgExtension

__all__ = [
    "AfterC2CMsgExtension",
    "C2CAfterModifyMsg",
    "C2CAfterMsgReport",
    "C2CAfterMsgWithDraw",
    "C2CAfterSendMsg",
    "C2CBeforeSendMsg",
]


class C2CBeforeSendMsg(BeforeEvent, frozen=True, kw_only=True):
    """C2C.CallbackBeforeSendMsg: a one-to-one message is about to be delivered.

    Follows "Before a One-to-One Message Is Sent", https://trtc.io/document/34364.
    """

    command = "C2C.CallbackBeforeSendMsg"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_random: int = msgspec.field(name="MsgRandom", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    msg_key: str = msgspec.field(name="MsgKey", default="")
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class C2CAfterSendMsg(Event, frozen=True, kw_only=True):
    """C2C.CallbackAfterSendMsg: a one-to-one message was sent, delivered or not.

    Follows "After a One-to-One Message Is Sent",
    https://www.tencentcloud.com/document/product/1047/34365. ``SendMsgResult`` is 0 when the
    message was delivered, else an error code; ``UnreadMsgNum`` is -1 when delivery failed.
    ``MsgId`` (the client's message ID) is in the Chinese page's field table only.
    """

    command = "C2C.CallbackAfterSendMsg"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_random: int = msgspec.field(name="MsgRandom", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    msg_key: str = msgspec.field(name="MsgKey", default="")
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    send_msg_result: int = msgspec.field(name="SendMsgResult", default=0)
    error_info: str = msgspec.field(name="ErrorInfo", default="")
    unread_msg_num: int | None = msgspec.field(name="UnreadMsgNum", default=None)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    msg_id: str | None = msgspec.field(name="MsgId", default=None)


class C2CAfterMsgReport(Event, frozen=True, kw_only=True):
    """C2C.CallbackAfterMsgReport: a user read a one-to-one conversation up to LastReadTime.

    Follows "After a One-to-One Message Is Marked as Read",
    https://intl.cloud.tencent.com/document/product/1047/43465. ``UnreadMsgNum`` is the reader's
    total unread one-to-one count.
    """

    command = "C2C.CallbackAfterMsgReport"
    report_account: str = msgspec.field(name="Report_Account", default="")
    peer_account: str = msgspec.field(name="Peer_Account", default="")
    last_read_time: int = msgspec.field(name="LastReadTime", default=0)
    unread_msg_num: int | None = msgspec.field(name="UnreadMsgNum", default=None)


class C2CAfterMsgWithDraw(Event, frozen=True, kw_only=True):
    """C2C.CallbackAfterMsgWithDraw: a one-to-one message was recalled.

    Follows "After A One-to-One Message Is Recalled", https://trtc.io/document/43466. The
    international page sends ``UnreadMsgNum``, the mainland one
    (https://cloud.tencent.cn/document/product/269/61697) EventTime instead: both are read.
    """

    command = "C2C.CallbackAfterMsgWithDraw"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_key: str = msgspec.field(name="MsgKey", default="")
    unread_msg_num: int | None = msgspec.field(name="UnreadMsgNum", default=None)


class AfterC2CMsgExtension(Event, frozen=True, kw_only=True):
    """C2C.CallbackAfterC2CMsgExtension: a one-to-one message's extensions were set
    (OperateType 1), deleted (2) or cleared (3).

    Follows "After a One-to-One Message Extension Is Configured",
    https://www.tencentcloud.com/document/product/1047/76006. ``Seq`` is the latest version of
    the message's extensions.
    """

    command = "C2C.CallbackAfterC2CMsgExtension"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_key: str = msgspec.field(name="MsgKey", default="")
    operate_type: int = msgspec.field(name="OperateType", default=0)
    extension_list: tuple[MsgExtension, ...] = msgspec.field(name="ExtensionList", default=())
    seq: int | None = msgspec.field(name="Seq", default=None)


class C2CAfterModifyMsg(Event, frozen=True, kw_only=True):
    """C2C.CallbackAfterModifyMsg: a one-to-one message was edited; the body is its new content.

    Follows "单聊消息编辑之后回调" (after a one-to-one message is edited; Chinese only),
    https://cloud.tencent.com/document/product/269/128224.
    """

    command = "C2C.CallbackAfterModifyMsg"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    msg_random: int = msgspec.field(name="MsgRandom", default=0)
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    msg_key: str = msgspec.field(name="MsgKey", default="")
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str | None = msgspec.field(name="CloudCustomData", default=None)
