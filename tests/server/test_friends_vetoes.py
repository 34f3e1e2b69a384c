"""Sns.CallbackPrevFriendAdd and Sns.CallbackPrevFriendResponse decide per recipient.

The app answers with a ResultItem per user ("Before a Friend Is Added",
https://trtc.io/document/43468; "Before a Friend Request Is Responded",
https://trtc.io/document/43467): 0 lets that user's request (or answer) through, a code in
[38000, 39000] refuses it and reaches the caller in that user's ResultCode. A timhooks Receiver's
deny refuses everyone with 38000; an ErrorCode 1 answer from another app backend refuses the
whole call with 10016. Neither command allows discard or rewrite: such answers refuse like a
deny. A refused user is not added and no Sns.CallbackFriendAdd names them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from server_support import Stack, respond, stack

from timhooks.protocol import COMMANDS, Decision, DecisionKind
from timhooks.protocol import events as ev

SNS = "sns"
ADDED = ev.FriendAdd.command


@dataclass(frozen=True)
class Scenario:
    """A per-recipient before-webhook: set-up, the client action on users b and c, and who of
    them ended up on whose list."""

    command: str
    setup: Callable[[Stack], Awaitable[None]]
    act: Callable[[Stack], Awaitable[dict[str, Any]]]
    friends: Callable[[Stack], Awaitable[set[str]]]


async def _friend_get(st: Stack, user: str) -> set[str]:
    result = await st.rest.ok(SNS, "friend_get", {"From_Account": user})
    return {i["To_Account"] for i in result["UserDataItem"]}


async def _open_targets(st: Stack) -> None:
    await st.rest.import_users("a", "b", "c")
    item = {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_AllowAny"}
    for user in ("b", "c"):
        await st.rest.ok("profile", "portrait_set", {"From_Account": user, "ProfileItem": [item]})


async def _request(st: Stack) -> dict[str, Any]:
    items = [{"To_Account": "b"}, {"To_Account": "c"}]
    return await st.rest.client("a", "friend_add", {"AddFriendItem": items})


async def _pending(st: Stack) -> None:
    await st.rest.import_users("a", "b", "c")
    for user in ("b", "c"):
        answer = await st.rest.client(user, "friend_add", {"AddFriendItem": [{"To_Account": "a"}]})
        assert answer["ResultItem"][0]["ResultCode"] == 30539, answer


async def _respond(st: Stack) -> dict[str, Any]:
    items = [{"To_Account": u, "ResponseAction": "Response_Action_AgreeAndAdd"} for u in ("b", "c")]
    return await st.rest.client("a", "friend_response", {"ResponseFriendItem": items})


SCENARIOS = {
    "request": Scenario(
        ev.PrevFriendAdd.command, _open_targets, _request, lambda st: _friend_get(st, "a")
    ),
    "response": Scenario(
        ev.PrevFriendResponse.command, _pending, _respond, lambda st: _friend_get(st, "a")
    ),
}


def codes(answer: dict[str, Any]) -> dict[str, int]:
    assert answer["ErrorCode"] == 0, answer
    return {i["To_Account"]: i["ResultCode"] for i in answer["ResultItem"]}


def test_only_allow_and_deny_are_documented() -> None:
    """Tencent's pages ("Before a Friend Is Added", https://trtc.io/document/43468, and "Before
    a Friend Request Is Responded To", https://trtc.io/document/43467) give both commands
    ErrorCode 0 (with ResultItem) or a failure: no custom caller-visible range, no discard, no
    rewrite."""
    for s in SCENARIOS.values():
        spec = COMMANDS[s.command]
        assert spec.decisions == {DecisionKind.ALLOW, DecisionKind.DENY}
        assert spec.result_range == (38000, 39000)
        assert not spec.rewrites
        assert spec.custom_range is None


@pytest.mark.parametrize("name", SCENARIOS)
async def test_allow_lets_everyone_through(name: str, tmp_path: Path) -> None:
    """ErrorCode 0 with no refusals: both users get 0 and FriendAdd names them."""
    s = SCENARIOS[name]
    async with stack(tmp_path) as st:
        await s.setup(st)

        @st.receiver.on(s.command)
        def allow(event: ev.Event) -> Decision:
            return Decision.allow()

        assert codes(await s.act(st)) == {"b": 0, "c": 0}
        assert await s.friends(st) == {"b", "c"}
        [hit] = await st.recorder.wait_for(ADDED)
        assert {p["To_Account"] for p in hit.body["PairList"]} >= {"b", "c"}


@pytest.mark.parametrize("name", SCENARIOS)
async def test_deny_refuses_every_recipient_with_38000(name: str, tmp_path: Path) -> None:
    """A receiver's deny answers 38000 for every recipient: nobody is added, no FriendAdd."""
    s = SCENARIOS[name]
    async with stack(tmp_path) as st:
        await s.setup(st)

        @st.receiver.on(s.command)
        def deny(event: ev.Event) -> Decision:
            return Decision.deny("not today")

        assert codes(await s.act(st)) == {"b": 38000, "c": 38000}
        assert await s.friends(st) == set()
        await st.drained()
        assert await st.outbox(ADDED) == []


@pytest.mark.parametrize("name", SCENARIOS)
async def test_per_recipient_code_refuses_only_that_user(name: str, tmp_path: Path) -> None:
    """A ResultCode in [38000, 39000] for c reaches the caller with its ResultInfo; b is
    added and FriendAdd names b only."""
    s = SCENARIOS[name]
    async with stack(tmp_path) as st:
        await s.setup(st)

        @st.receiver.on(s.command)
        def some(event: ev.Event) -> Decision:
            return Decision.per_recipient({"c": (38123, "c is busy")})

        answer = await s.act(st)
        assert codes(answer) == {"b": 0, "c": 38123}
        [refused] = [i for i in answer["ResultItem"] if i["To_Account"] == "c"]
        assert refused["ResultInfo"] == "c is busy"
        assert answer["Fail_Account"] == ["c"]
        assert await s.friends(st) == {"b"}
        [hit] = await st.recorder.wait_for(ADDED)
        assert "c" not in {p["To_Account"] for p in hit.body["PairList"]}
        assert "c" not in {p["From_Account"] for p in hit.body["PairList"]}


@pytest.mark.parametrize("name", SCENARIOS)
async def test_out_of_range_result_code_refuses_with_38000(name: str, tmp_path: Path) -> None:
    """A ResultCode outside [38000, 39000] still refuses that user, as 38000."""
    s = SCENARIOS[name]
    async with stack(tmp_path) as st:
        await s.setup(st)
        items = [
            {"To_Account": "b", "ResultCode": 0, "ResultInfo": ""},
            {"To_Account": "c", "ResultCode": 7, "ResultInfo": "odd"},
        ]
        st.recorder.fail(
            s.command,
            respond(
                200, {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0, "ResultItem": items}
            ),
        )
        assert codes(await s.act(st)) == {"b": 0, "c": 38000}
        assert await s.friends(st) == {"b"}


@pytest.mark.parametrize("code", [1, 2])
@pytest.mark.parametrize("name", SCENARIOS)
async def test_error_code_answer_refuses_the_call(name: str, code: int, tmp_path: Path) -> None:
    """ErrorCode 1 from another app backend, or 2 (discard, which these commands do not take),
    refuses the whole call with 10016; nobody is added and no FriendAdd goes out."""
    s = SCENARIOS[name]
    async with stack(tmp_path) as st:
        await s.setup(st)
        st.recorder.fail(
            s.command, respond(200, {"ActionStatus": "OK", "ErrorInfo": "no", "ErrorCode": code})
        )
        answer = await s.act(st)
        assert answer["ErrorCode"] == 10016, answer
        assert await s.friends(st) == set()
        await st.drained()
        assert await st.outbox(ADDED) == []


@pytest.mark.parametrize("policy", ["proceed", "deny"])
@pytest.mark.parametrize("name", SCENARIOS)
async def test_failed_webhook_follows_the_failure_policy(
    name: str, policy: str, tmp_path: Path
) -> None:
    """An app backend that answers HTTP 500: proceed lets everyone through; deny refuses the
    call with 10016 and nobody is added."""
    s = SCENARIOS[name]
    async with stack(tmp_path, callback={"failure_policy": policy}) as st:
        await s.setup(st)
        st.recorder.fail(s.command, respond(500, b"down"))
        answer = await s.act(st)
        if policy == "proceed":
            assert codes(answer) == {"b": 0, "c": 0}
            assert await s.friends(st) == {"b", "c"}
        else:
            assert answer["ErrorCode"] == 10016, answer
            assert await s.friends(st) == set()
        [record] = await st.before_records(s.command)
        assert record.status == "fallback"
