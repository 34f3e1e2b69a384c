"""Official Account webhooks (``OfficialAccount.*``; newer pages say "Official Channel").

The command strings kept their ``OfficialAccount`` names when the documents were retitled.
Every body carries EventTime in milliseconds; ``Official_Account`` is the account's ID.
"""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event, Model
from timhooks.protocol.events.message import MsgElement

__all__ = [
    "AfterAddSubscriber",
    "AfterCreateOfficialAccount",
    "AfterDeleteSubscriber",
    "AfterMsgWithDraw",
    "AfterOfficialAccountDestroyed",
    "AfterOfficialAccountFull",
    "AfterOfficialAccountInfoChanged",
    "AfterSendMsg",
    "BeforeAddSubscriber",
    "BeforeCreateOfficialAccount",
    "BeforeSendMsg",
    "Subscriber",
    "WithdrawMsg",
]


class Subscriber(Model, frozen=True, kw_only=True):
    """One ``{"Subscriber_Account": ...}`` item of ``SubscribeAccountList``.

    Follows "After Official Channel Is Subscribed", https://trtc.io/document/60800.
    """

    subscriber_account: str = msgspec.field(name="Subscriber_Account")


class WithdrawMsg(Model, frozen=True, kw_only=True):
    """One ``{"MsgKey": ...}`` item of ``WithdrawMsgList``.

    Follows "Webhook After Recalling Official Channel Messages", https://trtc.io/document/60805.
    """

    msg_key: str = msgspec.field(name="MsgKey")


class BeforeCreateOfficialAccount(BeforeEvent, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeCreateOfficialAccount: an OA is about to be created.

    Follows "Before a Official Channel Is Created", https://trtc.io/document/60795.
    """

    command = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class AfterCreateOfficialAccount(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterCreateOfficialAccount: an OA was created.

    Follows "After a Official Channel Is Created", https://trtc.io/document/60796.
    """

    command = "OfficialAccount.CallbackAfterCreateOfficialAccount"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class AfterOfficialAccountInfoChanged(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountInfoChanged: an OA's profile was modified.

    Follows "After Official Channel Profile Is Modified", https://trtc.io/document/60797.
    """

    command = "OfficialAccount.CallbackAfterOfficialAccountInfoChanged"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    introduction: str = msgspec.field(name="Introduction", default="")
    name: str = msgspec.field(name="Name", default="")
    face_url: str = msgspec.field(name="FaceUrl", default="")
    organization: str = msgspec.field(name="Organization", default="")


class AfterOfficialAccountDestroyed(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountDestroyed: an OA was destroyed.

    Follows "After Official Channel Is Destroyed", https://trtc.io/document/60798.
    """

    command = "OfficialAccount.CallbackAfterOfficialAccountDestroyed"
    official_account: str = msgspec.field(name="Official_Account")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class BeforeAddSubscriber(BeforeEvent, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeAddSubscriber: users are about to subscribe.

    Follows "Before Official Channel Is Subscribed", https://trtc.io/document/60799.
    """

    command = "OfficialAccount.CallbackBeforeAddSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class AfterAddSubscriber(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterAddSubscriber: users subscribed.

    Follows "After Official Channel Is Subscribed", https://trtc.io/document/60800.
    """

    command = "OfficialAccount.CallbackAfterAddSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class AfterOfficialAccountFull(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountFull: subscribers reached MaxSubscriberNum.

    Follows "After a Official Channel Is Full", https://trtc.io/document/60801.
    """

    command = "OfficialAccount.CallbackAfterOfficialAccountFull"
    official_account: str = msgspec.field(name="Official_Account")


class AfterDeleteSubscriber(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterDeleteSubscriber: users unsubscribed or were removed.

    Follows "After Official Channel Is Unsubscribed", https://trtc.io/document/60802.
    """

    command = "OfficialAccount.CallbackAfterDeleteSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class BeforeSendMsg(BeforeEvent, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeSendMsg: an OA message is about to be delivered.

    Follows "Before Official Channel Message Is Sent", https://trtc.io/document/60803.
    """

    command = "OfficialAccount.CallbackBeforeSendMsg"
    official_account: str = msgspec.field(name="Official_Account")
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class AfterSendMsg(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterSendMsg: an OA message was delivered.

    Follows "Callback After Sending an Official Channel Message", https://trtc.io/document/60804.
    """

    command = "OfficialAccount.CallbackAfterSendMsg"
    official_account: str = msgspec.field(name="Official_Account")
    msg_key: str = msgspec.field(name="MsgKey", default="")
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class AfterMsgWithDraw(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterMsgWithDraw: OA messages were recalled.

    Follows "Webhook After Recalling Official Channel Messages", https://trtc.io/document/60805.
    """

    command = "OfficialAccount.CallbackAfterMsgWithDraw"
    official_account: str = msgspec.field(name="Official_Account")
    withdraw_msg_list: tuple[WithdrawMsg, ...] = msgspec.field(name="WithdrawMsgList", default=())
