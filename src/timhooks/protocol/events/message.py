"""Message bodies: ``MsgBody`` elements with each ``MsgType``'s ``MsgContent``, and extensions.

Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527: a message is
an array of elements ``{"MsgType": ..., "MsgContent": {...}}`` and each type has its own content.
A type timhooks does not know reads as ``OtherContent`` (every field in ``extra``), so a new
element type never makes a webhook unreadable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from timhooks.protocol.errors import ConfigError
from timhooks.protocol.events.base import Model, convert

__all__ = [
    "CustomContent",
    "FaceContent",
    "FileContent",
    "ImageContent",
    "ImageInfo",
    "LocationContent",
    "MsgContent",
    "MsgElement",
    "MsgExtension",
    "OtherContent",
    "RelayContent",
    "RelayMessage",
    "SoundContent",
    "TextContent",
    "VideoFileContent",
    "message_text",
]


class MsgContent(Model, frozen=True, kw_only=True):
    """The content of one message element; each MsgType has its own subclass.

    Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527.
    """

    msg_type: ClassVar[str] = ""

    def describe(self) -> str:
        """A short text for summaries: the text of a text element, ``[image]`` for an image."""
        return f"[{self.msg_type.removeprefix('TIM').removesuffix('Elem').lower() or 'element'}]"


class TextContent(MsgContent, frozen=True, kw_only=True):
    """TIMTextElem: a text ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMTextElem"
    text: str = msgspec.field(name="Text", default="")

    def describe(self) -> str:
        """The text itself."""
        return self.text


class LocationContent(MsgContent, frozen=True, kw_only=True):
    """TIMLocationElem: a place ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMLocationElem"
    desc: str | None = msgspec.field(name="Desc", default=None)
    latitude: float | None = msgspec.field(name="Latitude", default=None)
    longitude: float | None = msgspec.field(name="Longitude", default=None)


class FaceContent(MsgContent, frozen=True, kw_only=True):
    """TIMFaceElem: an emoji by index ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMFaceElem"
    index: int | None = msgspec.field(name="Index", default=None)
    data: str | None = msgspec.field(name="Data", default=None)


class CustomContent(MsgContent, frozen=True, kw_only=True):
    """TIMCustomElem: app-defined data ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMCustomElem"
    data: str | None = msgspec.field(name="Data", default=None)
    desc: str | None = msgspec.field(name="Desc", default=None)
    ext: str | None = msgspec.field(name="Ext", default=None)
    sound: str | None = msgspec.field(name="Sound", default=None)


class SoundContent(MsgContent, frozen=True, kw_only=True):
    """TIMSoundElem: a voice clip ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMSoundElem"
    url: str | None = msgspec.field(name="Url", default=None)
    uuid: str | None = msgspec.field(name="UUID", default=None)
    size: int | None = msgspec.field(name="Size", default=None)
    second: int | None = msgspec.field(name="Second", default=None)
    download_flag: int | None = msgspec.field(name="Download_Flag", default=None)


class ImageInfo(Model, frozen=True, kw_only=True):
    """One size of an image: Type 1 original, 2 large, 3 thumbnail.

    Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527.
    """

    type: int | None = msgspec.field(name="Type", default=None)
    size: int | None = msgspec.field(name="Size", default=None)
    width: int | None = msgspec.field(name="Width", default=None)
    height: int | None = msgspec.field(name="Height", default=None)
    url: str | None = msgspec.field(name="URL", default=None)


class ImageContent(MsgContent, frozen=True, kw_only=True):
    """TIMImageElem: an image in its sizes ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMImageElem"
    uuid: str | None = msgspec.field(name="UUID", default=None)
    image_format: int | None = msgspec.field(name="ImageFormat", default=None)
    image_info_array: tuple[ImageInfo, ...] = msgspec.field(name="ImageInfoArray", default=())


class FileContent(MsgContent, frozen=True, kw_only=True):
    """TIMFileElem: a file ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMFileElem"
    url: str | None = msgspec.field(name="Url", default=None)
    uuid: str | None = msgspec.field(name="UUID", default=None)
    file_size: int | None = msgspec.field(name="FileSize", default=None)
    file_name: str | None = msgspec.field(name="FileName", default=None)
    download_flag: int | None = msgspec.field(name="Download_Flag", default=None)


class VideoFileContent(MsgContent, frozen=True, kw_only=True):
    """TIMVideoFileElem: a video and its thumbnail.

    Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527.
    """

    msg_type = "TIMVideoFileElem"
    video_url: str | None = msgspec.field(name="VideoUrl", default=None)
    video_uuid: str | None = msgspec.field(name="VideoUUID", default=None)
    video_size: int | None = msgspec.field(name="VideoSize", default=None)
    video_second: int | None = msgspec.field(name="VideoSecond", default=None)
    video_format: str | None = msgspec.field(name="VideoFormat", default=None)
    video_download_flag: int | None = msgspec.field(name="VideoDownloadFlag", default=None)
    thumb_url: str | None = msgspec.field(name="ThumbUrl", default=None)
    thumb_uuid: str | None = msgspec.field(name="ThumbUUID", default=None)
    thumb_size: int | None = msgspec.field(name="ThumbSize", default=None)
    thumb_width: int | None = msgspec.field(name="ThumbWidth", default=None)
    thumb_height: int | None = msgspec.field(name="ThumbHeight", default=None)
    thumb_format: str | None = msgspec.field(name="ThumbFormat", default=None)
    thumb_download_flag: int | None = msgspec.field(name="ThumbDownloadFlag", default=None)


class RelayMessage(Model, frozen=True, kw_only=True):
    """One forwarded message inside a TIMRelayElem's MsgList.

    Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527.
    """

    from_account: str | None = msgspec.field(name="From_Account", default=None)
    to_account: str | None = msgspec.field(name="To_Account", default=None)
    group_id: str | None = msgspec.field(name="GroupId", default=None)
    msg_seq: int | None = msgspec.field(name="MsgSeq", default=None)
    msg_random: int | None = msgspec.field(name="MsgRandom", default=None)
    msg_time_stamp: int | None = msgspec.field(name="MsgTimeStamp", default=None)
    msg_body: tuple[MsgElement, ...] = msgspec.field(name="MsgBody", default=())
    cloud_custom_data: str | None = msgspec.field(name="CloudCustomData", default=None)


class RelayContent(MsgContent, frozen=True, kw_only=True):
    """TIMRelayElem: forwarded messages ("Message Formats", https://www.tencentcloud.com/document/product/1047/33527)."""

    msg_type = "TIMRelayElem"
    title: str | None = msgspec.field(name="Title", default=None)
    msg_num: int | None = msgspec.field(name="MsgNum", default=None)
    compatible_text: str | None = msgspec.field(name="CompatibleText", default=None)
    abstract_list: tuple[str, ...] = msgspec.field(name="AbstractList", default=())
    msg_list: tuple[RelayMessage, ...] = msgspec.field(name="MsgList", default=())
    json_msg_key: str | None = msgspec.field(name="JsonMsgKey", default=None)


class OtherContent(MsgContent, frozen=True, kw_only=True):
    """The content of an element type timhooks does not know: every field is in ``extra``.

    The types known are those of "Message Formats", https://www.tencentcloud.com/document/product/1047/33527.
    """


_CONTENT: dict[str, type[MsgContent]] = {
    c.msg_type: c
    for c in (
        TextContent,
        LocationContent,
        FaceContent,
        CustomContent,
        SoundContent,
        ImageContent,
        FileContent,
        VideoFileContent,
        RelayContent,
    )
}


def _content_model(element: Mapping[str, Any]) -> type[Model]:
    msg_type = element.get("MsgType")
    return _CONTENT.get(msg_type, OtherContent) if isinstance(msg_type, str) else OtherContent


if TYPE_CHECKING:
    _Content = MsgContent
else:
    # On the wire MsgContent is any object; __post_init__ converts it by MsgType.
    _Content = Any


class MsgElement(Model, frozen=True, kw_only=True):
    """One element of a MsgBody: ``MsgType`` and its typed ``MsgContent``.

    Follows "Message Formats", https://www.tencentcloud.com/document/product/1047/33527. Build
    one with ``MsgElement.text("hello")`` or ``MsgElement(msg_content=CustomContent(...))``.
    """

    dynamic = MappingProxyType({"MsgContent": _content_model})

    msg_type: str = msgspec.field(name="MsgType", default="")
    msg_content: _Content = msgspec.field(name="MsgContent", default_factory=OtherContent)

    def __post_init__(self) -> None:
        content: Any = self.msg_content
        if type(content) is OtherContent and not content.extra:
            content = {}  # no content given: the empty content of the element's type
        if isinstance(content, MsgContent):
            if not self.msg_type:
                msgspec.structs.force_setattr(self, "msg_type", content.msg_type)
            elif content.msg_type and content.msg_type != self.msg_type:
                raise ConfigError(f"{type(content).__name__} is not the content of {self.msg_type}")
            return
        if not isinstance(content, dict):
            raise TypeError("MsgContent must be an object")
        model = _content_model({"MsgType": self.msg_type})
        try:
            typed = convert(content, model)
        except msgspec.ValidationError as exc:
            raise ValueError(f"MsgContent of {self.msg_type or 'an element'}: {exc}") from None
        msgspec.structs.force_setattr(self, "msg_content", typed)

    @classmethod
    def text(cls, text: str) -> MsgElement:
        """A TIMTextElem element."""
        return cls(msg_type=TextContent.msg_type, msg_content=TextContent(text=text))

    @classmethod
    def custom(
        cls,
        data: str,
        *,
        desc: str | None = None,
        ext: str | None = None,
        sound: str | None = None,
    ) -> MsgElement:
        """A TIMCustomElem element."""
        content = CustomContent(data=data, desc=desc, ext=ext, sound=sound)
        return cls(msg_type=CustomContent.msg_type, msg_content=content)


def message_text(body: Iterable[MsgElement]) -> str:
    """The readable text of a MsgBody: text elements as they are, others as ``[image]`` etc."""
    parts = []
    for element in body:
        content = element.msg_content
        if isinstance(content, OtherContent):
            parts.append(f"[{element.msg_type or 'element'}]")
        elif isinstance(content, MsgContent):
            parts.append(content.describe())
    return " ".join(p for p in parts if p)


class MsgExtension(Model, frozen=True, kw_only=True):
    """One key of a message's extensions (``ExtensionList``): Key, Value and its version Seq.

    Follows "After a One-to-One Message Extension Is Configured",
    https://www.tencentcloud.com/document/product/1047/76006 (a deleted key comes with Value "").
    """

    key: str = msgspec.field(name="Key", default="")
    value: str = msgspec.field(name="Value", default="")
    seq: int | None = msgspec.field(name="Seq", default=None)
