"""Community topics: creating, changing, deleting and reading them, with their webhooks.

Tencent's ``million_group_open_http_svc`` commands "Creating Topic"
(https://trtc.io/document/49471), "Deleting Topic" (https://trtc.io/document/49470), "Modifying
Topic Profile" (https://tencentcloud.com/document/product/1047/49468) and "Getting Topic
Profile" (https://tencentcloud.com/document/product/1047/49469), for a Community created with
``SupportTopic`` 1 only. A topic's ID is its group's ID, ``@TOPIC#_`` and a name
(``@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic``); an ID of its own must have that form.

The four topic webhooks have no switches of their own: each follows its group webhook's
(BeforeCreateTopic that of BeforeCreateGroup, AfterCreateTopic AfterCreateGroup's,
AfterTopicDestroyed AfterGroupDestroyed's, AfterTopicInfoChanged AfterGroupInfoChanged's:
"Before a Topic Is Created", https://tencentcloud.com/document/product/1047/49463, and the
other three pages). A plain deny of BeforeCreateTopic is 10016; a custom code in [10100, 10200]
reaches the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported
from timhooks.server.bodies import Body, NonEmpty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.groups import ON_OFF, group_key, group_row, role_of
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row, per_item, placeholders, random_id
from timhooks.storage.engine import Connection

__all__ = ["TOPIC_SERVICE", "commands", "drop_topics", "topic_call"]

TOPIC_SERVICE = "million_group_open_http_svc"
TOPIC_MARK = "@TOPIC#_"
# Codes of "Deleting Topic" (https://trtc.io/document/49470): the group has no topic feature;
# the topic is already deleted.
NO_TOPICS = 11000
TOPIC_GONE = 110003

commands = CommandTable(bad_param=RestCode.BAD_PARAM)

# Each topic webhook's switch: its group webhook's.
_SWITCH_OF = {
    ev.BeforeCreateTopic.command: ev.BeforeCreateGroup.command,
    ev.AfterCreateTopic.command: ev.AfterCreateGroup.command,
    ev.AfterTopicDestroyed.command: ev.AfterGroupDestroyed.command,
    ev.AfterTopicInfoChanged.command: ev.AfterGroupInfoChanged.command,
}


class CreateTopic(Body, frozen=True, kw_only=True):
    """million_group_open_http_svc/create_topic."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    name: NonEmpty = msgspec.field(name="TopicName")
    topic_id: str = msgspec.field(name="TopicId", default="")
    owner: str = msgspec.field(name="From_Account", default="")
    custom_string: str = msgspec.field(name="CustomString", default="")
    face_url: str = msgspec.field(name="FaceUrl", default="")
    introduction: str = msgspec.field(name="Introduction", default="")
    notification: str = msgspec.field(name="Notification", default="")


class DestroyTopic(Body, frozen=True, kw_only=True):
    """million_group_open_http_svc/destroy_topic."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    topic_ids: Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=100)] = (
        msgspec.field(name="TopicIdList")
    )


class ModifyTopic(Body, frozen=True, kw_only=True):
    """million_group_open_http_svc/modify_topic: the fields given are changed."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    topic_id: NonEmpty = msgspec.field(name="TopicId")
    name: NonEmpty | UnsetType = msgspec.field(name="TopicName", default=UNSET)
    introduction: str | UnsetType = msgspec.field(name="Introduction", default=UNSET)
    notification: str | UnsetType = msgspec.field(name="Notification", default=UNSET)
    face_url: str | UnsetType = msgspec.field(name="FaceUrl", default=UNSET)
    custom_string: str | UnsetType = msgspec.field(name="CustomString", default=UNSET)
    mute_all: Annotated[str, one_of(ON_OFF)] | UnsetType = msgspec.field(
        name="MuteAllMember", default=UNSET
    )


class GetTopic(Body, frozen=True, kw_only=True):
    """million_group_open_http_svc/get_topic: the topics named, or all of the group's."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    topic_ids: list[NonEmpty] = msgspec.field(name="TopicIdList", default_factory=list)
    # The member whose SelfInfo the page would add: read, not used (no SelfInfo is sent).
    from_account: str = msgspec.field(name="From_Account", default="")


def topic_call(call: Call) -> Call:
    """``call`` with each topic webhook switched as its group webhook is."""
    on = call.callback.commands
    switched = (on - _SWITCH_OF.keys()) | {t for t, g in _SWITCH_OF.items() if g in on}
    return dataclasses.replace(
        call, callback=dataclasses.replace(call.callback, commands=frozenset(switched))
    )


# --- rows --------------------------------------------------------------------------------------


def topic_group(conn: Connection, call: Call, group_id: str, *, lock: bool = False) -> Row:
    """The group, which must be a Community with topics (11000 otherwise)."""
    row = group_row(conn, call.app_id, group_id, lock=lock)
    if row["type"] != "Community" or not row["support_topic"]:
        raise RestError(
            NO_TOPICS,
            f"group {group_id!r} has no topics: create a Community with SupportTopic 1",
        )
    if not call.rest and role_of(conn, call.app_id, group_id, call.operator) not in (
        "Owner",
        "Admin",
    ):
        raise RestError(RestCode.NO_PERMISSION, "only the Owner or an Admin may do this")
    return row


def topic_row(conn: Connection, app_id: int, group_id: str, topic_id: str) -> Row:
    """A topic of the group, or RestError 10010 (the pages name no code of their own)."""
    row: Row | None = conn.execute(
        "SELECT * FROM group_topics WHERE sdk_app_id = ? AND group_id = ? AND topic_id = ?",
        (app_id, group_id, topic_id),
    ).fetchone()
    if row is None:
        raise RestError(RestCode.GROUP_NOT_FOUND, f"topic {topic_id!r} does not exist")
    return row


def drop_topics(conn: Connection, app_id: int, group_id: str) -> None:
    """Remove every topic of a group (it is being dismissed)."""
    conn.execute(
        "DELETE FROM group_topics WHERE sdk_app_id = ? AND group_id = ?", (app_id, group_id)
    )


def check_create_topic(conn: Connection, call: Call, body: CreateTopic) -> None:
    """What create_topic checks before asking the app."""
    topic_group(conn, call, body.group_id)
    if body.owner and not imported(conn, call.app_id, [body.owner]):
        raise RestError(RestCode.ACCOUNT_NOT_FOUND, f"account {body.owner!r} is not imported")
    if body.topic_id:
        prefix = body.group_id + TOPIC_MARK
        ok = len(body.topic_id) > len(prefix) and body.topic_id.startswith(prefix)
        if not ok or not all(0x20 < ord(c) <= 0x7E for c in body.topic_id):
            raise RestError(
                RestCode.BAD_PARAM,
                f"TopicId must be printable ASCII starting with {prefix!r} and a name after it",
            )
        if _taken(conn, call.app_id, body.topic_id):
            raise RestError(RestCode.GROUP_ID_IN_USE, f"TopicId {body.topic_id!r} is in use")


def _taken(conn: Connection, app_id: int, topic_id: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM group_topics WHERE sdk_app_id = ? AND topic_id = ?", (app_id, topic_id)
        ).fetchone()
    )


def create_topic_tx(conn: Connection, call: Call, body: CreateTopic) -> str:
    """Create a topic; queue AfterCreateTopic; return its TopicId."""
    topic_group(conn, call, body.group_id, lock=True)
    check_create_topic(conn, call, body)
    topic_id = body.topic_id
    while not topic_id:
        candidate = f"{body.group_id}{TOPIC_MARK}@TOPIC#{random_id(12)}"
        if not _taken(conn, call.app_id, candidate):
            topic_id = candidate
    conn.execute(
        "INSERT INTO group_topics (sdk_app_id, group_id, topic_id, name, owner, introduction,"
        " notification, face_url, custom_string, create_time)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            call.app_id,
            body.group_id,
            topic_id,
            body.name,
            body.owner,
            body.introduction,
            body.notification,
            body.face_url,
            body.custom_string,
            call.seconds,
        ),
    )
    emit(
        conn,
        call,
        ev.AfterCreateTopic,
        group_id=body.group_id,
        topic_id=topic_id,
        operator_account=call.operator,
        owner_account=body.owner or call.operator,
        type="Community",
        name=body.name,
    )
    return topic_id


def destroy_topics_tx(
    conn: Connection, call: Call, group_id: str, topic_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Delete topics; queue AfterTopicDestroyed for those deleted; a result per TopicId."""
    topic_group(conn, call, group_id, lock=True)
    wanted = list(dict.fromkeys(topic_ids))
    gone = {
        r[0]
        for r in conn.execute(
            f"DELETE FROM group_topics WHERE sdk_app_id = ? AND group_id = ? AND topic_id IN"
            f" ({placeholders(len(wanted))}) RETURNING topic_id",
            (call.app_id, group_id, *wanted),
        ).fetchall()
    }
    if gone:
        emit(
            conn,
            call,
            ev.AfterTopicDestroyed,
            group_id=group_id,
            type="Community",
            topic_id_list=tuple(t for t in wanted if t in gone),
        )
    return [
        {"TopicId": t, "ErrorCode": 0, "ErrorInfo": ""}
        if t in gone
        else {
            "TopicId": t,
            "ErrorCode": TOPIC_GONE,
            "ErrorInfo": f"topic {t!r} does not exist or is already deleted",
        }
        for t in wanted
    ]


def modify_topic_tx(conn: Connection, call: Call, body: ModifyTopic) -> None:
    """Change a topic's profile; queue AfterTopicInfoChanged when its name, introduction,
    notification or face changed."""
    topic_group(conn, call, body.group_id, lock=True)
    row = topic_row(conn, call.app_id, body.group_id, body.topic_id)
    columns: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for attr in ("name", "introduction", "notification", "face_url", "custom_string"):
        value = getattr(body, attr)
        if not isinstance(value, UnsetType) and value != row[attr]:
            columns[attr] = value
            if attr != "custom_string":
                shown[attr] = value
    if not isinstance(body.mute_all, UnsetType):
        columns["shut_up_all"] = int(body.mute_all == "On")
    if columns:
        sets = ", ".join(f"{column} = ?" for column in columns)
        conn.execute(
            f"UPDATE group_topics SET {sets} WHERE sdk_app_id = ? AND topic_id = ?",
            (*columns.values(), call.app_id, body.topic_id),
        )
    if shown:
        emit(
            conn,
            call,
            ev.AfterTopicInfoChanged,
            group_id=body.group_id,
            type="Community",
            operator_account=call.operator,
            **shown,
        )


def _topic_info(row: Row) -> dict[str, Any]:
    return {
        "TopicInfo": {
            "TopicId": row["topic_id"],
            "TopicName": row["name"],
            "Introduction": row["introduction"],
            "Notification": row["notification"],
            "FaceUrl": row["face_url"],
            "CustomString": row["custom_string"],
            "CreateTime": row["create_time"],
            "ShutUpAllFlag": int(row["shut_up_all"]),
        }
    }


def topic_infos(conn: Connection, call: Call, body: GetTopic) -> list[dict[str, Any]]:
    """get_topic items: ``{ErrorCode, ErrorInfo, TopicInfo}`` for each topic named (a per-item
    10010 for an unknown one), or for each of the group's."""
    topic_group(conn, call, body.group_id)
    ids = body.topic_ids or [
        r[0]
        for r in conn.execute(
            "SELECT topic_id FROM group_topics WHERE sdk_app_id = ? AND group_id = ?"
            " ORDER BY create_time, topic_id",
            (call.app_id, body.group_id),
        ).fetchall()
    ]
    items = per_item(
        ids, "TopicId", lambda t: topic_row(conn, call.app_id, body.group_id, t), _topic_info
    )
    for item in items:  # the ID is inside TopicInfo, or beside the error
        if "TopicInfo" in item:
            del item["TopicId"]
    return items


# --- commands ----------------------------------------------------------------------------------


@commands.client("create_topic", CreateTopic)
@commands.admin(TOPIC_SERVICE, "create_topic", CreateTopic)
async def create_topic(svc: ChatService, call: Call, body: CreateTopic) -> dict[str, Any]:
    """Create a topic in a Community with topics (from the client: its owner or an admin);
    BeforeCreateTopic may veto it."""
    call = topic_call(call)
    await svc.read(lambda c: check_create_topic(c, call, body))
    # The documented body names no GroupId (https://trtc.io/document/49463).
    await svc.ask(
        call, ev.BeforeCreateTopic, operator_account=call.operator, type="Community", name=body.name
    )
    topic_id = await svc.change(
        lambda c: create_topic_tx(c, call, body), group_key(call.app_id, body.group_id)
    )
    return {"TopicId": topic_id}


@commands.admin(TOPIC_SERVICE, "destroy_topic", DestroyTopic)
async def destroy_topic(svc: ChatService, call: Call, body: DestroyTopic) -> dict[str, Any]:
    """Delete up to 100 topics: a DestroyResultItem per TopicId."""
    call = topic_call(call)
    items = await svc.change(
        lambda c: destroy_topics_tx(c, call, body.group_id, body.topic_ids),
        group_key(call.app_id, body.group_id),
    )
    return {"DestroyResultItem": items}


@commands.admin(TOPIC_SERVICE, "modify_topic", ModifyTopic)
async def modify_topic(svc: ChatService, call: Call, body: ModifyTopic) -> dict[str, Any]:
    """Change a topic's profile."""
    call = topic_call(call)
    await svc.change(
        lambda c: modify_topic_tx(c, call, body), group_key(call.app_id, body.group_id)
    )
    return {}


@commands.admin(TOPIC_SERVICE, "get_topic", GetTopic)
async def get_topic(svc: ChatService, call: Call, body: GetTopic) -> dict[str, Any]:
    """Profiles of the topics named, or of every topic of the group (``TopicAndSelfInfo``)."""
    items = await svc.read(lambda c: topic_infos(c, call, body))
    return {"TopicAndSelfInfo": items}
