"""The command registry and the answers Tencent expects to each command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timhooks.protocol import (
    ACK_BODY,
    COMMANDS,
    ConfigError,
    Decision,
    DecisionKind,
    MalformedResponse,
    Phase,
    RestCode,
    ResultItem,
    get_command,
    parse_event,
)
from timhooks.protocol import events as ev

BEFORE, AFTER = Phase.BEFORE, Phase.AFTER

# Every command of Tencent's webhook documents, by group, with its phase.
REGISTRY: dict[str, dict[str, Phase]] = {
    "OfficialAccount": {
        "OfficialAccount.CallbackBeforeCreateOfficialAccount": BEFORE,
        "OfficialAccount.CallbackAfterCreateOfficialAccount": AFTER,
        "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": AFTER,
        "OfficialAccount.CallbackAfterOfficialAccountDestroyed": AFTER,
        "OfficialAccount.CallbackBeforeAddSubscriber": BEFORE,
        "OfficialAccount.CallbackAfterAddSubscriber": AFTER,
        "OfficialAccount.CallbackAfterOfficialAccountFull": AFTER,
        "OfficialAccount.CallbackAfterDeleteSubscriber": AFTER,
        "OfficialAccount.CallbackBeforeSendMsg": BEFORE,
        "OfficialAccount.CallbackAfterSendMsg": AFTER,
        "OfficialAccount.CallbackAfterMsgWithDraw": AFTER,
    },
    "Group": {
        "Group.CallbackBeforeCreateGroup": BEFORE,
        "Group.CallbackAfterCreateGroup": AFTER,
        "Group.CallbackBeforeApplyJoinGroup": BEFORE,
        "Group.CallbackBeforeInviteJoinGroup": BEFORE,
        "Group.CallbackAfterNewMemberJoin": AFTER,
        "Group.CallbackAfterMemberExit": AFTER,
        "Group.CallbackAfterGroupFull": AFTER,
        "Group.CallbackAfterGroupDestroyed": AFTER,
        "Group.CallbackAfterGroupInfoChanged": AFTER,
        "Group.CallbackOnMemberStateChange": AFTER,
        "Group.CallbackAfterMemberFieldChanged": AFTER,
        "Group.CallbackAfterGroupAttrChanged": AFTER,
        "Group.CallbackAfterChangeGroupOwner": AFTER,
        "Group.CallbackOnDailyGroupQuotaAlarm": AFTER,
        "Group.CallbackBeforeSendMsg": BEFORE,
        "Group.CallbackAfterSendMsg": AFTER,
        "Group.CallbackSendMsgException": AFTER,
        "Group.CallbackAfterRecallMsg": AFTER,
        "Group.CallbackAfterGroupMsgExtension": AFTER,
        "Group.CallbackAfterModifyMsg": AFTER,
        "Group.CallbackAfterReadReceipt": AFTER,
        "Group.CallbackBeforeCreateTopic": BEFORE,
        "Group.CallbackAfterCreateTopic": AFTER,
        "Group.CallbackAfterTopicDestroyed": AFTER,
        "Group.CallbackAfterTopicInfoChanged": AFTER,
    },
    "C2C": {
        "C2C.CallbackBeforeSendMsg": BEFORE,
        "C2C.CallbackAfterSendMsg": AFTER,
        "C2C.CallbackAfterMsgReport": AFTER,
        "C2C.CallbackAfterMsgWithDraw": AFTER,
        "C2C.CallbackAfterC2CMsgExtension": AFTER,
        "C2C.CallbackAfterModifyMsg": AFTER,
    },
    "Sns": {
        "Sns.CallbackPrevFriendAdd": BEFORE,
        "Sns.CallbackPrevFriendResponse": BEFORE,
        "Sns.CallbackFriendAdd": AFTER,
        "Sns.CallbackFriendDelete": AFTER,
        "Sns.CallbackBlackListAdd": AFTER,
        "Sns.CallbackBlackListDelete": AFTER,
    },
    "Follow": {
        "Follow.CallbackAfterFollowAdd": AFTER,
        "Follow.CallbackAfterFollowDelete": AFTER,
    },
    "State": {"State.StateChange": AFTER},
    "Profile": {"Profile.CallbackPortraitSet": AFTER},
    "Bot": {"Bot.OnC2CMessage": AFTER, "Bot.OnGroupMessage": AFTER},
    # Answered inline: its answer carries the chatbot's reply.
    "Chatbot": {"Chatbot.OnC2CSignalMessage": BEFORE},
    "ContentCallback": {"ContentCallback.ResultNotify": AFTER},
    "Push": {"Push.OfflinePush": AFTER, "Push.AllMemberPush": AFTER},
    "Alert": {"Alert.RequestOverLimit": AFTER},
}
ALL = {name: phase for group in REGISTRY.values() for name, phase in group.items()}

OA_CREATE = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
OA_SUBSCRIBE = "OfficialAccount.CallbackBeforeAddSubscriber"
OA_SEND = "OfficialAccount.CallbackBeforeSendMsg"
GROUP_CREATE = "Group.CallbackBeforeCreateGroup"
GROUP_APPLY = "Group.CallbackBeforeApplyJoinGroup"
GROUP_INVITE = "Group.CallbackBeforeInviteJoinGroup"
GROUP_SEND = "Group.CallbackBeforeSendMsg"
TOPIC_CREATE = "Group.CallbackBeforeCreateTopic"
C2C_SEND = "C2C.CallbackBeforeSendMsg"
FRIEND_ADD = "Sns.CallbackPrevFriendAdd"
FRIEND_RESPONSE = "Sns.CallbackPrevFriendResponse"
CHATBOT = "Chatbot.OnC2CSignalMessage"

MSG_RANGE = (120001, 130000)
GROUP_RANGE = (10100, 10200)
R, X = DecisionKind.REJECT, DecisionKind.DISCARD

# The commands answered with an ErrorCode veto: (caller-visible code on deny, custom
# pass-through range, extra decision kinds).
VETO_RULES: dict[str, tuple[int, tuple[int, int] | None, set[DecisionKind]]] = {
    OA_CREATE: (20006, MSG_RANGE, {R}),
    # The docs name no code or range for BeforeAddSubscriber; timhooks answers the generic
    # "refused by the app backend" 10016.
    OA_SUBSCRIBE: (10016, None, set()),
    OA_SEND: (10016, MSG_RANGE, {R, X}),
    GROUP_CREATE: (10016, GROUP_RANGE, {R}),
    GROUP_APPLY: (10016, GROUP_RANGE, {R}),
    GROUP_INVITE: (10016, GROUP_RANGE, {R}),
    GROUP_SEND: (10016, GROUP_RANGE, {R, X}),
    TOPIC_CREATE: (10016, GROUP_RANGE, {R}),
    C2C_SEND: (20006, MSG_RANGE, {R, X}),
}
VETO_NAMES = sorted(VETO_RULES)
BEFORE_NAMES = sorted(n for n, p in ALL.items() if p is BEFORE)
AFTER_NAMES = sorted(n for n, p in ALL.items() if p is AFTER)
RANGED = sorted(n for n, (_, rng, _) in VETO_RULES.items() if rng is not None)
SENDS = {OA_SEND, GROUP_SEND, C2C_SEND}
FRIENDS = {FRIEND_ADD, FRIEND_RESPONSE}


def answer(spec_name: str, decision: Decision, event: ev.Event | None = None) -> dict[str, Any]:
    """The JSON object a command's encoder writes for ``decision``."""
    body = COMMANDS[spec_name].encode(decision, event)
    value: dict[str, Any] = json.loads(body)
    return value


# --- the registry ---------------------------------------------------------------------------


def test_registry_holds_the_59_documented_commands() -> None:
    """COMMANDS is exactly the 59 commands of Tencent's webhook documents, in 12 groups."""
    counts = {group: len(names) for group, names in REGISTRY.items()}
    assert counts == {
        "OfficialAccount": 11,
        "Group": 25,
        "C2C": 6,
        "Sns": 6,
        "Follow": 2,
        "State": 1,
        "Profile": 1,
        "Bot": 2,
        "Chatbot": 1,
        "ContentCallback": 1,
        "Push": 2,
        "Alert": 1,
    }
    assert set(COMMANDS) == set(ALL)
    assert len(COMMANDS) == 59
    for group, names in REGISTRY.items():
        assert {COMMANDS[n].group for n in names} == {group}


@pytest.mark.parametrize(("name", "phase"), sorted(ALL.items()))
def test_each_command_has_its_phase_and_model(name: str, phase: Phase) -> None:
    """Each command is before or after as documented, and its model carries its wire name."""
    spec = COMMANDS[name]
    assert spec.name == name
    assert spec.phase is phase
    assert spec.is_before is (phase is BEFORE)
    assert spec.model.command == name
    assert issubclass(spec.model, ev.BeforeEvent) is (phase is BEFORE)
    assert get_command(name) is spec


def test_each_model_serves_one_command() -> None:
    """No two commands share a model class."""
    assert len({s.model for s in COMMANDS.values()}) == len(COMMANDS)


def test_unknown_command_is_not_in_the_registry() -> None:
    """get_command answers None for names Tencent never documented (or misspelled)."""
    assert get_command("OfficialAccount.CallbackAfterDestroyOfficialAccount") is None
    assert get_command("OfficialAccount.CallbackAfterMsgWithdraw") is None  # it is "WithDraw"
    assert get_command("Group.CallbackAfterMemberKicked") is None
    assert get_command("Call.CallbackAfterStartCall") is None  # TRTC Call, not Chat
    assert get_command("") is None


@pytest.mark.parametrize("name", VETO_NAMES)
def test_veto_commands_have_their_deny_code_and_custom_range(name: str) -> None:
    """Deny code: 20006 for OA creation and one-to-one messages, 10016 for the rest; custom
    ranges [120001, 130000] for OA and one-to-one messages, [10100, 10200] for groups."""
    deny_code, custom_range, extra = VETO_RULES[name]
    spec = COMMANDS[name]
    assert spec.deny_code == deny_code
    assert spec.custom_range == custom_range
    assert spec.decisions == {DecisionKind.ALLOW, DecisionKind.DENY} | extra
    assert spec.rewrites is (name in SENDS)
    assert (spec.result_range, spec.replies) == (None, False)


def test_friend_and_chatbot_commands_have_their_own_answers() -> None:
    """The friend-request commands answer per recipient with codes in [38000, 39000]; the
    chatbot pass-through command replies with RspData. Neither has a caller-visible code."""
    for name in FRIENDS:
        spec = COMMANDS[name]
        assert (spec.result_range, spec.replies, spec.deny_code) == ((38000, 39000), False, None)
        assert spec.decisions == {DecisionKind.ALLOW, DecisionKind.DENY}
    chatbot = COMMANDS[CHATBOT]
    assert (chatbot.result_range, chatbot.replies, chatbot.deny_code) == (None, True, None)
    assert chatbot.decisions == {DecisionKind.ALLOW, DecisionKind.DENY}


def test_deny_codes_are_tencents_rest_codes() -> None:
    """The deny codes are the named REST codes a caller sees."""
    assert COMMANDS[OA_CREATE].deny_code is RestCode.CREATE_REFUSED_BY_CALLBACK
    assert COMMANDS[C2C_SEND].deny_code is RestCode.MSG_REFUSED_BY_CALLBACK
    assert RestCode.CREATE_REFUSED_BY_CALLBACK == RestCode.MSG_REFUSED_BY_CALLBACK == 20006
    assert COMMANDS[GROUP_SEND].deny_code is RestCode.REFUSED_BY_CALLBACK
    assert RestCode.REFUSED_BY_CALLBACK == 10016


@pytest.mark.parametrize("name", AFTER_NAMES)
def test_after_commands_decide_nothing(name: str) -> None:
    """An after-webhook's answer is ignored: no deny code, no range, and no decision is valid."""
    spec = COMMANDS[name]
    assert spec.deny_code is None
    assert spec.custom_range is None
    assert not spec.decisions
    with pytest.raises(ConfigError, match="after-webhook"):
        spec.check(Decision.allow())


# --- encoding decisions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", VETO_NAMES)
def test_allow_is_the_plain_ok_body(name: str) -> None:
    """Allow is exactly {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}."""
    assert COMMANDS[name].encode(Decision.allow()) == ACK_BODY
    assert json.loads(ACK_BODY) == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}


@pytest.mark.parametrize("name", [*VETO_NAMES, CHATBOT])
def test_deny_is_error_code_one(name: str) -> None:
    """Deny answers ErrorCode 1 (the caller then sees the command's deny code)."""
    extra = {"RspData": ""} if name == CHATBOT else {}
    assert answer(name, Decision.deny()) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 1,
        **extra,
    }
    assert answer(name, Decision.deny("spam"))["ErrorInfo"] == "spam"


@pytest.mark.parametrize("name", RANGED)
def test_reject_passes_a_custom_code_and_info_at_both_ends_of_the_range(name: str) -> None:
    """A custom code anywhere in [low, high] is answered as ErrorCode with the app's ErrorInfo."""
    low, high = COMMANDS[name].custom_range or (0, 0)
    for code in (low, (low + high) // 2, high):
        assert answer(name, Decision.reject(code, "not today")) == {
            "ActionStatus": "OK",
            "ErrorInfo": "not today",
            "ErrorCode": code,
        }


@pytest.mark.parametrize("name", RANGED)
def test_reject_outside_the_range_is_a_config_error(name: str) -> None:
    """Codes just outside the custom range, or unrelated codes, raise ConfigError."""
    spec = COMMANDS[name]
    low, high = spec.custom_range or (0, 0)
    for code in (low - 1, high + 1, 3, -1, 10016, 20006):
        with pytest.raises(ConfigError, match=rf"\[{low}, {high}\]"):
            spec.encode(Decision.reject(code, "x"))


def test_reject_on_a_command_without_custom_codes_is_a_config_error() -> None:
    """BeforeAddSubscriber documents no custom range: any custom code is refused."""
    with pytest.raises(ConfigError, match="no custom error codes"):
        COMMANDS[OA_SUBSCRIBE].encode(Decision.reject(120001, "x"))


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [(OA_CREATE, 120001, 130000), (C2C_SEND, 120001, 130000), (GROUP_SEND, 10100, 10200)],
)
def test_custom_range_boundaries(name: str, low: int, high: int) -> None:
    """The ends of a custom range pass, one past either end does not."""
    spec = COMMANDS[name]
    assert spec.in_custom_range(low)
    assert spec.in_custom_range(high)
    assert not spec.in_custom_range(low - 1)
    assert not spec.in_custom_range(high + 1)


def test_discard_is_error_code_two_on_the_send_commands_only() -> None:
    """Discard (ErrorCode 2) exists for the OA, group and one-to-one BeforeSendMsg; elsewhere it
    is a ConfigError."""
    for name in SENDS:
        assert answer(name, Decision.discard()) == {
            "ActionStatus": "OK",
            "ErrorInfo": "",
            "ErrorCode": 2,
        }
    for name in sorted(set(BEFORE_NAMES) - SENDS):
        with pytest.raises(ConfigError, match="discard"):
            COMMANDS[name].encode(Decision.discard())


def test_partial_refusal_uses_each_commands_field() -> None:
    """Refusing some users: RefusedSubscribers_Account for OA subscribe, RefusedMembers_Account
    for group invite, both with ErrorCode 0."""
    assert answer(OA_SUBSCRIBE, Decision.refuse(["u1", "u2"])) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "RefusedSubscribers_Account": ["u1", "u2"],
    }
    assert answer(GROUP_INVITE, Decision.refuse(iter(["m1"]))) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "RefusedMembers_Account": ["m1"],
    }


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - {OA_SUBSCRIBE, GROUP_INVITE} - FRIENDS))
def test_partial_refusal_elsewhere_is_a_config_error(name: str) -> None:
    """Only the subscribe, invite and friend-request commands can refuse some users."""
    with pytest.raises(ConfigError, match="refusing some users"):
        COMMANDS[name].encode(Decision.refuse(["u1"]))


def test_partial_refusal_goes_with_error_code_zero_only() -> None:
    """A refusal list on a deny is not an answer Tencent knows."""
    with pytest.raises(ConfigError, match="ErrorCode 0"):
        COMMANDS[GROUP_INVITE].encode(Decision(error_code=1, refused=("m1",)))


@pytest.mark.parametrize("name", sorted(SENDS))
def test_rewrite_sends_msg_body_and_cloud_custom_data_on_before_send_msg(name: str) -> None:
    """Each BeforeSendMsg may answer ErrorCode 0 with a new MsgBody and/or CloudCustomData."""
    body = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]
    assert answer(name, Decision.rewrite(msg_body=body, cloud_custom_data="cc")) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "MsgBody": body,
        "CloudCustomData": "cc",
    }
    assert answer(name, Decision.rewrite(cloud_custom_data="")) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "CloudCustomData": "",
    }
    only_body = answer(name, Decision.rewrite(msg_body=[ev.MsgElement.text("***")]))
    assert only_body["MsgBody"] == body
    assert "CloudCustomData" not in only_body


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - SENDS))
def test_rewrite_elsewhere_is_a_config_error(name: str) -> None:
    """Only the BeforeSendMsg commands can rewrite the message."""
    with pytest.raises(ConfigError, match="rewriting"):
        COMMANDS[name].encode(Decision.rewrite(cloud_custom_data="x"))


def test_rewrite_goes_with_error_code_zero_only() -> None:
    """A rewrite on a deny or a discard is refused."""
    for code in (1, 2):
        with pytest.raises(ConfigError, match="ErrorCode 0"):
            COMMANDS[OA_SEND].encode(Decision(error_code=code, cloud_custom_data="x"))


def test_decision_kinds() -> None:
    """Each constructor asks for its kind; any other non-zero code is a custom rejection."""
    assert Decision.allow().kind is DecisionKind.ALLOW
    assert Decision.refuse(["a"]).kind is DecisionKind.ALLOW
    assert Decision.rewrite(cloud_custom_data="x").kind is DecisionKind.ALLOW
    assert Decision.deny().kind is DecisionKind.DENY
    assert Decision.discard().kind is DecisionKind.DISCARD
    assert Decision.reject(10100, "x").kind is DecisionKind.REJECT
    assert Decision(error_code=-5).kind is DecisionKind.REJECT


def test_decisions_are_immutable() -> None:
    """A Decision cannot be changed after it is built."""
    decision = Decision.deny()
    with pytest.raises(AttributeError):
        decision.error_code = 0  # type: ignore[misc]


# --- reading answers (the Chat backend side) ------------------------------------------------

VALID: dict[str, list[Decision]] = {
    OA_CREATE: [Decision.allow(), Decision.deny("no"), Decision.reject(125000, "custom")],
    OA_SUBSCRIBE: [Decision.allow(), Decision.deny(), Decision.refuse(["a", "b"])],
    OA_SEND: [
        Decision.allow(),
        Decision.deny(),
        Decision.discard(),
        Decision.reject(130000, "x"),
        Decision.rewrite(msg_body=[{"MsgType": "TIMTextElem"}], cloud_custom_data="c"),
    ],
    GROUP_CREATE: [Decision.allow(), Decision.reject(10100, "limit")],
    GROUP_APPLY: [Decision.deny("closed"), Decision.reject(10200, "x")],
    GROUP_INVITE: [Decision.allow(), Decision.refuse(["m"]), Decision.reject(10150, "x")],
    GROUP_SEND: [
        Decision.discard(),
        Decision.reject(10200, "x"),
        Decision.rewrite(msg_body=[ev.MsgElement.custom("LV1")], cloud_custom_data="c"),
    ],
    TOPIC_CREATE: [Decision.deny("no"), Decision.reject(10100, "x")],
    C2C_SEND: [Decision.deny(), Decision.discard(), Decision.reject(120001, "x")],
    CHATBOT: [Decision.reply('{"msg": "hi"}'), Decision.reply(""), Decision.deny("down")],
    FRIEND_ADD: [Decision.per_recipient({"a": 0, "b": (38001, "no")})],
}


@pytest.mark.parametrize(
    ("name", "decision"), [(n, d) for n, ds in sorted(VALID.items()) for d in ds]
)
def test_parse_response_reads_back_every_encoded_decision(name: str, decision: Decision) -> None:
    """What encode() writes, parse_response() reads back as the same Decision."""
    spec = COMMANDS[name]
    assert spec.parse_response(spec.encode(decision)) == decision


@pytest.mark.parametrize("name", [OA_SUBSCRIBE, GROUP_INVITE])
@pytest.mark.parametrize("field", ["RefusedSubscribers_Account", "RefusedMembers_Account"])
def test_parse_response_accepts_both_refusal_spellings(name: str, field: str) -> None:
    """The docs spell the refusal list both ways; either is read."""
    body = json.dumps({"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, field: ["x", "y"]})
    assert COMMANDS[name].parse_response(body.encode()).refused == ("x", "y")


def test_parse_response_drops_refusals_on_a_deny() -> None:
    """A refusal list only means something with ErrorCode 0."""
    body = b'{"ErrorCode":1,"ErrorInfo":"","RefusedMembers_Account":["x"]}'
    assert COMMANDS[GROUP_INVITE].parse_response(body) == Decision.deny()


def test_parse_response_ignores_rewrites_where_none_are_allowed() -> None:
    """MsgBody/CloudCustomData in an answer to a command that cannot rewrite are ignored."""
    body = b'{"ErrorCode":0,"ErrorInfo":"","MsgBody":[{"a":1}],"CloudCustomData":"c"}'
    assert COMMANDS[GROUP_CREATE].parse_response(body) == Decision.allow()
    assert COMMANDS[OA_SEND].parse_response(body) == Decision.rewrite(
        msg_body=[{"a": 1}], cloud_custom_data="c"
    )


def test_parse_response_tolerates_missing_info_and_quoted_codes() -> None:
    """ErrorInfo may be absent; ErrorCode may be a quoted integer."""
    spec = COMMANDS[OA_CREATE]
    assert spec.parse_response(b'{"ErrorCode":0}') == Decision.allow()
    assert spec.parse_response(b'{"ErrorCode":"1"}') == Decision.deny()
    assert spec.parse_response(b'{"ErrorCode":" 120001 ","ErrorInfo":"x"}') == Decision.reject(
        120001, "x"
    )


def test_parse_response_returns_codes_the_command_does_not_allow() -> None:
    """An out-of-range code is returned as is: what to do with it is the caller's policy."""
    assert COMMANDS[OA_SUBSCRIBE].parse_response(b'{"ErrorCode":7}').error_code == 7


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"ErrorCode":0',
        b"[]",
        b'"OK"',
        b"null",
        b"0",
        b"{}",
        b'{"ErrorCode":null}',
        b'{"ErrorCode":true}',
        b'{"ErrorCode":1.5}',
        b'{"ErrorCode":[0]}',
        b'{"ErrorCode":"one"}',
        b'{"ErrorCode":"--5"}',
        '{"ErrorCode":"\u00b2"}'.encode(),
        b'{"ErrorCode":"99999999999999999999999999"}',
        b'{"ErrorCode":0,"ErrorInfo":5}',
        b'{"ErrorCode":0,"RefusedMembers_Account":"x"}',
        b'{"ErrorCode":0,"RefusedSubscribers_Account":[1]}',
        b'{"ErrorCode":0,"MsgBody":{"a":1}}',
        b'{"ErrorCode":0,"MsgBody":["text"]}',
        b'{"ErrorCode":0,"CloudCustomData":5}',
        b"[" * 100_000,
        b"\xff\xfe",
    ],
)
def test_parse_response_raises_malformed_response_on_anything_else(body: bytes) -> None:
    """Any answer that is not a valid response object raises MalformedResponse, nothing else."""
    with pytest.raises(MalformedResponse):
        COMMANDS[OA_SEND].parse_response(body)


# --- per-recipient answers, replies, and decisions built from the event ----------------------

CATALOG = Path(__file__).resolve().parents[1] / "fixtures" / "catalog"


def sample(command: str) -> Any:
    """The command's first documented sample, parsed."""
    return parse_event(json.dumps(json.loads((CATALOG / f"{command}.json").read_text())[0]))


def items(body: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(i["To_Account"], i["ResultCode"], i["ResultInfo"]) for i in body["ResultItem"]]


@pytest.mark.parametrize("name", sorted(FRIENDS))
def test_friend_request_answers_name_every_recipient(name: str) -> None:
    """A friend-request answer is ErrorCode 0 with a ResultItem per recipient: allowed ones get
    0, refused ones their code; a deny or a plain refusal gives 38000, the range's first code."""
    event = sample(name)
    assert event.recipients() == ("id1", "id2")
    allowed = answer(name, event.allow(), event)
    assert (allowed["ErrorCode"], items(allowed)) == (0, [("id1", 0, ""), ("id2", 0, "")])
    one = answer(name, event.per_recipient({"id2": (38001, "too many requests")}), event)
    assert items(one) == [("id1", 0, ""), ("id2", 38001, "too many requests")]
    denied = answer(name, event.deny("closed"), event)
    assert (denied["ErrorCode"], items(denied)) == (
        0,
        [("id1", 38000, "closed"), ("id2", 38000, "closed")],
    )
    refused = answer(name, event.refuse(["id1"]), event)
    assert items(refused) == [("id1", 38000, ""), ("id2", 0, "")]
    listed = Decision.per_recipient([ResultItem("id1", 39000, "x")])
    assert items(answer(name, listed, event))[0] == ("id1", 39000, "x")


def test_friend_request_codes_outside_the_range_are_refused_when_built() -> None:
    """ResultCodes other than 0 and [38000, 39000] raise ConfigError from the event's builder."""
    event = sample(FRIEND_ADD)
    for code in (1, 37999, 39001, 20006):
        with pytest.raises(ConfigError, match=r"\[38000, 39000\]"):
            event.per_recipient({"id1": code})
    with pytest.raises(ConfigError, match="integer"):
        Decision.per_recipient({"id1": "38001"})  # type: ignore[dict-item]
    for decision in (Decision.discard(), Decision.reject(38001, "x")):
        with pytest.raises(ConfigError):
            COMMANDS[FRIEND_ADD].check(decision)


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - FRIENDS))
def test_per_recipient_results_elsewhere_are_a_config_error(name: str) -> None:
    """Only the friend-request commands answer per recipient."""
    with pytest.raises(ConfigError, match="per-recipient"):
        COMMANDS[name].check(Decision.per_recipient({"a": 0}))


def test_parse_response_reads_result_items() -> None:
    """A friend-request answer's ResultItem reads back; a malformed one is MalformedResponse."""
    spec = COMMANDS[FRIEND_RESPONSE]
    body = b'{"ErrorCode":0,"ResultItem":[{"To_Account":"a","ResultCode":"38005"}]}'
    assert spec.parse_response(body).results == (ResultItem("a", 38005, ""),)
    for bad in (
        b'{"ErrorCode":0,"ResultItem":{}}',
        b'{"ErrorCode":0,"ResultItem":[1]}',
        b'{"ErrorCode":0,"ResultItem":[{"ResultCode":0}]}',
        b'{"ErrorCode":0,"ResultItem":[{"To_Account":"a"}]}',
        b'{"ErrorCode":0,"ResultItem":[{"To_Account":"a","ResultCode":0,"ResultInfo":1}]}',
    ):
        with pytest.raises(MalformedResponse, match=r"ResultItem|ResultCode"):
            spec.parse_response(bad)


def test_chatbot_answers_carry_rsp_data() -> None:
    """Chatbot.OnC2CSignalMessage answers ErrorCode 0 with RspData (required, "" by default);
    RspData on a failure is ignored when read back."""
    event = sample(CHATBOT)
    assert answer(CHATBOT, event.allow()) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "RspData": "",
    }
    assert answer(CHATBOT, event.reply('{"msg":"pong"}'))["RspData"] == '{"msg":"pong"}'
    with pytest.raises(ConfigError, match="ErrorCode 0"):
        COMMANDS[CHATBOT].check(Decision(error_code=1, rsp_data="x"))
    failed = COMMANDS[CHATBOT].parse_response(b'{"ErrorCode":1,"RspData":"x"}')
    assert failed == Decision.deny()
    with pytest.raises(MalformedResponse, match="RspData"):
        COMMANDS[CHATBOT].parse_response(b'{"ErrorCode":0,"RspData":5}')


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - {CHATBOT}))
def test_replies_elsewhere_are_a_config_error(name: str) -> None:
    """Only the chatbot pass-through command replies with RspData."""
    with pytest.raises(ConfigError, match="RspData"):
        COMMANDS[name].check(Decision.reply("x"))


def test_decisions_a_command_does_not_allow_are_refused_when_built() -> None:
    """The event's builders check the command's rules at once: a C2C deny is fine, a group code
    on a C2C message, a discard of a topic, a rewrite of a group creation are ConfigError."""
    c2c = sample(C2C_SEND)
    assert c2c.deny().error_code == 1
    assert c2c.reject(125000, "blocked word").error_code == 125000
    assert c2c.discard().kind is DecisionKind.DISCARD
    assert c2c.rewrite(msg_body=[ev.MsgElement.text("***")]).msg_body == (
        {"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}},
    )
    with pytest.raises(ConfigError, match=r"\[120001, 130000\]"):
        c2c.reject(10100, "a group code")
    group = sample(GROUP_SEND)
    assert group.reject(10100, "slow down").error_code == 10100
    with pytest.raises(ConfigError, match=r"\[10100, 10200\]"):
        group.reject(120001, "a one-to-one code")
    topic = sample(TOPIC_CREATE)
    with pytest.raises(ConfigError, match="discard"):
        topic.discard()
    with pytest.raises(ConfigError, match="rewriting"):
        topic.rewrite(cloud_custom_data="x")
    with pytest.raises(ConfigError, match="RspData"):
        c2c.reply("x")
    after = sample("C2C.CallbackAfterSendMsg")
    assert not isinstance(after, ev.BeforeEvent)  # an after-webhook has no builders


def test_refuse_takes_a_list_not_a_string() -> None:
    """Decision.refuse("bob") would refuse "b" and "o": it is a ConfigError."""
    with pytest.raises(ConfigError, match="list"):
        Decision.refuse("bob")
