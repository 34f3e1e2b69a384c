"""Group message webhooks: send (before, after, failed), recall, extensions, edit, receipts.

``TopicId`` is sent for messages in the topics of a topic-enabled Community group only.
"""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event, Model
from timhooks.protocol.events.group import Member
from timhooks.protocol.events.message import MsgElement, MsgExtension

__all__ = [
    "AfterGroupMsgExtension",
    "AfterReadReceipt",
    "AfterRecallMsg",
    "GroupAfterModifyMsg",
    "GroupAfterSendMsg",
    "GroupBeforeSendMsg",
    "GroupMsgReceipt",
    "GroupSendMsgException",
    "MsgSeqItem",
]


class GroupBeforeSendMsg(BeforeEvent, frozen=True, kw_only=True):
    """Group.CallbackBeforeSendMsg: a group message is about to be delivered.

    Follows "Before Group Message Is Sent", https://tencentcloud.com/document/product/1047/34374.
    ``Operator_Account`` differs from ``From_Account`` when an admin sends on a user's behalf.
    """

    command = "Group.CallbackBeforeSendMsg"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    random: int = msgspec.field(name="Random", default=0)
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)


class GroupAfterSendMsg(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterSendMsg: a group message was delivered.

    Follows "After a Group Message Is Sent", https://tencentcloud.com/document/product/1047/34375
    (``MsgId``, the client's message ID, is in the Chinese page's sample only).
    """

    command = "Group.CallbackAfterSendMsg"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    random: int = msgspec.field(name="Random", default=0)
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)
    msg_id: str | None = msgspec.field(name="MsgId", default=None)


class GroupSendMsgException(Event, frozen=True, kw_only=True):
    """Group.CallbackSendMsgException: a group message could not be delivered.

    Follows "Webhook for Exceptions When Group Messages Are Sent", https://trtc.io/document/49462.
    The failure is in fields named ``ErrorCode``/``ErrorInfo``, like an answer's.
    """

    command = "Group.CallbackSendMsgException"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    random: int = msgspec.field(name="Random", default=0)
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")
    error_code: int = msgspec.field(name="ErrorCode", default=0)
    error_info: str = msgspec.field(name="ErrorInfo", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)


class MsgSeqItem(Model, frozen=True, kw_only=True):
    """One ``{"MsgSeq": ...}`` item of ``MsgSeqList``.

    Follows "Callback After Recalling Group Messages",
    https://tencentcloud.com/document/product/1047/46979.
    """

    msg_seq: int = msgspec.field(name="MsgSeq")


class AfterRecallMsg(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterRecallMsg: group messages were recalled.

    Follows "Callback After Recalling Group Messages",
    https://tencentcloud.com/document/product/1047/46979.
    """

    command = "Group.CallbackAfterRecallMsg"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    msg_seq_list: tuple[MsgSeqItem, ...] = msgspec.field(name="MsgSeqList", default=())
    topic_id: str | None = msgspec.field(name="TopicId", default=None)


class AfterGroupMsgExtension(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupMsgExtension: a group message's extensions were set (OperateType
    1), deleted (2) or cleared (3).

    Follows "After a Group Message Extension Is Configured", https://trtc.io/document/76007.
    ``Seq`` is the latest version of the message's extensions.
    """

    command = "Group.CallbackAfterGroupMsgExtension"
    group_id: str = msgspec.field(name="GroupId")
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    operate_type: int = msgspec.field(name="OperateType", default=0)
    extension_list: tuple[MsgExtension, ...] = msgspec.field(name="ExtensionList", default=())
    seq: int | None = msgspec.field(name="Seq", default=None)


class GroupAfterModifyMsg(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterModifyMsg: a group message was edited; the body is its new content.

    Follows "群内消息编辑后回调" (after a group message is edited; Chinese only),
    https://cloud.tencent.com/document/product/269/129193.
    """

    command = "Group.CallbackAfterModifyMsg"
    group_id: str = msgspec.field(name="GroupId")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)
    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str | None = msgspec.field(name="CloudCustomData", default=None)


class GroupMsgReceipt(Model, frozen=True, kw_only=True):
    """The read receipt of one group message: how many read it, and who.

    Follows "Callback After Read Receipt", https://trtc.io/document/60395.
    """

    msg_seq: int = msgspec.field(name="MsgSeq", default=0)
    read_num: int = msgspec.field(name="ReadNum", default=0)
    unread_num: int = msgspec.field(name="UnreadNum", default=0)
    read_receipt_members: tuple[Member, ...] = msgspec.field(name="ReadReceiptMembers", default=())


class AfterReadReceipt(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterReadReceipt: group messages asking for receipts were read.

    Follows "Callback After Read Receipt", https://trtc.io/document/60395.
    """

    command = "Group.CallbackAfterReadReceipt"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    group_msg_receipt_list: tuple[GroupMsgReceipt, ...] = msgspec.field(
        name="GroupMsgReceiptList", default=()
    )
