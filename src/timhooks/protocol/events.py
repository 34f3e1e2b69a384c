"""Typed, immutable webhook event models with the exact wire names.

Each class is one ``CallbackCommand``'s JSON body (reference sections 3 and 4). Python names are
snake_case; the wire names (``Official_Account``, ``SubscribeAccountList``, ``EventTime`` ...) are
the field aliases, so ``to_wire`` gives back Tencent's JSON. Fields the protocol does not name
are kept in ``extra``: Tencent adds fields over time and a receiver must not drop them.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec

__all__ = [
    "EXTRA_KEY",
    "AfterAddSubscriber",
    "AfterCreateGroup",
    "AfterCreateOfficialAccount",
    "AfterDeleteSubscriber",
    "AfterGroupFull",
    "AfterMemberExit",
    "AfterMsgWithDraw",
    "AfterNewMemberJoin",
    "AfterOfficialAccountDestroyed",
    "AfterOfficialAccountFull",
    "AfterOfficialAccountInfoChanged",
    "AfterSendMsg",
    "BeforeAddSubscriber",
    "BeforeApplyJoinGroup",
    "BeforeCreateGroup",
    "BeforeCreateOfficialAccount",
    "BeforeInviteJoinGroup",
    "BeforeSendMsg",
    "Event",
    "Member",
    "Subscriber",
    "UnknownEvent",
    "UserDefinedData",
    "WithdrawMsg",
]

# The wire name under which the fields the protocol does not name travel into ``extra``. No
# Tencent field starts with a double underscore.
EXTRA_KEY = "__extra__"

# Epoch milliseconds, bounded to what every database stores as a 64-bit integer.
_MILLIS = msgspec.Meta(ge=0, le=2**63 - 1)


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """One ``{"Member_Account": ...}`` item of a group member list."""

    member_account: str = msgspec.field(name="Member_Account")


class Subscriber(msgspec.Struct, frozen=True, kw_only=True):
    """One ``{"Subscriber_Account": ...}`` item of ``SubscribeAccountList``."""

    subscriber_account: str = msgspec.field(name="Subscriber_Account")


class WithdrawMsg(msgspec.Struct, frozen=True, kw_only=True):
    """One ``{"MsgKey": ...}`` item of ``WithdrawMsgList``."""

    msg_key: str = msgspec.field(name="MsgKey")


class UserDefinedData(msgspec.Struct, frozen=True, kw_only=True):
    """One ``{"Key": ..., "Value": ...}`` item of ``UserDefinedDataList``."""

    key: str = msgspec.field(name="Key")
    value: str = msgspec.field(name="Value", default="")


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Fields every webhook body carries.

    ``event_time`` is milliseconds since the epoch; samples write it as a number or as a quoted
    number, both are accepted (reference 4). It is optional because an older AfterGroupFull body
    had none (reference 4.7).
    """

    command: ClassVar[str] = ""

    callback_command: str = msgspec.field(name="CallbackCommand")
    event_time: Annotated[int, _MILLIS] | None = msgspec.field(name="EventTime", default=None)
    extra: dict[str, Any] = msgspec.field(name=EXTRA_KEY, default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The event as Tencent's JSON object: wire names, unknown fields merged back."""
        data: dict[str, Any] = {
            # Lists are tuples in the model (immutability); JSON has arrays.
            key: list(value) if isinstance(value, tuple) else value
            for key, value in msgspec.to_builtins(self).items()
        }
        extra = data.pop(EXTRA_KEY, {})
        event_time = data.pop("EventTime", None)
        for key, value in extra.items():
            data.setdefault(key, value)
        if event_time is not None:
            data["EventTime"] = event_time  # last, as in every sample body
        return data


class UnknownEvent(Event, frozen=True, kw_only=True):
    """A command timhooks does not know yet; every field but the two common ones is in ``extra``."""


# --- Official Account (reference section 3) -------------------------------------------------


class BeforeCreateOfficialAccount(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeCreateOfficialAccount: an OA is about to be created."""

    command = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class AfterCreateOfficialAccount(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterCreateOfficialAccount: an OA was created."""

    command = "OfficialAccount.CallbackAfterCreateOfficialAccount"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class AfterOfficialAccountInfoChanged(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountInfoChanged: an OA's profile was modified."""

    command = "OfficialAccount.CallbackAfterOfficialAccountInfoChanged"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    introduction: str = msgspec.field(name="Introduction", default="")
    name: str = msgspec.field(name="Name", default="")
    face_url: str = msgspec.field(name="FaceUrl", default="")
    organization: str = msgspec.field(name="Organization", default="")


class AfterOfficialAccountDestroyed(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountDestroyed: an OA was destroyed."""

    command = "OfficialAccount.CallbackAfterOfficialAccountDestroyed"
    official_account: str = msgspec.field(name="Official_Account")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str = msgspec.field(name="Name", default="")


class BeforeAddSubscriber(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeAddSubscriber: users are about to subscribe."""

    command = "OfficialAccount.CallbackBeforeAddSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class AfterAddSubscriber(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterAddSubscriber: users subscribed."""

    command = "OfficialAccount.CallbackAfterAddSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class AfterOfficialAccountFull(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterOfficialAccountFull: subscribers reached MaxSubscriberNum."""

    command = "OfficialAccount.CallbackAfterOfficialAccountFull"
    official_account: str = msgspec.field(name="Official_Account")


class AfterDeleteSubscriber(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterDeleteSubscriber: users unsubscribed or were removed."""

    command = "OfficialAccount.CallbackAfterDeleteSubscriber"
    official_account: str = msgspec.field(name="Official_Account")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    subscribe_account_list: tuple[Subscriber, ...] = msgspec.field(
        name="SubscribeAccountList", default=()
    )


class BeforeSendMsg(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackBeforeSendMsg: an OA message is about to be delivered."""

    command = "OfficialAccount.CallbackBeforeSendMsg"
    official_account: str = msgspec.field(name="Official_Account")
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[dict[str, Any], ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class AfterSendMsg(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterSendMsg: an OA message was delivered."""

    command = "OfficialAccount.CallbackAfterSendMsg"
    official_account: str = msgspec.field(name="Official_Account")
    msg_key: str = msgspec.field(name="MsgKey", default="")
    msg_time: int = msgspec.field(name="MsgTime", default=0)  # seconds (reference 3.10)
    online_only_flag: int = msgspec.field(name="OnlineOnlyFlag", default=0)
    msg_body: tuple[dict[str, Any], ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str = msgspec.field(name="CloudCustomData", default="")


class AfterMsgWithDraw(Event, frozen=True, kw_only=True):
    """OfficialAccount.CallbackAfterMsgWithDraw: OA messages were recalled."""

    command = "OfficialAccount.CallbackAfterMsgWithDraw"
    official_account: str = msgspec.field(name="Official_Account")
    withdraw_msg_list: tuple[WithdrawMsg, ...] = msgspec.field(name="WithdrawMsgList", default=())


# --- Group (reference section 4) ------------------------------------------------------------


class BeforeCreateGroup(Event, frozen=True, kw_only=True):
    """Group.CallbackBeforeCreateGroup: a group is about to be created."""

    command = "Group.CallbackBeforeCreateGroup"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    type: str = msgspec.field(name="Type", default="")
    name: str = msgspec.field(name="Name", default="")
    create_group_num: int = msgspec.field(name="CreateGroupNum", default=0)
    member_list: tuple[Member, ...] = msgspec.field(name="MemberList", default=())


class AfterCreateGroup(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterCreateGroup: a group was created."""

    command = "Group.CallbackAfterCreateGroup"
    group_id: str = msgspec.field(name="GroupId")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    type: str = msgspec.field(name="Type", default="")
    name: str = msgspec.field(name="Name", default="")
    member_list: tuple[Member, ...] = msgspec.field(name="MemberList", default=())
    user_defined_data_list: tuple[UserDefinedData, ...] = msgspec.field(
        name="UserDefinedDataList", default=()
    )


class BeforeApplyJoinGroup(Event, frozen=True, kw_only=True):
    """Group.CallbackBeforeApplyJoinGroup: a user asks to join a group."""

    command = "Group.CallbackBeforeApplyJoinGroup"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    requestor_account: str = msgspec.field(name="Requestor_Account", default="")


class BeforeInviteJoinGroup(Event, frozen=True, kw_only=True):
    """Group.CallbackBeforeInviteJoinGroup: users are about to be invited or added to a group."""

    command = "Group.CallbackBeforeInviteJoinGroup"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    destination_members: tuple[Member, ...] = msgspec.field(name="DestinationMembers", default=())


class AfterNewMemberJoin(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterNewMemberJoin: users joined a group (JoinType Apply or Invited)."""

    command = "Group.CallbackAfterNewMemberJoin"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    join_type: str = msgspec.field(name="JoinType", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    new_member_list: tuple[Member, ...] = msgspec.field(name="NewMemberList", default=())


class AfterMemberExit(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterMemberExit: users left a group (ExitType Kicked or Quit)."""

    command = "Group.CallbackAfterMemberExit"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    exit_type: str = msgspec.field(name="ExitType", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    exit_member_list: tuple[Member, ...] = msgspec.field(name="ExitMemberList", default=())


class AfterGroupFull(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupFull: a group is full (after a join, or a join failed on it)."""

    command = "Group.CallbackAfterGroupFull"
    group_id: str = msgspec.field(name="GroupId")
