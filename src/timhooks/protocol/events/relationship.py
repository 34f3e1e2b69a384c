"""Relationship webhooks: friends and blocklist (``Sns.*``), following (``Follow.*``).

The two ``Sns.CallbackPrev*`` webhooks are answered per recipient (``ResultItem``); the other
``Sns`` bodies document no EventTime.
"""

from __future__ import annotations

import msgspec

from timhooks.protocol.events.base import BeforeEvent, Event, Model

__all__ = [
    "AfterFollowAdd",
    "AfterFollowDelete",
    "BlackListAdd",
    "BlackListDelete",
    "FollowItem",
    "FriendAdd",
    "FriendDelete",
    "FriendItem",
    "FriendPair",
    "PrevFriendAdd",
    "PrevFriendResponse",
    "ResponseFriendItem",
]


class FriendItem(Model, frozen=True, kw_only=True):
    """One user a friend request goes to, with the requester's remark, list and wording.

    Follows "Before a Friend Is Added", https://trtc.io/document/43468.
    """

    to_account: str = msgspec.field(name="To_Account", default="")
    remark: str | None = msgspec.field(name="Remark", default=None)
    group_name: str | None = msgspec.field(name="GroupName", default=None)
    add_source: str | None = msgspec.field(name="AddSource", default=None)
    add_wording: str | None = msgspec.field(name="AddWording", default=None)


class PrevFriendAdd(BeforeEvent, frozen=True, kw_only=True):
    """Sns.CallbackPrevFriendAdd: a user sent friend requests from a client.

    Follows "Before a Friend Is Added", https://trtc.io/document/43468. Answer per recipient
    (``event.per_recipient({...})``, codes in [38000, 39000]); AddType is Add_Type_Single or
    Add_Type_Both, ForceAddFlags 1 for an admin's forced add.
    """

    command = "Sns.CallbackPrevFriendAdd"
    requester_account: str = msgspec.field(name="Requester_Account", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    friend_item: tuple[FriendItem, ...] = msgspec.field(name="FriendItem", default=())
    add_type: str | None = msgspec.field(name="AddType", default=None)
    force_add_flags: int | None = msgspec.field(name="ForceAddFlags", default=None)

    def recipients(self) -> tuple[str, ...]:
        """The users the requests go to, in the body's order."""
        return tuple(item.to_account for item in self.friend_item)


class ResponseFriendItem(Model, frozen=True, kw_only=True):
    """One answer to a friend request: whose request (To_Account) and the ResponseAction.

    Follows "Before a Friend Request Is Responded", https://trtc.io/document/43467.
    """

    to_account: str = msgspec.field(name="To_Account", default="")
    remark: str | None = msgspec.field(name="Remark", default=None)
    tag_name: str | None = msgspec.field(name="TagName", default=None)
    response_action: str = msgspec.field(name="ResponseAction", default="")


class PrevFriendResponse(BeforeEvent, frozen=True, kw_only=True):
    """Sns.CallbackPrevFriendResponse: a user accepts or rejects friend requests from a client.

    Follows "Before a Friend Request Is Responded", https://trtc.io/document/43467. ResponseAction
    is Response_Action_AgreeAndAdd, Response_Action_Agree or Response_Action_Reject; answered per
    recipient like PrevFriendAdd.
    """

    command = "Sns.CallbackPrevFriendResponse"
    requester_account: str = msgspec.field(name="Requester_Account", default="")
    from_account: str = msgspec.field(name="From_Account", default="")
    response_friend_item: tuple[ResponseFriendItem, ...] = msgspec.field(
        name="ResponseFriendItem", default=()
    )

    def recipients(self) -> tuple[str, ...]:
        """The users whose requests are answered, in the body's order."""
        return tuple(item.to_account for item in self.response_friend_item)


class FriendPair(Model, frozen=True, kw_only=True):
    """``To_Account`` added to (or removed from) ``From_Account``'s list.

    ``Initiator_Account`` (who started it) is sent by Sns.CallbackFriendAdd only. Follows
    "After a Friend Is Added", https://www.tencentcloud.com/document/product/1047/34359.
    """

    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: str = msgspec.field(name="To_Account", default="")
    initiator_account: str | None = msgspec.field(name="Initiator_Account", default=None)


class FriendAdd(Event, frozen=True, kw_only=True):
    """Sns.CallbackFriendAdd: friends were added (request, response, or an admin's force-add).

    Follows "After a Friend Is Added", https://www.tencentcloud.com/document/product/1047/34359.
    ClientCmd is friend_add/FriendAdd or friend_response/FriendResponse; Admin_Account is the
    admin for a REST add, else "".
    """

    command = "Sns.CallbackFriendAdd"
    pair_list: tuple[FriendPair, ...] = msgspec.field(name="PairList", default=())
    client_cmd: str = msgspec.field(name="ClientCmd", default="")
    admin_account: str = msgspec.field(name="Admin_Account", default="")
    force_flag: int = msgspec.field(name="ForceFlag", default=0)


class FriendDelete(Event, frozen=True, kw_only=True):
    """Sns.CallbackFriendDelete: friends were deleted.

    Follows "After a Friend Is Deleted", https://trtc.io/document/34360.
    """

    command = "Sns.CallbackFriendDelete"
    pair_list: tuple[FriendPair, ...] = msgspec.field(name="PairList", default=())


class BlackListAdd(Event, frozen=True, kw_only=True):
    """Sns.CallbackBlackListAdd: ``From_Account`` blocked each pair's ``To_Account``.

    Follows "After a User Is Added to Blocklist", https://trtc.io/document/34361.
    """

    command = "Sns.CallbackBlackListAdd"
    pair_list: tuple[FriendPair, ...] = msgspec.field(name="PairList", default=())


class BlackListDelete(Event, frozen=True, kw_only=True):
    """Sns.CallbackBlackListDelete: ``From_Account`` unblocked each pair's ``To_Account``.

    Follows "After a User Is Removed from Blocklist", https://trtc.io/document/34362.
    """

    command = "Sns.CallbackBlackListDelete"
    pair_list: tuple[FriendPair, ...] = msgspec.field(name="PairList", default=())


class FollowItem(Model, frozen=True, kw_only=True):
    """One ``{"To_Account": ...}`` item of ``FollowList``: a user now followed.

    Follows "After a User Is Followed", https://trtc.io/document/70355.
    """

    to_account: str = msgspec.field(name="To_Account", default="")


class AfterFollowAdd(Event, frozen=True, kw_only=True):
    """Follow.CallbackAfterFollowAdd: a user followed others.

    Follows "After a User Is Followed", https://trtc.io/document/70355.
    """

    command = "Follow.CallbackAfterFollowAdd"
    from_account: str = msgspec.field(name="From_Account", default="")
    follow_list: tuple[FollowItem, ...] = msgspec.field(name="FollowList", default=())


class AfterFollowDelete(Event, frozen=True, kw_only=True):
    """Follow.CallbackAfterFollowDelete: a user unfollowed others.

    Follows "After a User Is Unfollowed", https://trtc.io/document/70356. Unlike the add
    webhook's FollowList, ``To_Account`` is an array of user IDs.
    """

    command = "Follow.CallbackAfterFollowDelete"
    from_account: str = msgspec.field(name="From_Account", default="")
    to_account: tuple[str, ...] = msgspec.field(name="To_Account", default=())
