"""Group webhooks about the group itself: creation, membership, profile, attributes, owner.

``Type`` is the group type (Private/Work, Public, ChatRoom/Meeting, AVChatRoom, Community).
Member lists are arrays of ``{"Member_Account": id}``. Many English samples quote EventTime
(``"1670574414123"``); it is read either way.
"""

from __future__ import annotations

from types import MappingProxyType

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event, Model

__all__ = [
    "AfterChangeGroupOwner",
    "AfterCreateGroup",
    "AfterGroupAttrChanged",
    "AfterGroupDestroyed",
    "AfterGroupFull",
    "AfterGroupInfoChanged",
    "AfterMemberExit",
    "AfterMemberFieldChanged",
    "AfterNewMemberJoin",
    "BeforeApplyJoinGroup",
    "BeforeCreateGroup",
    "BeforeInviteJoinGroup",
    "GroupAttr",
    "Member",
    "OnDailyGroupQuotaAlarm",
    "OnMemberStateChange",
    "UserDefinedData",
]


class Member(Model, frozen=True, kw_only=True):
    """One ``{"Member_Account": ...}`` item of a group member list.

    Follows "After a User Joins a Group", https://trtc.io/document/34372 (and the other group
    pages).
    """

    member_account: str = msgspec.field(name="Member_Account")


class UserDefinedData(Model, frozen=True, kw_only=True):
    """One ``{"Key": ..., "Value": ...}`` item of ``UserDefinedDataList`` (custom fields).

    Follows "After a Group Is Created", https://trtc.io/document/34369.
    """

    key: str = msgspec.field(name="Key")
    value: str = msgspec.field(name="Value", default="")


class GroupAttr(Model, frozen=True, kw_only=True):
    """One group attribute: ``{"key": ..., "value": ...}``, in lower case on the wire.

    Follows "Callback After Group Attribute Changed", https://trtc.io/document/60394.
    """

    key: str = msgspec.field(name="key", default="")
    value: str = msgspec.field(name="value", default="")


# --- creation and membership ------------------------------------------------------------------


class BeforeCreateGroup(BeforeEvent, frozen=True, kw_only=True):
    """Group.CallbackBeforeCreateGroup: a group is about to be created.

    Follows "Before a Group Is Created", https://trtc.io/document/34368.
    """

    command = "Group.CallbackBeforeCreateGroup"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    type: str = msgspec.field(name="Type", default="")
    name: str = msgspec.field(name="Name", default="")
    create_group_num: int = msgspec.field(name="CreateGroupNum", default=0)
    member_list: tuple[Member, ...] = msgspec.field(name="MemberList", default=())


class AfterCreateGroup(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterCreateGroup: a group was created.

    Follows "After a Group Is Created", https://trtc.io/document/34369.
    """

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


class BeforeApplyJoinGroup(BeforeEvent, frozen=True, kw_only=True):
    """Group.CallbackBeforeApplyJoinGroup: a user asks to join a group.

    Follows "Before Applying to Join a Group", https://trtc.io/document/34370.
    """

    command = "Group.CallbackBeforeApplyJoinGroup"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    requestor_account: str = msgspec.field(name="Requestor_Account", default="")


class BeforeInviteJoinGroup(BeforeEvent, frozen=True, kw_only=True):
    """Group.CallbackBeforeInviteJoinGroup: users are about to be invited or added to a group.

    Follows "Before Inviting a User to a Group", https://trtc.io/document/34371.
    """

    command = "Group.CallbackBeforeInviteJoinGroup"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    destination_members: tuple[Member, ...] = msgspec.field(name="DestinationMembers", default=())


class AfterNewMemberJoin(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterNewMemberJoin: users joined a group (JoinType Apply or Invited).

    Follows "After a User Joins a Group", https://trtc.io/document/34372.
    """

    command = "Group.CallbackAfterNewMemberJoin"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    join_type: str = msgspec.field(name="JoinType", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    new_member_list: tuple[Member, ...] = msgspec.field(name="NewMemberList", default=())


class AfterMemberExit(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterMemberExit: users left a group (ExitType Kicked or Quit).

    Follows "After a User Leaves a Group", https://trtc.io/document/34373.
    """

    command = "Group.CallbackAfterMemberExit"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    exit_type: str = msgspec.field(name="ExitType", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    exit_member_list: tuple[Member, ...] = msgspec.field(name="ExitMemberList", default=())


class AfterGroupFull(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupFull: a group is full (after a join, or a join failed on it).

    Follows "After a Group Is Full", https://trtc.io/document/34376.
    """

    command = "Group.CallbackAfterGroupFull"
    group_id: str = msgspec.field(name="GroupId")


# --- the group's life after creation -----------------------------------------------------------


class AfterGroupDestroyed(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupDestroyed: a group was disbanded.

    Follows "After a Group Is Disbanded", https://tencentcloud.com/document/product/1047/34377.
    ``MemberList`` is not sent for Community groups; ``Name`` is in the sample only.
    """

    command = "Group.CallbackAfterGroupDestroyed"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    name: str | None = msgspec.field(name="Name", default=None)
    member_list: tuple[Member, ...] = msgspec.field(name="MemberList", default=())


class AfterGroupInfoChanged(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupInfoChanged: a group's name, introduction, notice, face or
    custom fields changed.

    Follows "After Group Profile Is Modified", https://trtc.io/document/34378. The body holds
    only the fields that changed: the others are None.
    """

    command = "Group.CallbackAfterGroupInfoChanged"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    name: str | None = msgspec.field(name="Name", default=None)
    introduction: str | None = msgspec.field(name="Introduction", default=None)
    notification: str | None = msgspec.field(name="Notification", default=None)
    face_url: str | None = msgspec.field(name="FaceUrl", default=None)
    user_defined_data_list: tuple[UserDefinedData, ...] | None = msgspec.field(
        name="UserDefinedDataList", default=None
    )


class OnMemberStateChange(Event, frozen=True, kw_only=True):
    """Group.CallbackOnMemberStateChange: audio-video group members went online or offline.

    Follows "Webhook for Online and Offline Status of Audio-Video Group Members",
    https://trtc.io/document/48734. EventType is Online or Offline; EventCause
    (HeartbeatInterrupt, HeartbeatRecover, Join, Quit) is in the field table only.
    """

    command = "Group.CallbackOnMemberStateChange"
    group_id: str = msgspec.field(name="GroupId")
    type: str | None = msgspec.field(name="Type", default=None)
    event_type: str = msgspec.field(name="EventType", default="")
    event_cause: str | None = msgspec.field(name="EventCause", default=None)
    member_list: tuple[Member, ...] = msgspec.field(name="MemberList", default=())


class AfterMemberFieldChanged(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterMemberFieldChanged: a member's role or name card changed.

    Follows "Callback After Group Member Profile Changed",
    https://tencentcloud.com/document/product/1047/60393. The mainland document
    (https://cloud.tencent.com/document/product/269/105353) names the member
    ``Modified_Account``; both spellings are read into ``member_account``.
    """

    command = "Group.CallbackAfterMemberFieldChanged"
    wire_aliases = MappingProxyType({"Modified_Account": "Member_Account"})
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    member_account: str = msgspec.field(name="Member_Account", default="")
    role: str | None = msgspec.field(name="Role", default=None)
    name_card: str | None = msgspec.field(name="NameCard", default=None)


class AfterGroupAttrChanged(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterGroupAttrChanged: group attributes were set, modified, cleared or
    deleted (OptionType set, modify, clear, delete).

    Follows "Callback After Group Attribute Changed", https://trtc.io/document/60394.
    """

    command = "Group.CallbackAfterGroupAttrChanged"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    option_type: str = msgspec.field(name="OptionType", default="")
    group_attr: tuple[GroupAttr, ...] = msgspec.field(name="GroupAttr", default=())


class AfterChangeGroupOwner(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterChangeGroupOwner: a group's owner changed.

    Follows "Callback After the Group Owner Changed", https://trtc.io/document/60396.
    """

    command = "Group.CallbackAfterChangeGroupOwner"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    old_owner_account: str = msgspec.field(name="OldOwner_Account", default="")
    new_owner_account: str = msgspec.field(name="NewOwner_Account", default="")


class OnDailyGroupQuotaAlarm(Event, frozen=True, kw_only=True):
    """Group.CallbackOnDailyGroupQuotaAlarm: today's net new groups passed 70 % of the limit.

    Follows "Group Creation Daily Net Increase Threshold Alarm Callback",
    https://trtc.io/document/57455.
    """

    command = "Group.CallbackOnDailyGroupQuotaAlarm"
    quota_used: int = msgspec.field(name="QuotaUsed", default=0)
    quota: int = msgspec.field(name="Quota", default=0)
