"""One-line summaries (`timhooks listen`, `timhooks events list`) say what each event is about."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timhooks.protocol import COMMANDS, parse_event, summarize

CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"


def catalog(command: str, i: int = 0) -> dict[str, Any]:
    samples: list[dict[str, Any]] = json.loads((CATALOG / f"{command}.json").read_text())
    return samples[i]


OA = "@TOA#_test_OA_for_penn"


@pytest.mark.parametrize(
    ("body", "line"),
    [
        # The lines of the README's session (the Official Account commands).
        (
            {
                "CallbackCommand": "OfficialAccount.CallbackAfterCreateOfficialAccount",
                "Official_Account": OA,
                "Operator_Account": "administrator",
                "Owner_Account": "penn",
                "Name": "test_OA_for_penn",
                "EventTime": 1,
            },
            f"Official_Account={OA} Operator_Account=administrator Owner_Account=penn"
            " Name=test_OA_for_penn",
        ),
        (
            {
                "CallbackCommand": "OfficialAccount.CallbackAfterAddSubscriber",
                "Official_Account": OA,
                "Operator_Account": "administrator",
                "SubscribeAccountList": [
                    {"Subscriber_Account": "jared"},
                    {"Subscriber_Account": "leckie"},
                ],
                "EventTime": 1,
            },
            f"Official_Account={OA} Operator_Account=administrator"
            " SubscribeAccountList=jared,leckie",
        ),
        (
            {
                "CallbackCommand": "Group.CallbackAfterNewMemberJoin",
                "GroupId": "@TGS#1",
                "Type": "Public",
                "JoinType": "Invited",
                "Operator_Account": "amy",
                "NewMemberList": [{"Member_Account": "bob"}],
            },
            "GroupId=@TGS#1 Operator_Account=amy JoinType=Invited NewMemberList=bob",
        ),
    ],
)
def test_official_account_and_group_lines_are_as_before(body: dict[str, Any], line: str) -> None:
    """The commands timhooks knew first summarize as they always did."""
    assert summarize(body) == line
    assert parse_event(json.dumps(body)).summary() == line


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (
            "C2C.CallbackBeforeSendMsg",
            "From_Account=jared To_Account=John MsgKey=48374_2837546_1557481126 MsgSeq=48374"
            ' MsgBody="red packet"',
        ),
        (
            "Group.CallbackAfterSendMsg",
            "GroupId=@TGS#2J4SZEAEL Operator_Account=admin From_Account=jared MsgSeq=123"
            ' MsgBody="red packet"',
        ),
        (
            "Sns.CallbackFriendAdd",
            "ClientCmd=friend_add PairList=id>id1,id>id2,id>id3",
        ),
        (
            "Sns.CallbackPrevFriendAdd",
            "Requester_Account=id From_Account=id AddType=Add_Type_Both FriendItem=id1,id2",
        ),
        (
            "State.StateChange",
            "To_Account=testuser316 Action=Login Reason=Register KickedDevice=Windows,Android",
        ),
        (
            "Push.OfflinePush",
            "Events=1 From_Account=user1 To_Account=user2 MsgKey=48374_2837546_1557481126"
            " MsgSeq=48374 EventType=1 PushPlatform=1 PushStage=1 ErrCode=0",
        ),
        (
            "Group.CallbackAfterMemberFieldChanged",
            "GroupId=@TGS#xxxx Operator_Account=admin Member_Account=123456 Role=Admin"
            " NameCard=jacky",
        ),
        (
            "Alert.RequestOverLimit",
            "ServiceName=openim Command=batchsendmsg Request=510 Limit=200",
        ),
    ],
)
def test_new_commands_say_who_where_and_what(command: str, line: str) -> None:
    """Senders, receivers, groups, message text: the stored payload and the parsed event give
    the same line."""
    body = catalog(command)
    assert summarize(body) == line
    assert parse_event(json.dumps(body), command=command).summary() == line


def test_result_notify_summary_without_its_command() -> None:
    """A moderation result (no CallbackCommand in its body) still says what it is about."""
    line = summarize(catalog("ContentCallback.ResultNotify"))
    assert line.startswith("Scene=C2C From_Account=jared To_Account=Jonh")
    assert "CtxcbSuggestion=Review" in line


def test_long_and_non_text_messages_are_shortened() -> None:
    """The text is cut at 60 characters, on one line; other elements show as [image] etc."""
    body = catalog("C2C.CallbackBeforeSendMsg")
    body["MsgBody"] = [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "word\nword " * 20}},
        {"MsgType": "TIMImageElem", "MsgContent": {}},
    ]
    text = summarize(body).split("MsgBody=", 1)[1]
    assert text.startswith('"word word word')
    assert text.endswith('…"')
    assert len(text) == 62
    body["MsgBody"] = [{"MsgType": "TIMImageElem", "MsgContent": {}}, {"MsgType": "TIMX"}]
    assert summarize(body).endswith('MsgBody="[image] [x]"')


@pytest.mark.parametrize("value", [None, 5, "text", [], [{"a": 1}], {"MsgBody": "x"}])
def test_anything_that_is_not_a_webhook_summarizes_quietly(value: Any) -> None:
    """A payload that is not a webhook object gives an empty or partial line, never an error."""
    assert isinstance(summarize(value), str)


def test_every_command_has_a_non_empty_summary_of_its_sample() -> None:
    """Each catalog sample says something about itself."""
    for path in sorted(CATALOG.glob("*.json")):
        for body in json.loads(path.read_text()):
            assert summarize(body), path.stem
    assert len(list(CATALOG.glob("*.json"))) + 18 == len(COMMANDS)
