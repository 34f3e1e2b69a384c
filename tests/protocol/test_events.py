"""Parsing webhook bodies into typed events: the Official Account and group-membership commands,
and what every event shares (EventTime, extra, unknown commands, malformed bodies)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from timhooks.protocol import (
    COMMANDS,
    CommandMismatch,
    MalformedRequest,
    UnknownEvent,
    parse_event,
)
from timhooks.protocol import events as ev

T = 1670574414123
MSG_BODY = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]

# One body per Official Account and group-membership command with every documented field
# (https://trtc.io/document/60795 to 60805, 34368 to 34376); test_catalog_samples.py covers the
# other commands with the samples of their pages.
FULL_BODIES: dict[str, dict[str, Any]] = {
    "OfficialAccount.CallbackBeforeCreateOfficialAccount": {
        "Operator_Account": "admin",
        "Owner_Account": "owner",
        "Name": "News",
    },
    "OfficialAccount.CallbackAfterCreateOfficialAccount": {
        "Official_Account": "@TOA#_news",
        "Operator_Account": "admin",
        "Owner_Account": "owner",
        "Name": "News",
    },
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": {
        "Official_Account": "@TOA#_news",
        "Operator_Account": "admin",
        "Introduction": "daily news",
        "Name": "News",
        "FaceUrl": "https://example.com/face.png",
        "Organization": "ACME",
    },
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed": {
        "Official_Account": "@TOA#_news",
        "Owner_Account": "owner",
        "Name": "News",
    },
    "OfficialAccount.CallbackBeforeAddSubscriber": {
        "Official_Account": "@TOA#_news",
        "Operator_Account": "u1",
        "SubscribeAccountList": [{"Subscriber_Account": "u1"}, {"Subscriber_Account": "u2"}],
    },
    "OfficialAccount.CallbackAfterAddSubscriber": {
        "Official_Account": "@TOA#_news",
        "Operator_Account": "u1",
        "SubscribeAccountList": [{"Subscriber_Account": "u1"}],
    },
    "OfficialAccount.CallbackAfterOfficialAccountFull": {"Official_Account": "@TOA#_news"},
    "OfficialAccount.CallbackAfterDeleteSubscriber": {
        "Official_Account": "@TOA#_news",
        "Operator_Account": "u1",
        "SubscribeAccountList": [{"Subscriber_Account": "u1"}],
    },
    "OfficialAccount.CallbackBeforeSendMsg": {
        "Official_Account": "@TOA#_news",
        "OnlineOnlyFlag": 1,
        "MsgBody": MSG_BODY,
        "CloudCustomData": "cc",
    },
    "OfficialAccount.CallbackAfterSendMsg": {
        "Official_Account": "@TOA#_news",
        "MsgKey": "71_1_1698741698",
        "MsgTime": 1698741698,
        "OnlineOnlyFlag": 0,
        "MsgBody": MSG_BODY,
        "CloudCustomData": "",
    },
    "OfficialAccount.CallbackAfterMsgWithDraw": {
        "Official_Account": "@TOA#_news",
        "WithdrawMsgList": [{"MsgKey": "71_1_1698741698"}, {"MsgKey": "71_2_1698741699"}],
    },
    "Group.CallbackBeforeCreateGroup": {
        "Operator_Account": "leckie",
        "Owner_Account": "leckie",
        "Type": "Public",
        "Name": "test",
        "CreateGroupNum": 3,
        "MemberList": [{"Member_Account": "bob"}, {"Member_Account": "peter"}],
    },
    "Group.CallbackAfterCreateGroup": {
        "GroupId": "@TGS#2J4SZEAEL",
        "Operator_Account": "leckie",
        "Owner_Account": "leckie",
        "Type": "Public",
        "Name": "test",
        "MemberList": [{"Member_Account": "bob"}],
        "UserDefinedDataList": [{"Key": "k", "Value": "v"}],
    },
    "Group.CallbackBeforeApplyJoinGroup": {
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Public",
        "Requestor_Account": "jared",
    },
    "Group.CallbackBeforeInviteJoinGroup": {
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Public",
        "Operator_Account": "leckie",
        "DestinationMembers": [{"Member_Account": "jared"}],
    },
    "Group.CallbackAfterNewMemberJoin": {
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Public",
        "JoinType": "Apply",
        "Operator_Account": "leckie",
        "NewMemberList": [{"Member_Account": "jared"}],
    },
    "Group.CallbackAfterMemberExit": {
        "GroupId": "@TGS#2J4SZEAEL",
        "Type": "Public",
        "ExitType": "Kicked",
        "Operator_Account": "leckie",
        "ExitMemberList": [{"Member_Account": "jared"}],
    },
    "Group.CallbackAfterGroupFull": {"GroupId": "@TGS#2J4SZEAEL"},
}


def full_body(command: str, **more: Any) -> dict[str, Any]:
    return {"CallbackCommand": command, **FULL_BODIES[command], "EventTime": T, **more}


def as_json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become arrays)."""
    return json.loads(json.dumps(value))


def test_every_oa_and_membership_command_has_a_full_body_here() -> None:
    """This file covers the 11 Official Account and 7 group-membership commands."""
    first = {n for n in COMMANDS if n.startswith("OfficialAccount.")} | {
        n for n in FULL_BODIES if n.startswith("Group.")
    }
    assert set(FULL_BODIES) == first
    assert len(FULL_BODIES) == 18


@pytest.mark.parametrize("command", sorted(FULL_BODIES))
def test_full_body_parses_to_its_model_and_back(command: str) -> None:
    """Every documented field is read, nothing lands in extra, and to_wire() gives the body back."""
    body = full_body(command)
    event = parse_event(json.dumps(body).encode())
    assert type(event) is COMMANDS[command].model
    assert event.callback_command == command
    assert event.event_time == T
    assert event.extra == {}
    assert as_json(event.to_wire()) == body
    assert parse_event(json.dumps(event.to_wire())) == event


@pytest.mark.parametrize("command", sorted(FULL_BODIES))
def test_full_body_variant_with_quoted_event_time_and_an_unknown_field(command: str) -> None:
    """The same body with EventTime quoted (as many English samples write it) and a field
    Tencent may add later parses to the same event, the new field kept in ``extra``."""
    body = full_body(command, EventTime=str(T), LaterField=[1, "two"])
    event = parse_event(json.dumps(body), command=command)
    assert event.extra == {"LaterField": [1, "two"]}
    assert msgspec.structs.replace(event, extra={}) == parse_event(json.dumps(full_body(command)))


def test_fields_are_read_under_their_wire_names() -> None:
    """Wire names (Official_Account, SubscribeAccountList ...) map onto snake_case attributes."""
    event = parse_event(json.dumps(full_body("OfficialAccount.CallbackBeforeAddSubscriber")))
    assert isinstance(event, ev.BeforeAddSubscriber)
    assert event.official_account == "@TOA#_news"
    assert event.operator_account == "u1"
    assert [s.subscriber_account for s in event.subscribe_account_list] == ["u1", "u2"]

    group = parse_event(json.dumps(full_body("Group.CallbackAfterCreateGroup")))
    assert isinstance(group, ev.AfterCreateGroup)
    assert group.user_defined_data_list == (ev.UserDefinedData(key="k", value="v"),)
    assert group.member_list == (ev.Member(member_account="bob"),)

    send = parse_event(json.dumps(full_body("OfficialAccount.CallbackAfterSendMsg")))
    assert isinstance(send, ev.AfterSendMsg)
    assert (send.msg_key, send.msg_time, send.msg_body) == (
        "71_1_1698741698",
        1698741698,
        (ev.MsgElement.text("hello"),),
    )


@pytest.mark.parametrize(("value", "expected"), [(T, T), (str(T), T), ("0", 0), (0, 0)])
def test_event_time_as_number_or_numeric_string(value: Any, expected: int) -> None:
    """EventTime is read whether Tencent writes it as a number or as a quoted number."""
    body = {"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "g", "EventTime": value}
    assert parse_event(json.dumps(body)).event_time == expected


def test_event_time_may_be_absent() -> None:
    """An older AfterGroupFull body had no EventTime: it parses, and to_wire() does not invent
    one."""
    body = {"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "g"}
    event = parse_event(json.dumps(body))
    assert event.event_time is None
    assert event.to_wire() == body
    assert parse_event(json.dumps({**body, "EventTime": None})).event_time is None


@pytest.mark.parametrize("value", [-1, "-1", 1.5, "soon", True, [T], 2**63])
def test_event_time_that_is_not_epoch_millis_is_malformed(value: Any) -> None:
    """A negative, fractional, non-numeric or out-of-range EventTime is a MalformedRequest."""
    body = {"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": "g", "EventTime": value}
    with pytest.raises(MalformedRequest, match="EventTime"):
        parse_event(json.dumps(body))


def test_unknown_fields_are_kept_in_extra_and_round_tripped() -> None:
    """Fields Tencent adds later are kept in ``extra`` and written back by to_wire()."""
    body = full_body(
        "OfficialAccount.CallbackAfterSendMsg",
        TraceId="abc",
        Nested={"a": [1, 2, {"b": None}]},
        __extra__="a field named like the internal key",
    )
    event = parse_event(json.dumps(body))
    assert event.extra == {
        "TraceId": "abc",
        "Nested": {"a": [1, 2, {"b": None}]},
        "__extra__": "a field named like the internal key",
    }
    assert as_json(event.to_wire()) == body


def test_unknown_command_gives_unknown_event() -> None:
    """A CallbackCommand timhooks does not know parses to UnknownEvent with everything in extra."""
    body = {
        "CallbackCommand": "C2C.CallbackSomethingNew",
        "From_Account": "a",
        "To_Account": "b",
        "MsgBody": MSG_BODY,
        "EventTime": str(T),
    }
    event = parse_event(json.dumps(body))
    assert type(event) is UnknownEvent
    assert event.callback_command == "C2C.CallbackSomethingNew"
    assert event.event_time == T
    assert event.extra == {"From_Account": "a", "To_Account": "b", "MsgBody": MSG_BODY}
    assert event.to_wire() == {**body, "EventTime": T}


def test_str_and_bytes_bodies_parse_alike() -> None:
    """parse_event takes the body as bytes or as text."""
    body = json.dumps(full_body("Group.CallbackAfterGroupFull"))
    assert parse_event(body) == parse_event(body.encode())


def test_query_command_must_match_the_bodys() -> None:
    """When the query's CallbackCommand is given, a different body command is CommandMismatch."""
    body = json.dumps(full_body("Group.CallbackAfterGroupFull"))
    assert parse_event(body, command="Group.CallbackAfterGroupFull").event_time == T
    with pytest.raises(CommandMismatch, match="differs"):
        parse_event(body, command="Group.CallbackAfterMemberExit")
    assert issubclass(CommandMismatch, MalformedRequest)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "not valid JSON"),
        (b"[]", "JSON object"),
        (b'"Group.CallbackAfterGroupFull"', "JSON object"),
        (b"null", "JSON object"),
        (b"{}", "CallbackCommand"),
        (b'{"CallbackCommand": ""}', "CallbackCommand"),
        (b'{"CallbackCommand": 5}', "CallbackCommand"),
        (b'{"CallbackCommand": "Group.CallbackAfterGroupFull"}', "GroupId"),
        (b'{"CallbackCommand": "Group.CallbackAfterGroupFull", "GroupId": 5}', "GroupId"),
        (
            b'{"CallbackCommand": "Group.CallbackAfterNewMemberJoin", "GroupId": "g",'
            b' "NewMemberList": [{"Member": "x"}]}',
            "Member_Account",
        ),
        (
            b'{"CallbackCommand": "OfficialAccount.CallbackBeforeSendMsg",'
            b' "Official_Account": "o", "MsgBody": "hello"}',
            "MsgBody",
        ),
    ],
)
def test_malformed_bodies_say_why(body: bytes, reason: str) -> None:
    """A body that is not a valid event raises MalformedRequest naming what is wrong."""
    with pytest.raises(MalformedRequest, match=reason):
        parse_event(body)


def test_events_are_immutable() -> None:
    """An event cannot be changed after it is parsed."""
    event = parse_event(json.dumps(full_body("Group.CallbackAfterGroupFull")))
    with pytest.raises(AttributeError):
        event.group_id = "other"  # type: ignore[attr-defined]
