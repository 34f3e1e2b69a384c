"""Community topic webhooks (``Group.*Topic*``); they share the group webhooks' console switches.

``TopicId`` looks like ``@TGS#_<GroupId>@TOPIC#_<name>``. None of the four bodies documents an
EventTime.
"""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event
from timhooks.protocol.events.group import UserDefinedData

__all__ = [
    "AfterCreateTopic",
    "AfterTopicDestroyed",
    "AfterTopicInfoChanged",
    "BeforeCreateTopic",
]


class BeforeCreateTopic(BeforeEvent, frozen=True, kw_only=True):
    """Group.CallbackBeforeCreateTopic: a topic is about to be created in a Community.

    Follows "Before a Topic Is Created", https://tencentcloud.com/document/product/1047/49463.
    The documented body names no GroupId; one is read if it comes.
    """

    command = "Group.CallbackBeforeCreateTopic"
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    type: str = msgspec.field(name="Type", default="")
    name: str = msgspec.field(name="Name", default="")
    group_id: str | None = msgspec.field(name="GroupId", default=None)


class AfterCreateTopic(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterCreateTopic: a topic was created.

    Follows "After a Topic Is Created", https://trtc.io/document/49464. ``UserDefinedDataList``
    comes only when topic custom fields are on.
    """

    command = "Group.CallbackAfterCreateTopic"
    group_id: str = msgspec.field(name="GroupId")
    topic_id: str = msgspec.field(name="TopicId", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    owner_account: str = msgspec.field(name="Owner_Account", default="")
    type: str = msgspec.field(name="Type", default="")
    name: str = msgspec.field(name="Name", default="")
    user_defined_data_list: tuple[UserDefinedData, ...] | None = msgspec.field(
        name="UserDefinedDataList", default=None
    )


class AfterTopicDestroyed(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterTopicDestroyed: topics were deleted.

    Follows "After a Topic Is Deleted", https://tencentcloud.com/document/product/1047/49465.
    ``TopicIdList`` is typed String in the table but is an array of strings.
    """

    command = "Group.CallbackAfterTopicDestroyed"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    topic_id_list: tuple[str, ...] = msgspec.field(name="TopicIdList", default=())


class AfterTopicInfoChanged(Event, frozen=True, kw_only=True):
    """Group.CallbackAfterTopicInfoChanged: a topic's name, introduction, notice or face changed.

    Follows "Topic Profile Change Webhook", https://tencentcloud.com/document/product/1047/49466.
    The documented body holds the changed fields and no TopicId; one is read if it comes.
    """

    command = "Group.CallbackAfterTopicInfoChanged"
    group_id: str = msgspec.field(name="GroupId")
    type: str = msgspec.field(name="Type", default="")
    operator_account: str = msgspec.field(name="Operator_Account", default="")
    topic_id: str | None = msgspec.field(name="TopicId", default=None)
    name: str | None = msgspec.field(name="Name", default=None)
    introduction: str | None = msgspec.field(name="Introduction", default=None)
    notification: str | None = msgspec.field(name="Notification", default=None)
    face_url: str | None = msgspec.field(name="FaceUrl", default=None)
