"""Cloud moderation results (``ContentCallback.ResultNotify``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

import msgspec

from timhooks.protocol.events.base import Event, Model

__all__ = ["ContactItem", "ResultNotify"]


class ContactItem(Model, frozen=True, kw_only=True):
    """Where the moderated content went: ContactType 1 a user (To_Account), 2 a group
    (ToGroupId).

    Follows "Cloud Moderation Webhooks",
    https://www.tencentcloud.com/document/product/1047/78240.
    """

    contact_type: int | None = msgspec.field(name="ContactType", default=None)
    to_account: str | None = msgspec.field(name="To_Account", default=None)
    to_group_id: str | None = msgspec.field(name="ToGroupId", default=None)


if TYPE_CHECKING:
    _Texts = tuple[str, ...]
else:
    # One document's table types TextContent as a String: a lone string is read too.
    _Texts = tuple[str, ...] | str


class ResultNotify(Event, frozen=True, kw_only=True):
    """ContentCallback.ResultNotify: cloud moderation judged a message, profile or group field.

    Follows "Cloud Moderation Webhooks", https://www.tencentcloud.com/document/product/1047/78240
    (and https://www.tencentcloud.com/document/product/1047/77840). The body has no
    CallbackCommand (the query's is used) and carries ``SdkAppId`` with a capital I. Scene is
    C2C, C2CCustom, Group, GroupCustom, GroupInfo, GroupMemberInfo, RelationChain or UserInfo;
    CtxcbResult 1 intercepted, 0 passed; CtxcbSuggestion Block, Review or Normal. ``MsgID`` is a
    one-to-one MsgKey or a group MsgSeq; ``TextContent`` is read as an array (a lone string as an
    array of one).
    """

    command = "ContentCallback.ResultNotify"
    body_has_command = False
    wire_aliases = MappingProxyType({"SdkAppid": "SdkAppId"})
    scene: str = msgspec.field(name="Scene", default="")
    sdk_app_id: int | None = msgspec.field(name="SdkAppId", default=None)
    from_account: str = msgspec.field(name="From_Account", default="")
    contact_item: ContactItem | None = msgspec.field(name="ContactItem", default=None)
    content_type: str = msgspec.field(name="ContentType", default="")
    text_content: _Texts = msgspec.field(name="TextContent", default=())
    file_url: str | None = msgspec.field(name="FileURL", default=None)
    msg_id: str | None = msgspec.field(name="MsgID", default=None)
    ctxcb_result: int | None = msgspec.field(name="CtxcbResult", default=None)
    ctxcb_request_id: str | None = msgspec.field(name="CtxcbRequestId", default=None)
    ctxcb_keywords: tuple[str, ...] = msgspec.field(name="CtxcbKeywords", default=())
    ctxcb_suggestion: str | None = msgspec.field(name="CtxcbSuggestion", default=None)
    ctxcb_label: str | None = msgspec.field(name="CtxcbLabel", default=None)
    ctxcb_sub_label: str | None = msgspec.field(name="CtxcbSubLabel", default=None)
    ctxcb_sub_label_desc: str | None = msgspec.field(name="CtxcbSubLabelDesc", default=None)
    ctxcb_lib_name: str | None = msgspec.field(name="CtxcbLibName", default=None)
    cloud_custom_data: str | None = msgspec.field(name="CloudCustomData", default=None)

    def __post_init__(self) -> None:
        if isinstance(self.text_content, str):
            msgspec.structs.force_setattr(self, "text_content", (self.text_content,))
