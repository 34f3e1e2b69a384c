"""Webhook bodies, queries and answers as the developer tools build and read them."""

from __future__ import annotations

import msgspec
import pytest

from timhooks.devtools.bodies import (
    Assignment,
    apply_assignments,
    build_body,
    check_body,
    known_command,
)
from timhooks.devtools.webhook import Exchange, describe_decision, judge, webhook_query
from timhooks.protocol import COMMANDS, ConfigError, Decision, parse_event, parse_query
from timhooks.protocol import events as ev

NOW = 1_700_000_000.25


def extras(value: object, path: str = "$") -> list[str]:
    """Where in a parsed model something landed in ``extra``, at any depth."""
    found: list[str] = []
    if isinstance(value, ev.Model):
        if value.extra:
            found.append(f"{path}: {sorted(value.extra)}")
        for f in msgspec.structs.fields(value):
            found += extras(getattr(value, f.name), f"{path}.{f.encode_name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            found += extras(item, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_gets_a_body_its_model_reads_in_full(command: str) -> None:
    """The built body of each of the 59 commands parses into its model with every field known
    (nothing in ``extra``), carrying the command where its page's body does."""
    spec = COMMANDS[command]
    body = build_body(spec, now=NOW, sdk_app_id=1400000001)
    event = parse_event(check_body(spec, body), command=command)
    assert type(event) is spec.model
    assert extras(event) == []
    assert ("CallbackCommand" in body) == spec.model.body_has_command


def test_event_time_is_now_in_milliseconds() -> None:
    """A fresh EventTime in milliseconds replaces the sample's, as the last field."""
    body = build_body(COMMANDS["Group.CallbackAfterGroupFull"], now=NOW)
    assert body == {
        "CallbackCommand": "Group.CallbackAfterGroupFull",
        "GroupId": "@TGS#2J4SZEAEL",
        "EventTime": 1_700_000_000_250,
    }
    assert list(body)[-1] == "EventTime"


@pytest.mark.parametrize("command", ["Push.OfflinePush", "Push.AllMemberPush"])
def test_push_batches_carry_seconds_in_each_event(command: str) -> None:
    """A push batch has no EventTime of its own; each of its events has now, in seconds."""
    body = build_body(COMMANDS[command], now=NOW)
    assert "EventTime" not in body
    assert [e["EventTime"] for e in body["Events"]] == [1_700_000_000]


def test_a_moderation_result_names_the_app() -> None:
    """ContentCallback.ResultNotify carries the app's SdkAppId in its body, and no command."""
    body = build_body(COMMANDS["ContentCallback.ResultNotify"], now=NOW, sdk_app_id=1400000042)
    assert body["SdkAppId"] == 1400000042
    assert "CallbackCommand" not in body


def test_set_reaches_nested_fields_and_reads_json_values() -> None:
    """--set takes dotted paths and array indexes; JSON values are JSON, other text a string."""
    body = build_body(COMMANDS["C2C.CallbackBeforeSendMsg"], now=NOW)
    apply_assignments(
        body,
        [
            Assignment.parse("MsgBody.0.MsgContent.Text=buy now"),
            Assignment.parse("From_Account=jared"),
            Assignment.parse('CloudCustomData="5"'),
            Assignment.parse("MsgRandom=7"),
            Assignment.parse('MsgBody.1={"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1}}'),
            Assignment.parse("Extra.Nested.Flag=true"),
        ],
    )
    event = parse_event(check_body(COMMANDS["C2C.CallbackBeforeSendMsg"], body))
    assert isinstance(event, ev.C2CBeforeSendMsg)
    assert ev.message_text(event.msg_body).startswith("buy now")
    assert len(event.msg_body) == 2
    assert (event.from_account, event.cloud_custom_data, event.msg_random) == ("jared", "5", 7)
    assert body["Extra"] == {"Nested": {"Flag": True}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GroupId", "write FIELD=VALUE"),
        ("=x", "write FIELD=VALUE"),
        ("Msg..Text=x", "has an empty part"),
        ("MsgBody.7.MsgType=x", r"has 1 item\(s\)"),
        ("MsgBody.first=x", "index it by number"),
        ("GroupId.Sub=x", "is not an object or an array"),
    ],
)
def test_a_bad_set_says_what_to_write(text: str, message: str) -> None:
    """A --set that cannot apply is a ConfigError saying what is wrong and how to write it."""
    body = build_body(COMMANDS["C2C.CallbackBeforeSendMsg"], now=NOW)
    body["GroupId"] = "not an object"
    with pytest.raises(ConfigError, match=message):
        apply_assignments(body, [Assignment.parse(text)])


def test_a_body_of_the_wrong_type_is_refused_with_the_field() -> None:
    """A body the command's model cannot read is refused, naming the field and the command."""
    spec = COMMANDS["Group.CallbackAfterGroupFull"]
    body = build_body(spec, now=NOW)
    apply_assignments(body, [Assignment.parse("GroupId=5")])
    with pytest.raises(ConfigError, match=r"not a valid Group.CallbackAfterGroupFull.*GroupId"):
        check_body(spec, body)


def test_an_unknown_command_suggests_the_closest() -> None:
    """A misspelt command is refused with the closest known names."""
    with pytest.raises(ConfigError, match=r"did you mean Group\.CallbackAfterGroupFull"):
        known_command("Group.CallbackAfterGroupFul")


def test_the_query_follows_each_page() -> None:
    """Most commands carry ClientIP and OptPlatform; the push and moderation pages neither,
    RequestOverLimit OptPlatform only; Sign and RequestTime come last when signed."""
    standard = webhook_query(
        "Group.CallbackAfterGroupFull",
        sdk_app_id=1400000001,
        client_ip="10.0.0.7",
        platform="iOS",
        request_time=1669872112,
        sign="17773bc3",
    )
    assert standard == (
        "SdkAppid=1400000001&CallbackCommand=Group.CallbackAfterGroupFull&contenttype=json"
        "&ClientIP=10.0.0.7&OptPlatform=iOS&Sign=17773bc3&RequestTime=1669872112"
    )
    push = webhook_query("Push.OfflinePush", sdk_app_id=1, client_ip="x", platform="iOS")
    assert push == "SdkAppid=1&CallbackCommand=Push.OfflinePush&contenttype=json"
    alert = webhook_query("Alert.RequestOverLimit", sdk_app_id=1, client_ip="x", platform="Web")
    assert (
        alert
        == "SdkAppid=1&CallbackCommand=Alert.RequestOverLimit&OptPlatform=Web&contenttype=json"
    )
    assert parse_query(alert).client_ip == ""


@pytest.mark.parametrize(
    ("command", "decision", "meaning"),
    [
        ("C2C.CallbackBeforeSendMsg", Decision.deny(), "deny → caller gets 20006"),
        ("Group.CallbackBeforeCreateGroup", Decision.deny(), "deny → caller gets 10016"),
        (
            "Group.CallbackBeforeSendMsg",
            Decision.reject(10150, "no"),
            "reject → caller gets 10150 'no'",
        ),
        ("C2C.CallbackBeforeSendMsg", Decision.discard(), "discard → the message is dropped"),
        ("Group.CallbackBeforeCreateGroup", Decision.allow(), "allow → the action proceeds"),
        (
            "OfficialAccount.CallbackBeforeAddSubscriber",
            Decision.refuse(["jared"]),
            "allow → the action proceeds, except for jared",
        ),
        (
            "Group.CallbackBeforeCreateGroup",
            Decision.reject(5, "odd"),
            "deny → caller gets 10016 (ErrorCode 5 is not one it allows",
        ),
        (
            "Sns.CallbackPrevFriendAdd",
            Decision.per_recipient({"jared": 38001}),
            "per recipient → refused: jared 38001",
        ),
    ],
)
def test_a_decision_is_described_as_tencent_applies_it(
    command: str, decision: Decision, meaning: str
) -> None:
    """What a before-webhook's answer does to the caller, including a code the command does
    not allow (a plain deny)."""
    assert describe_decision(COMMANDS[command], decision).startswith(meaning)


def test_an_answer_after_two_seconds_counts_as_failed() -> None:
    """A valid answer that took longer than Tencent's 2 s is a failed webhook."""
    ok = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
    spec = COMMANDS["Group.CallbackAfterGroupFull"]
    late = Exchange("u", b"{}", 200, ok, latency_ms=2100.0)
    verdict = judge(spec, late)
    assert not verdict.ok
    assert verdict.problem is not None
    assert "Tencent gives up after 2 s" in verdict.problem
    assert judge(spec, Exchange("u", b"{}", 200, ok, latency_ms=12.0)).ok


@pytest.mark.parametrize(
    ("status", "answer", "problem"),
    [
        (500, b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}', "HTTP 500, not 200"),
        (200, b"ok", "not JSON"),
        (200, b"[]", "not a JSON object"),
        (200, b'{"ActionStatus":"OK","ErrorCode":0}', "has no ErrorInfo"),
        (200, b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":"0"}', "ErrorCode is not a number"),
        (200, b'{"ActionStatus":"Fine","ErrorInfo":"","ErrorCode":0}', "not OK or FAIL"),
    ],
)
def test_only_a_200_envelope_is_an_answer(status: int, answer: bytes, problem: str) -> None:
    """Anything but HTTP 200 with {ActionStatus, ErrorCode, ErrorInfo} is a failed webhook,
    and the verdict says which part is wrong."""
    verdict = judge(COMMANDS["Group.CallbackAfterGroupFull"], Exchange("u", b"", status, answer, 1))
    assert not verdict.ok
    assert problem in (verdict.problem or "")
