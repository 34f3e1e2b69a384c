"""Every webhook command's documented sample body parses into its typed model.

The fixtures in tests/fixtures/catalog are the sample request bodies of Tencent's webhook pages
(one file per command, several samples where a page prints several), ``//`` comments removed and
the obvious JSON slips of some pages (a missing comma or quote) mended. The 18 Official Account
and group-membership commands are covered by test_events.py and test_seeds.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from timhooks.protocol import COMMANDS, CommandMismatch, MalformedRequest, parse_event, parse_query
from timhooks.protocol import events as ev

CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"
SAMPLES = {p.stem: json.loads(p.read_text()) for p in sorted(CATALOG.glob("*.json"))}
CASES = [(name, i) for name, samples in sorted(SAMPLES.items()) for i in range(len(samples))]

FIRST_18 = {  # the Official Account and group-membership commands, tested in test_events.py
    *(n for n in COMMANDS if n.startswith("OfficialAccount.")),
    "Group.CallbackBeforeCreateGroup",
    "Group.CallbackAfterCreateGroup",
    "Group.CallbackBeforeApplyJoinGroup",
    "Group.CallbackBeforeInviteJoinGroup",
    "Group.CallbackAfterNewMemberJoin",
    "Group.CallbackAfterMemberExit",
    "Group.CallbackAfterGroupFull",
}

# The sample's EventTime, as its page writes it: a number, a quoted number, or absent.
QUOTED = {name for name, samples in SAMPLES.items() if isinstance(samples[0].get("EventTime"), str)}


def extras(value: Any, path: str = "$") -> list[str]:
    """Where in a parsed model something landed in ``extra``, at any depth."""
    found: list[str] = []
    if isinstance(value, ev.Model):
        if value.extra:
            found.append(f"{path}: {sorted(value.extra)}")
        for field in msgspec.structs.fields(value):
            found += extras(getattr(value, field.name), f"{path}.{field.encode_name}")
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            found += extras(item, f"{path}[{i}]")
    return found


def normalized(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with every EventTime as the number it stands for (to_wire writes numbers)."""
    out = dict(body)
    if isinstance(out.get("EventTime"), str):
        out["EventTime"] = int(out["EventTime"])
    return out


def test_catalog_samples_cover_every_new_command() -> None:
    """There is a sample fixture for each of the 41 commands beyond the first 18, and the
    registry holds exactly those plus the 18: 59 in all."""
    assert len(SAMPLES) == 41
    assert set(SAMPLES) | FIRST_18 == set(COMMANDS)
    assert len(COMMANDS) == 59


@pytest.mark.parametrize(("command", "i"), CASES)
def test_sample_parses_to_its_model_with_nothing_left_over(command: str, i: int) -> None:
    """The sample parses to the command's model, every field it carries is a documented field
    of the model (nothing in ``extra`` at any depth), and to_wire() gives the sample back."""
    sample = SAMPLES[command][i]
    event = parse_event(json.dumps(sample), command=command)
    assert type(event) is COMMANDS[command].model
    assert event.callback_command == command
    assert extras(event) == []
    wire = json.loads(json.dumps(event.to_wire()))
    for key, value in normalized(sample).items():
        assert wire[key] == value, key
    assert parse_event(json.dumps(wire), command=command) == event


@pytest.mark.parametrize(("command", "i"), CASES)
def test_sample_variant_with_an_unknown_field_and_the_other_event_time(
    command: str, i: int
) -> None:
    """A sample with a field Tencent may add later keeps it in ``extra``; an EventTime written
    as a number reads the same quoted, and a quoted one the same as a number."""
    sample = dict(SAMPLES[command][i])
    sample["FutureField"] = {"a": [1, 2]}
    if "EventTime" in sample:
        t = sample["EventTime"]
        sample["EventTime"] = int(t) if isinstance(t, str) else str(t)
    event = parse_event(json.dumps(sample), command=command)
    assert event.extra == {"FutureField": {"a": [1, 2]}}
    plain = parse_event(json.dumps(SAMPLES[command][i]), command=command)
    assert event.event_time == plain.event_time
    assert msgspec.structs.replace(event, extra={}) == plain


def test_event_time_forms_as_documented() -> None:
    """EventTime is a number (ms) on most new pages, a quoted number on the group pages, and
    absent on the older relationship, message and topic pages."""
    assert "Group.CallbackAfterSendMsg" in QUOTED
    assert "Group.CallbackOnDailyGroupQuotaAlarm" in QUOTED
    state = parse_event(json.dumps(SAMPLES["State.StateChange"][0]))
    assert state.event_time == state.event_time_ms == 1629883332497
    for name in ("Sns.CallbackFriendAdd", "C2C.CallbackBeforeSendMsg", "Alert.RequestOverLimit"):
        assert parse_event(json.dumps(SAMPLES[name][0])).event_time is None, name


# --- shape quirks ---------------------------------------------------------------------------

RESULT_NOTIFY = "ContentCallback.ResultNotify"


def test_result_notify_has_no_callback_command_in_its_body() -> None:
    """ContentCallback.ResultNotify's body carries no CallbackCommand: the query's is used, and
    to_wire() leaves it out again. Its SdkAppId (capital I) is read."""
    sample = SAMPLES[RESULT_NOTIFY][0]
    assert "CallbackCommand" not in sample
    event = parse_event(json.dumps(sample), command=RESULT_NOTIFY)
    assert isinstance(event, ev.ResultNotify)
    assert event.callback_command == RESULT_NOTIFY
    assert event.sdk_app_id == 1400187352
    assert event.contact_item == ev.ContactItem(contact_type=1, to_account="Jonh")
    assert event.text_content == ("aaabbbccc", "1234567")
    assert (event.ctxcb_result, event.ctxcb_suggestion) == (1, "Review")
    assert "CallbackCommand" not in event.to_wire()
    with pytest.raises(MalformedRequest, match="CallbackCommand"):
        parse_event(json.dumps(sample))  # without the query nothing names the command


def test_result_notify_reads_a_lone_string_text_content_and_sdkappid_spelling() -> None:
    """One moderation page types TextContent as a String and one spells SdkAppid: both read."""
    sample = {**SAMPLES[RESULT_NOTIFY][0], "TextContent": "aaabbbccc"}
    del sample["SdkAppId"]
    sample["SdkAppid"] = 1400187352
    event = parse_event(json.dumps(sample), command=RESULT_NOTIFY)
    assert isinstance(event, ev.ResultNotify)
    assert event.text_content == ("aaabbbccc",)
    assert event.sdk_app_id == 1400187352
    assert event.extra == {}


@pytest.mark.parametrize("command", ["Push.OfflinePush", "Push.AllMemberPush"])
def test_push_bodies_are_batches_with_times_in_seconds(command: str) -> None:
    """A push body is {"Events": [...]}: it parses with the query's command, or with the one
    its events name, and its times are seconds (event_time_ms gives milliseconds)."""
    sample = SAMPLES[command][0]
    assert set(sample) == {"Events"}
    for event in (
        parse_event(json.dumps(sample), command=command),
        parse_event(json.dumps(sample)),
    ):
        assert isinstance(event, ev.PushBatch)
        assert event.callback_command == command
        assert event.event_time is None
        (item,) = getattr(event, "events")  # noqa: B009 (PushBatch subclasses declare it)
        assert isinstance(item, ev.PushEvent)
        assert item.callback_command == command
        assert item.event_time == sample["Events"][0]["EventTime"]
        assert item.event_time_ms == item.event_time * 1000
        assert event.event_time_ms == item.event_time_ms
        assert event.to_wire() == sample


def test_offline_push_group_event_names_its_group_with_a_capital_d() -> None:
    """A group push event has EventType 2 and "GroupID" (capital D), no MsgKey; "GroupId" is
    read too."""
    one = {
        **SAMPLES["Push.OfflinePush"][0]["Events"][0],
        "EventType": 2,
        "GroupID": "@TGS#12DEVUDHQ",
    }
    del one["MsgKey"]
    for name in ("GroupID", "GroupId"):
        item = dict(one)
        item[name] = item.pop("GroupID")
        event = parse_event(json.dumps({"Events": [item, item]}), command="Push.OfflinePush")
        assert isinstance(event, ev.OfflinePush)
        assert [e.group_id for e in event.events] == ["@TGS#12DEVUDHQ"] * 2
        assert event.events[0].msg_key is None
        assert extras(event) == []


def test_a_push_batch_holds_only_its_own_command() -> None:
    """An event of another command inside a batch is a CommandMismatch."""
    offline = SAMPLES["Push.OfflinePush"][0]["Events"][0]
    task = SAMPLES["Push.AllMemberPush"][0]["Events"][0]
    with pytest.raises(CommandMismatch, match="batch"):
        parse_event(json.dumps({"Events": [offline, task]}), command="Push.OfflinePush")
    with pytest.raises(CommandMismatch):
        parse_event(json.dumps({"Events": [offline]}), command="Push.AllMemberPush")


def test_member_field_changed_reads_both_document_spellings() -> None:
    """The English page names the member Member_Account, the mainland page Modified_Account;
    both read into member_account."""
    sample = dict(SAMPLES["Group.CallbackAfterMemberFieldChanged"][0])
    sample["Modified_Account"] = sample.pop("Member_Account")
    event = parse_event(json.dumps(sample))
    assert isinstance(event, ev.AfterMemberFieldChanged)
    assert event.member_account == "123456"
    assert event.extra == {}


def test_c2c_recall_mainland_body_with_event_time_instead_of_unread_count() -> None:
    """The mainland recall page sends EventTime where the international one sends UnreadMsgNum;
    either body parses with nothing left over."""
    sample = dict(SAMPLES["C2C.CallbackAfterMsgWithDraw"][0])
    del sample["UnreadMsgNum"]
    sample["EventTime"] = 1670574414123
    event = parse_event(json.dumps(sample))
    assert isinstance(event, ev.C2CAfterMsgWithDraw)
    assert (event.unread_msg_num, event.event_time) == (None, 1670574414123)
    assert event.to_wire() == sample


def test_bot_group_message_reads_both_robot_list_spellings() -> None:
    """The robot list reads as AtRobots_Account or AtRobotAccount."""
    sample = dict(SAMPLES["Bot.OnGroupMessage"][0])
    sample["AtRobotAccount"] = sample.pop("AtRobots_Account")
    event = parse_event(json.dumps(sample))
    assert isinstance(event, ev.BotOnGroupMessage)
    assert event.at_robots_account == ("@RBT#001",)
    assert event.extra == {}


def test_group_info_changed_holds_only_what_changed() -> None:
    """AfterGroupInfoChanged carries only the changed fields: the others are None, and
    to_wire() does not invent them."""
    sample = SAMPLES["Group.CallbackAfterGroupInfoChanged"][0]
    event = parse_event(json.dumps(sample))
    assert isinstance(event, ev.AfterGroupInfoChanged)
    assert event.notification == "NewNotification"
    assert (event.name, event.face_url, event.user_defined_data_list) == (None, None, None)
    assert event.to_wire() == sample


QUERY_WITHOUT_CLIENT = {
    "Group.CallbackOnMemberStateChange": "SdkAppid=1400187352&CallbackCommand={c}&contenttype=json",
    RESULT_NOTIFY: "SdkAppId=1400187352&CallbackCommand={c}&contenttype=json",
    "Push.OfflinePush": "SdkAppid=1400187352&CallbackCommand={c}&contenttype=json",
    "Push.AllMemberPush": "SdkAppid=1400187352&CallbackCommand={c}&contenttype=json",
    # Alert's page orders the parameters differently and sends OptPlatform alone.
    "Alert.RequestOverLimit": "SdkAppid=1400187352&CallbackCommand={c}&OptPlatform=RESTAPI"
    "&contenttype=json",
}


@pytest.mark.parametrize("command", sorted(QUERY_WITHOUT_CLIENT))
def test_queries_without_client_ip_or_platform(command: str) -> None:
    """The commands whose URL template has no ClientIP (and maybe no OptPlatform) parse, with
    empty defaults, and their sample body parses against the query's command."""
    q = parse_query(QUERY_WITHOUT_CLIENT[command].format(c=command))
    assert (q.sdk_app_id, q.callback_command, q.client_ip) == (1400187352, command, "")
    event = parse_event(json.dumps(SAMPLES[command][0]), command=q.callback_command)
    assert type(event) is COMMANDS[command].model


# --- typed nested values --------------------------------------------------------------------


def test_nested_structures_are_models() -> None:
    """Message bodies, friend items, extensions, attributes and receipts are typed models."""
    c2c = parse_event(json.dumps(SAMPLES["C2C.CallbackAfterSendMsg"][0]))
    assert isinstance(c2c, ev.C2CAfterSendMsg)
    (element,) = c2c.msg_body
    assert element == ev.MsgElement.text("red packet")
    assert isinstance(element.msg_content, ev.TextContent)
    assert (c2c.send_msg_result, c2c.unread_msg_num) == (0, 7)

    friends = parse_event(json.dumps(SAMPLES["Sns.CallbackPrevFriendAdd"][0]))
    assert isinstance(friends, ev.PrevFriendAdd)
    assert friends.friend_item[1] == ev.FriendItem(
        to_account="id2",
        remark="remark2",
        group_name="group1",
        add_source="AddSource_Type_Android",
        add_wording="this is id2!",
    )
    assert friends.recipients() == ("id1", "id2")

    ext = parse_event(json.dumps(SAMPLES["C2C.CallbackAfterC2CMsgExtension"][1]))
    assert isinstance(ext, ev.AfterC2CMsgExtension)
    assert ext.extension_list[0] == ev.MsgExtension(key="k1", value="", seq=2)

    attrs = parse_event(json.dumps(SAMPLES["Group.CallbackAfterGroupAttrChanged"][0]))
    assert isinstance(attrs, ev.AfterGroupAttrChanged)
    assert attrs.group_attr == (
        ev.GroupAttr(key="key1", value="value1"),
        ev.GroupAttr(key="key2", value="values"),
    )

    receipts = parse_event(json.dumps(SAMPLES["Group.CallbackAfterReadReceipt"][0]))
    assert isinstance(receipts, ev.AfterReadReceipt)
    assert receipts.group_msg_receipt_list[0].read_receipt_members == (
        ev.Member(member_account="user0"),
    )

    state = parse_event(json.dumps(SAMPLES["State.StateChange"][0]))
    assert isinstance(state, ev.StateChange)
    assert state.info == ev.StateInfo(action="Login", to_account="testuser316", reason="Register")
    assert [d.platform for d in state.kicked_device] == ["Windows", "Android"]


def test_every_message_element_type_reads_into_its_content_model() -> None:
    """Each MsgType of "Message Formats" has its content model; an unknown type keeps its
    content in extra and writes it back."""
    body = [
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}},
        {
            "MsgType": "TIMLocationElem",
            "MsgContent": {"Desc": "d", "Latitude": 29.3, "Longitude": 116},
        },
        {"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1, "Data": "content"}},
        {
            "MsgType": "TIMCustomElem",
            "MsgContent": {"Data": "message", "Desc": "notification", "Ext": "url", "Sound": "x"},
        },
        {
            "MsgType": "TIMSoundElem",
            "MsgContent": {
                "Url": "u",
                "UUID": "id",
                "Size": 62351,
                "Second": 1,
                "Download_Flag": 2,
            },
        },
        {
            "MsgType": "TIMImageElem",
            "MsgContent": {
                "UUID": "id",
                "ImageFormat": 1,
                "ImageInfoArray": [{"Type": 1, "Size": 9, "Width": 2, "Height": 3, "URL": "u"}],
            },
        },
        {
            "MsgType": "TIMFileElem",
            "MsgContent": {
                "Url": "u",
                "UUID": "id",
                "FileSize": 1,
                "FileName": "f",
                "Download_Flag": 2,
            },
        },
        {
            "MsgType": "TIMVideoFileElem",
            "MsgContent": {
                "VideoUrl": "u",
                "VideoUUID": "v",
                "VideoSize": 1,
                "VideoSecond": 5,
                "VideoFormat": "mp4",
                "VideoDownloadFlag": 2,
                "ThumbUrl": "t",
                "ThumbUUID": "tu",
                "ThumbSize": 2,
                "ThumbWidth": 720,
                "ThumbHeight": 1280,
                "ThumbFormat": "JPG",
                "ThumbDownloadFlag": 2,
            },
        },
        {
            "MsgType": "TIMRelayElem",
            "MsgContent": {
                "Title": "chat history",
                "MsgNum": 1,
                "CompatibleText": "upgrade",
                "AbstractList": ["A: hi"],
                "MsgList": [
                    {
                        "From_Account": "A",
                        "GroupId": "group1",
                        "MsgSeq": 85,
                        "MsgRandom": 3998651049,
                        "MsgTimeStamp": 1664437702,
                        "MsgBody": [{"MsgContent": {"Text": "hi"}, "MsgType": "TIMTextElem"}],
                    }
                ],
            },
        },
        {"MsgType": "TIMStreamElem", "MsgContent": {"Chunk": 1}},
    ]
    sample = {**SAMPLES["C2C.CallbackBeforeSendMsg"][0], "MsgBody": body}
    event = parse_event(json.dumps(sample))
    assert isinstance(event, ev.C2CBeforeSendMsg)
    kinds = [type(e.msg_content) for e in event.msg_body]
    assert kinds == [
        ev.TextContent,
        ev.LocationContent,
        ev.FaceContent,
        ev.CustomContent,
        ev.SoundContent,
        ev.ImageContent,
        ev.FileContent,
        ev.VideoFileContent,
        ev.RelayContent,
        ev.OtherContent,
    ]
    assert extras(event) == ["$.MsgBody[9].MsgContent: ['Chunk']"]
    relay = event.msg_body[8].msg_content
    assert isinstance(relay, ev.RelayContent)
    assert relay.msg_list[0].msg_body == (ev.MsgElement.text("hi"),)
    assert json.loads(json.dumps(event.to_wire()))["MsgBody"] == body
    assert ev.message_text(event.msg_body).startswith("hello [location] [face] [custom]")


@pytest.mark.parametrize(
    ("content", "reason"),
    [('"text"', "MsgContent must be an object"), ('{"Text": 5}', "Expected `str`")],
)
def test_a_bad_message_content_is_malformed(content: str, reason: str) -> None:
    """A MsgContent that is not an object, or has a field of the wrong type, is a
    MalformedRequest naming it."""
    body = (
        '{"CallbackCommand": "C2C.CallbackBeforeSendMsg", "MsgBody": [{"MsgType": "TIMTextElem",'
        f' "MsgContent": {content}}}]}}'
    )
    with pytest.raises(MalformedRequest, match=reason):
        parse_event(body)


def relay_body(depth: int) -> str:
    """A one-to-one message of forwarded messages nested ``depth`` deep."""
    inner = '{"MsgType": "TIMTextElem", "MsgContent": {"Text": "x"}}'
    for _ in range(depth):
        inner = (
            '{"MsgType": "TIMRelayElem", "MsgContent": {"MsgList": [{"MsgBody": [' + inner + "]}]}}"
        )
    return '{"CallbackCommand": "C2C.CallbackBeforeSendMsg", "MsgBody": [' + inner + "]}"


def test_nested_forwarded_messages_read_write_back_and_summarize() -> None:
    """Forwarded messages inside forwarded messages parse, write back and summarize."""
    event = parse_event(relay_body(60))
    assert isinstance(event, ev.C2CBeforeSendMsg)
    assert event.to_wire()["MsgBody"][0]["MsgType"] == "TIMRelayElem"
    assert "[relay]" in event.summary()


@pytest.mark.parametrize("depth", [400, 5000])
def test_too_deeply_nested_forwarded_messages_are_malformed_not_a_crash(depth: int) -> None:
    """Nesting past what the parser reads gives MalformedRequest, not a RecursionError."""
    with pytest.raises(MalformedRequest, match="nested too deeply"):
        parse_event(relay_body(depth))


def test_every_model_names_the_tencent_document_it_follows() -> None:
    """Each model's docstring names its Tencent document (a title and its URL), and each
    command's model is in timhooks.protocol.events under its own name."""
    for name in ev.__all__:
        obj = getattr(ev, name)
        if isinstance(obj, type) and issubclass(obj, ev.Model):
            assert "https://" in (obj.__doc__ or ""), name
            assert '"' in (obj.__doc__ or ""), name  # the document's title, quoted
    for spec in COMMANDS.values():
        assert getattr(ev, spec.model.__name__) is spec.model
        assert spec.name in (spec.model.__doc__ or "")
