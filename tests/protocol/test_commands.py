"""The command registry and the before-webhook answers Tencent expects (reference 3, 4, 7.5)."""

from __future__ import annotations

import json
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
    get_command,
)

BEFORE, AFTER = Phase.BEFORE, Phase.AFTER

OFFICIAL_ACCOUNT = {
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
}
GROUP = {
    "Group.CallbackBeforeCreateGroup": BEFORE,
    "Group.CallbackAfterCreateGroup": AFTER,
    "Group.CallbackBeforeApplyJoinGroup": BEFORE,
    "Group.CallbackBeforeInviteJoinGroup": BEFORE,
    "Group.CallbackAfterNewMemberJoin": AFTER,
    "Group.CallbackAfterMemberExit": AFTER,
    "Group.CallbackAfterGroupFull": AFTER,
}

OA_CREATE = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
OA_SUBSCRIBE = "OfficialAccount.CallbackBeforeAddSubscriber"
OA_SEND = "OfficialAccount.CallbackBeforeSendMsg"
GROUP_CREATE = "Group.CallbackBeforeCreateGroup"
GROUP_APPLY = "Group.CallbackBeforeApplyJoinGroup"
GROUP_INVITE = "Group.CallbackBeforeInviteJoinGroup"

# command: (caller-visible code on deny, custom pass-through range, extra decision kinds)
BEFORE_RULES: dict[str, tuple[int, tuple[int, int] | None, set[DecisionKind]]] = {
    OA_CREATE: (20006, (120001, 130000), {DecisionKind.REJECT}),
    # The docs name no code or range for BeforeAddSubscriber (reference 3.5); timhooks answers
    # the generic "refused by the app backend" 10016.
    OA_SUBSCRIBE: (10016, None, set()),
    OA_SEND: (10016, (120001, 130000), {DecisionKind.REJECT, DecisionKind.DISCARD}),
    GROUP_CREATE: (10016, (10100, 10200), {DecisionKind.REJECT}),
    GROUP_APPLY: (10016, (10100, 10200), {DecisionKind.REJECT}),
    GROUP_INVITE: (10016, (10100, 10200), {DecisionKind.REJECT}),
}
BEFORE_NAMES = sorted(BEFORE_RULES)
AFTER_NAMES = sorted(n for n, p in (OFFICIAL_ACCOUNT | GROUP).items() if p is AFTER)
RANGED = sorted(n for n, (_, rng, _) in BEFORE_RULES.items() if rng is not None)


def answer(spec_name: str, decision: Decision) -> dict[str, Any]:
    """The JSON object a command's encoder writes for ``decision``."""
    body = COMMANDS[spec_name].encode(decision)
    value: dict[str, Any] = json.loads(body)
    return value


# --- the registry ---------------------------------------------------------------------------


def test_registry_holds_exactly_the_eleven_oa_and_seven_group_commands() -> None:
    """COMMANDS is exactly the 11 OfficialAccount.* and 7 Group.* commands, nothing more."""
    assert len(OFFICIAL_ACCOUNT) == 11
    assert len(GROUP) == 7
    assert set(COMMANDS) == set(OFFICIAL_ACCOUNT) | set(GROUP)


@pytest.mark.parametrize(("name", "phase"), sorted((OFFICIAL_ACCOUNT | GROUP).items()))
def test_each_command_has_its_phase_and_model(name: str, phase: Phase) -> None:
    """Each command is before or after as documented, and its model carries its wire name."""
    spec = COMMANDS[name]
    assert spec.name == name
    assert spec.phase is phase
    assert spec.is_before is (phase is BEFORE)
    assert spec.model.command == name
    assert get_command(name) is spec


def test_unknown_command_is_not_in_the_registry() -> None:
    """get_command answers None for names Tencent never documented (or misspelled)."""
    assert get_command("OfficialAccount.CallbackAfterDestroyOfficialAccount") is None
    assert get_command("OfficialAccount.CallbackAfterMsgWithdraw") is None  # it is "WithDraw"
    assert get_command("") is None


@pytest.mark.parametrize("name", BEFORE_NAMES)
def test_before_commands_have_their_deny_code_and_custom_range(name: str) -> None:
    """Deny code: 20006 for OA creation, 10016 for OA send and group ops; ranges as documented."""
    deny_code, custom_range, extra = BEFORE_RULES[name]
    spec = COMMANDS[name]
    assert spec.deny_code == deny_code
    assert spec.custom_range == custom_range
    assert spec.decisions == {DecisionKind.ALLOW, DecisionKind.DENY} | extra


def test_deny_codes_are_tencents_rest_codes() -> None:
    """The deny codes are the named REST codes a caller sees."""
    assert COMMANDS[OA_CREATE].deny_code is RestCode.CREATE_REFUSED_BY_CALLBACK
    assert RestCode.CREATE_REFUSED_BY_CALLBACK == 20006
    assert COMMANDS[OA_SEND].deny_code is RestCode.REFUSED_BY_CALLBACK
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


@pytest.mark.parametrize("name", BEFORE_NAMES)
def test_allow_is_the_plain_ok_body(name: str) -> None:
    """Allow is exactly {"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}."""
    assert COMMANDS[name].encode(Decision.allow()) == ACK_BODY
    assert json.loads(ACK_BODY) == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}


@pytest.mark.parametrize("name", BEFORE_NAMES)
def test_deny_is_error_code_one(name: str) -> None:
    """Deny answers ErrorCode 1 (the caller then sees the command's deny code)."""
    assert answer(name, Decision.deny()) == {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 1}
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


def test_oa_create_custom_range_boundaries() -> None:
    """BeforeCreateOfficialAccount: 120001 and 130000 pass, 120000 and 130001 do not."""
    spec = COMMANDS[OA_CREATE]
    assert spec.in_custom_range(120001)
    assert spec.in_custom_range(130000)
    assert not spec.in_custom_range(120000)
    assert not spec.in_custom_range(130001)


def test_discard_is_error_code_two_on_before_send_msg_only() -> None:
    """Discard (ErrorCode 2) exists only for OA BeforeSendMsg; elsewhere it is a ConfigError."""
    assert answer(OA_SEND, Decision.discard()) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 2,
    }
    for name in BEFORE_NAMES:
        if name != OA_SEND:
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


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - {OA_SUBSCRIBE, GROUP_INVITE}))
def test_partial_refusal_elsewhere_is_a_config_error(name: str) -> None:
    """Only the subscribe and invite commands can refuse some users."""
    with pytest.raises(ConfigError, match="refusing some users"):
        COMMANDS[name].encode(Decision.refuse(["u1"]))


def test_partial_refusal_goes_with_error_code_zero_only() -> None:
    """A refusal list on a deny is not an answer Tencent knows."""
    with pytest.raises(ConfigError, match="ErrorCode 0"):
        COMMANDS[GROUP_INVITE].encode(Decision(error_code=1, refused=("m1",)))


def test_rewrite_sends_msg_body_and_cloud_custom_data_on_before_send_msg() -> None:
    """BeforeSendMsg may answer ErrorCode 0 with a new MsgBody and/or CloudCustomData."""
    body = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "***"}}]
    assert answer(OA_SEND, Decision.rewrite(msg_body=body, cloud_custom_data="cc")) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "MsgBody": body,
        "CloudCustomData": "cc",
    }
    assert answer(OA_SEND, Decision.rewrite(cloud_custom_data="")) == {
        "ActionStatus": "OK",
        "ErrorInfo": "",
        "ErrorCode": 0,
        "CloudCustomData": "",
    }
    only_body = answer(OA_SEND, Decision.rewrite(msg_body=body))
    assert only_body["MsgBody"] == body
    assert "CloudCustomData" not in only_body


@pytest.mark.parametrize("name", sorted(set(BEFORE_NAMES) - {OA_SEND}))
def test_rewrite_elsewhere_is_a_config_error(name: str) -> None:
    """Only OA BeforeSendMsg can rewrite the message."""
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
    """The docs spell the refusal list both ways (reference 3.5); either is read."""
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
