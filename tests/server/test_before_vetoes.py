"""Before-webhooks decide: deny, custom codes, timeouts under each failure policy, partial
refusals, and BeforeSendMsg's discard and rewrite, all answered by a timhooks Receiver.

A vetoed action never happens and never sends its after-webhook.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_friends_vetoes
from server_support import (
    CONFIG,
    GROUP,
    OA,
    Stack,
    check_body,
    members,
    respond,
    stack,
    subs,
)

from served import SENT_BY_SERVE
from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol import events as ev

TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]
OPENIM = "openim"
TOPIC = "million_group_open_http_svc"
BEFORE_TIMEOUT_MS = 300
MARGIN = 1.5  # generous: the bound under test is "about the before-timeout", not "fast"


@dataclass(frozen=True)
class Scenario:
    """One before-webhook: how to set it up, trigger it, and tell whether the change happened."""

    command: str
    after: str
    deny_code: int
    custom: tuple[int, str] | None
    setup: Callable[[Stack], Awaitable[dict[str, Any]]]
    act: Callable[[Stack, dict[str, Any]], Awaitable[dict[str, Any]]]
    happened: Callable[[Stack, dict[str, Any]], Awaitable[bool]]


async def _owner(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner", "amy")
    return {}


async def _with_oa(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner", "amy")
    return {"oa": await st.rest.create_oa("owner")}


async def _with_chatroom(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner", "amy")
    return {"group": await st.rest.create_group("owner", "ChatRoom")}


async def _with_public(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner", "amy")
    return {"group": await st.rest.create_group("owner", "Public")}


async def _create_oa(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"Owner_Account": "owner", "Name": "Veto", "OfficialAccountUserID": "@TOA#_veto"}
    return await st.rest.call(OA, "create_official_account", body)


async def _oa_exists(st: Stack, ctx: dict[str, Any]) -> bool:
    return (await st.rest.oa_info("@TOA#_veto"))["ErrorCode"] == 0


async def _add_subscriber(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"Official_Account": ctx["oa"], "SubscriberList": subs("amy")}
    return await st.rest.call(OA, "add_subscriber", body)


async def _subscribed(st: Stack, ctx: dict[str, Any]) -> bool:
    return "amy" in await st.rest.subscribers(ctx["oa"])


async def _send(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"Official_Account": ctx["oa"], "MsgBody": TEXT}
    return await st.rest.call(OA, "send_official_account_msg", body)


async def _sent(st: Stack, ctx: dict[str, Any]) -> bool:
    return (await st.rest.oa_info(ctx["oa"]))["LastMsgTime"] != 0


async def _create_group(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"Owner_Account": "owner", "Type": "Public", "Name": "Veto", "GroupId": "veto-group"}
    return await st.rest.call(GROUP, "create_group", body)


async def _group_exists(st: Stack, ctx: dict[str, Any]) -> bool:
    return (await st.rest.group_info("veto-group"))["ErrorCode"] == 0


async def _apply(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    return await st.rest.client("amy", "apply_join_group", {"GroupId": ctx["group"]})


async def _invite(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"GroupId": ctx["group"], "MemberList": members("amy")}
    return await st.rest.call(GROUP, "add_group_member", body)


async def _member(st: Stack, ctx: dict[str, Any]) -> bool:
    return "amy" in await st.rest.members(ctx["group"])


async def _sendmsg(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"From_Account": "owner", "To_Account": "amy", "MsgBody": TEXT}
    return await st.rest.call(OPENIM, "sendmsg", body)


async def _c2c_stored(st: Stack, ctx: dict[str, Any]) -> bool:
    body = {
        "Operator_Account": "owner",
        "Peer_Account": "amy",
        "MaxCnt": 10,
        "MinTime": 0,
        "MaxTime": 2**32 - 1,
    }
    return bool((await st.rest.ok(OPENIM, "admin_getroammsg", body))["MsgList"])


async def _send_group_msg(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    body = {"GroupId": ctx["group"], "From_Account": "owner", "MsgBody": TEXT}
    return await st.rest.call(GROUP, "send_group_msg", body)


async def _group_msg_stored(st: Stack, ctx: dict[str, Any]) -> bool:
    body = {"GroupId": ctx["group"], "ReqMsgNumber": 10}
    return bool((await st.rest.ok(GROUP, "group_msg_get_simple", body))["RspMsgList"])


async def _with_community(st: Stack) -> dict[str, Any]:
    await st.rest.import_users("owner")
    return {"group": await st.rest.create_group("owner", "Community", SupportTopic=1)}


async def _create_topic(st: Stack, ctx: dict[str, Any]) -> dict[str, Any]:
    return await st.rest.call(TOPIC, "create_topic", {"GroupId": ctx["group"], "TopicName": "Veto"})


async def _topic_exists(st: Stack, ctx: dict[str, Any]) -> bool:
    result = await st.rest.ok(TOPIC, "get_topic", {"GroupId": ctx["group"]})
    return bool(result["TopicAndSelfInfo"])


SCENARIOS = {
    "create_oa": Scenario(
        ev.BeforeCreateOfficialAccount.command,
        ev.AfterCreateOfficialAccount.command,
        20006,
        (120001, "name taken by a brand"),
        _owner,
        _create_oa,
        _oa_exists,
    ),
    "add_subscriber": Scenario(
        ev.BeforeAddSubscriber.command,
        ev.AfterAddSubscriber.command,
        10016,
        None,
        _with_oa,
        _add_subscriber,
        _subscribed,
    ),
    "send_msg": Scenario(
        ev.BeforeSendMsg.command,
        ev.AfterSendMsg.command,
        10016,
        (130000, "contains a banned word"),
        _with_oa,
        _send,
        _sent,
    ),
    "create_group": Scenario(
        ev.BeforeCreateGroup.command,
        ev.AfterCreateGroup.command,
        10016,
        (10100, "too many groups"),
        _owner,
        _create_group,
        _group_exists,
    ),
    "apply_join": Scenario(
        ev.BeforeApplyJoinGroup.command,
        ev.AfterNewMemberJoin.command,
        10016,
        (10200, "members only by invitation"),
        _with_chatroom,
        _apply,
        _member,
    ),
    "invite_join": Scenario(
        ev.BeforeInviteJoinGroup.command,
        ev.AfterNewMemberJoin.command,
        10016,
        (10150, "amy is banned"),
        _with_public,
        _invite,
        _member,
    ),
    "c2c_send": Scenario(
        ev.C2CBeforeSendMsg.command,
        ev.C2CAfterSendMsg.command,
        20006,
        (125000, "no links to strangers"),
        _owner,
        _sendmsg,
        _c2c_stored,
    ),
    "group_send": Scenario(
        ev.GroupBeforeSendMsg.command,
        ev.GroupAfterSendMsg.command,
        10016,
        (10150, "slow mode"),
        _with_public,
        _send_group_msg,
        _group_msg_stored,
    ),
    "create_topic": Scenario(
        ev.BeforeCreateTopic.command,
        ev.AfterCreateTopic.command,
        10016,
        (10150, "topic names are curated"),
        _with_community,
        _create_topic,
        _topic_exists,
    ),
}
WITH_RANGE = [name for name, s in SCENARIOS.items() if s.custom is not None]


# The friend before-webhooks decide per recipient (a ResultCode for each user in the answer,
# not the call's ErrorCode): their veto suite is tests/server/test_friends_vetoes.py.
PER_RECIPIENT = frozenset(s.command for s in test_friends_vetoes.SCENARIOS.values())


def test_every_before_command_has_a_veto_scenario() -> None:
    """The before-webhooks serve sends each have a scenario below, except the two friend ones
    whose scenarios are in test_friends_vetoes."""
    assert {ev.PrevFriendAdd.command, ev.PrevFriendResponse.command} == PER_RECIPIENT
    assert {s.command for s in SCENARIOS.values()} == {
        name for name in SENT_BY_SERVE if COMMANDS[name].is_before
    } - PER_RECIPIENT


def test_custom_codes_lie_in_the_documented_ranges() -> None:
    """The custom codes the scenarios use are in each command's documented range."""
    for s in SCENARIOS.values():
        spec = COMMANDS[s.command]
        if s.custom is None:
            assert spec.custom_range is None
        else:
            assert spec.in_custom_range(s.custom[0])


async def nothing_after(st: Stack, scenario: Scenario, before_count: int) -> None:
    """No after-webhook of the scenario was queued or sent beyond ``before_count``."""
    await st.drained()
    assert len(await st.outbox(scenario.after)) == before_count
    assert len(st.recorder.of(scenario.after)) == before_count


@pytest.mark.parametrize("name", SCENARIOS)
async def test_plain_deny_refuses_with_the_commands_code(name: str, tmp_path: Path) -> None:
    """ErrorCode 1 refuses the action: the caller gets the command's deny code (20006 or
    10016), the change is not made, and no after-webhook goes out."""
    scenario = SCENARIOS[name]
    async with stack(tmp_path) as st:
        ctx = await scenario.setup(st)
        baseline = len(await st.outbox(scenario.after))

        @st.receiver.on(scenario.command)
        def deny(event: ev.Event) -> Decision:
            return Decision.deny()

        result = await scenario.act(st, ctx)
        assert result["ErrorCode"] == scenario.deny_code, result
        assert len(st.recorder.of(scenario.command)) == 1
        assert not await scenario.happened(st, ctx)
        await nothing_after(st, scenario, baseline)


@pytest.mark.parametrize("name", WITH_RANGE)
async def test_custom_code_passes_through_with_its_error_info(name: str, tmp_path: Path) -> None:
    """A custom code in the command's range reaches the caller with the app's ErrorInfo; the
    change is not made and no after-webhook goes out."""
    scenario = SCENARIOS[name]
    assert scenario.custom is not None
    code, info = scenario.custom
    async with stack(tmp_path) as st:
        ctx = await scenario.setup(st)
        baseline = len(await st.outbox(scenario.after))

        @st.receiver.on(scenario.command)
        def reject(event: ev.Event) -> Decision:
            return Decision.reject(code, info)

        result = await scenario.act(st, ctx)
        assert (result["ErrorCode"], result["ErrorInfo"]) == (code, info)
        assert not await scenario.happened(st, ctx)
        await nothing_after(st, scenario, baseline)


@pytest.mark.parametrize("name", SCENARIOS)
async def test_out_of_range_code_counts_as_a_plain_deny(name: str, tmp_path: Path) -> None:
    """An answer with a code the command does not allow (here 99) refuses like ErrorCode 1."""
    scenario = SCENARIOS[name]
    async with stack(tmp_path) as st:
        ctx = await scenario.setup(st)
        st.recorder.fail(
            scenario.command, respond(200, {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 99})
        )
        result = await scenario.act(st, ctx)
        assert result["ErrorCode"] == scenario.deny_code, result
        assert not await scenario.happened(st, ctx)


@pytest.mark.parametrize("policy", ["proceed", "deny"])
@pytest.mark.parametrize("name", SCENARIOS)
async def test_timeout_follows_the_failure_policy(name: str, policy: str, tmp_path: Path) -> None:
    """A before-webhook slower than BeforeTimeoutMs ends the wait at about that time; the change
    is made under policy proceed and refused with the command's code under deny."""
    scenario = SCENARIOS[name]
    async with stack(tmp_path, receiver_options={"before_deadline": 10.0}) as st:
        ctx = await scenario.setup(st)
        baseline = len(await st.outbox(scenario.after))
        await st.rest.ok(
            CONFIG,
            "set_callback",
            {"BeforeTimeoutMs": BEFORE_TIMEOUT_MS, "BeforeFailurePolicy": policy},
        )
        release = asyncio.Event()

        @st.receiver.on(scenario.command)
        async def slow(event: ev.Event) -> Decision:
            await asyncio.wait_for(release.wait(), 5)
            return Decision.deny()

        started = time.monotonic()
        result = await scenario.act(st, ctx)
        elapsed = time.monotonic() - started
        release.set()
        assert BEFORE_TIMEOUT_MS / 1000 * 0.9 <= elapsed < BEFORE_TIMEOUT_MS / 1000 + MARGIN
        if policy == "proceed":
            assert result["ErrorCode"] == 0, result
            assert await scenario.happened(st, ctx)
            await st.recorder.wait_for(scenario.after, baseline + 1)
        else:
            assert result["ErrorCode"] == scenario.deny_code, result
            assert not await scenario.happened(st, ctx)
            await nothing_after(st, scenario, baseline)
        [record] = await st.before_records(scenario.command)
        assert record.status == "fallback"  # the failure policy answered it
        assert "timed out" in (record.last_error or "")


BEFORE_FAILURES = {
    "HTTP 500": respond(500, b"down"),
    "not JSON": respond(200, b"<html>busy</html>"),
    "JSON array": respond(200, b"[]"),
    "no ErrorCode": respond(200, {"ActionStatus": "OK", "ErrorInfo": ""}),
}


@pytest.mark.parametrize("policy", ["proceed", "deny"])
@pytest.mark.parametrize("answer", BEFORE_FAILURES)
async def test_failed_before_webhook_follows_the_failure_policy(
    tmp_path: Path, answer: str, policy: str
) -> None:
    """A non-200, non-JSON or wrongly shaped answer to a before-webhook is a failure: proceed
    creates the group, deny refuses it with 10016."""
    scenario = SCENARIOS["create_group"]
    async with stack(tmp_path, callback={"failure_policy": policy}) as st:
        ctx = await scenario.setup(st)
        st.recorder.fail(scenario.command, BEFORE_FAILURES[answer])
        result = await scenario.act(st, ctx)
        assert result["ErrorCode"] == (0 if policy == "proceed" else 10016), result
        assert await scenario.happened(st, ctx) is (policy == "proceed")


# --- partial refusals -------------------------------------------------------------------------


async def test_refused_subscribers_get_result_0(tmp_path: Path) -> None:
    """RefusedSubscribers_Account refuses only those users: they get Result 0, the others are
    subscribed and AfterAddSubscriber lists only them."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b", "c")
        oa = await st.rest.create_oa("owner")

        @st.receiver.on(ev.BeforeAddSubscriber)
        def refuse(event: ev.Event) -> Decision:
            return Decision.refuse(["b"])

        result = await st.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a", "b", "c")}
        )
        assert result["SubscriberList"] == [
            {"Subscriber_Account": "a", "Result": 1},
            {"Subscriber_Account": "b", "Result": 0},
            {"Subscriber_Account": "c", "Result": 1},
        ]
        [before] = st.recorder.of(ev.BeforeAddSubscriber.command)
        assert b"RefusedSubscribers_Account" in before.answer
        [hit] = await st.recorder.wait_for(ev.AfterAddSubscriber.command)
        assert hit.body["SubscribeAccountList"] == subs("a", "c")
        assert sorted(await st.rest.subscribers(oa)) == ["a", "c"]


async def test_refused_client_subscriber_gets_result_0(tmp_path: Path) -> None:
    """A client subscription the app refuses by name answers Result 0 and sends nothing after."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        oa = await st.rest.create_oa("owner")

        @st.receiver.on(ev.BeforeAddSubscriber)
        def refuse(event: ev.Event) -> Decision:
            return Decision.refuse(["amy"])

        result = await st.rest.client("amy", "subscribe_official_account", {"Official_Account": oa})
        assert result["Result"] == 0
        await st.drained()
        assert st.recorder.of(ev.AfterAddSubscriber.command) == []
        assert await st.rest.subscribers(oa) == []


async def test_refused_members_account_alias_refuses_subscribers(tmp_path: Path) -> None:
    """The BeforeAddSubscriber page's prose name, RefusedMembers_Account, refuses too."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b")
        oa = await st.rest.create_oa("owner")
        st.recorder.fail(
            ev.BeforeAddSubscriber.command,
            respond(
                200,
                {
                    "ActionStatus": "OK",
                    "ErrorInfo": "",
                    "ErrorCode": 0,
                    "RefusedMembers_Account": ["a"],
                },
            ),
        )
        result = await st.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a", "b")}
        )
        assert [r["Result"] for r in result["SubscriberList"]] == [0, 1]


async def test_refused_members_get_result_0(tmp_path: Path) -> None:
    """RefusedMembers_Account refuses only those invitees: Result 0 for them, the others join
    and AfterNewMemberJoin lists only them."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b", "c")
        group = await st.rest.create_group("owner", "Public")

        @st.receiver.on(ev.BeforeInviteJoinGroup)
        def refuse(event: ev.Event) -> Decision:
            return Decision.refuse(["a", "c"])

        result = await st.rest.ok(
            GROUP, "add_group_member", {"GroupId": group, "MemberList": members("a", "b", "c")}
        )
        assert result["MemberList"] == [
            {"Member_Account": "a", "Result": 0},
            {"Member_Account": "b", "Result": 1},
            {"Member_Account": "c", "Result": 0},
        ]
        [before] = st.recorder.of(ev.BeforeInviteJoinGroup.command)
        assert b"RefusedMembers_Account" in before.answer
        [hit] = await st.recorder.wait_for(ev.AfterNewMemberJoin.command)
        assert hit.body["NewMemberList"] == members("b")
        assert sorted(await st.rest.members(group)) == ["b", "owner"]


async def test_refusing_every_invitee_adds_nobody(tmp_path: Path) -> None:
    """A client invitation whose every invitee is refused adds nobody and sends no join."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        group = await st.rest.create_group("owner", "Private")

        @st.receiver.on(ev.BeforeInviteJoinGroup)
        def refuse(event: ev.Event) -> Decision:
            return Decision.refuse(["amy"])

        result = await st.rest.client(
            "owner", "invite_group_member", {"GroupId": group, "MemberList": members("amy")}
        )
        assert result["MemberList"] == [{"Member_Account": "amy", "Result": 0}]
        await st.drained()
        assert st.recorder.of(ev.AfterNewMemberJoin.command) == []


# --- BeforeSendMsg: discard and rewrite -----------------------------------------------------------


async def test_discard_looks_like_success_and_sends_nothing_after(tmp_path: Path) -> None:
    """ErrorCode 2 drops the message silently: the sender sees success, the OA has no message
    and no AfterSendMsg goes out."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")

        @st.receiver.on(ev.BeforeSendMsg)
        def discard(event: ev.Event) -> Decision:
            return Decision.discard()

        result = await st.rest.ok(
            OA, "send_official_account_msg", {"Official_Account": oa, "MsgBody": TEXT}
        )
        assert isinstance(result["MsgKey"], str)
        assert result["MsgKey"]
        assert isinstance(result["MsgTime"], int)
        await st.drained()
        assert await st.outbox(ev.AfterSendMsg.command) == []
        assert st.recorder.of(ev.AfterSendMsg.command) == []
        assert (await st.rest.oa_info(oa))["LastMsgTime"] == 0
        recall = await st.rest.ok(
            OA,
            "official_account_msg_recall",
            {"Official_Account": oa, "MsgKeyList": [result["MsgKey"]]},
        )
        assert recall["RecallRetList"][0]["RetCode"] == 10030


async def test_rewrite_replaces_body_and_custom_data(tmp_path: Path) -> None:
    """An answer with MsgBody and CloudCustomData replaces the message: AfterSendMsg carries the
    app's versions."""
    clean = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "h***o"}}]
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")

        @st.receiver.on(ev.BeforeSendMsg)
        def rewrite(event: ev.BeforeSendMsg) -> Decision:
            assert [e.to_wire() for e in event.msg_body] == TEXT  # typed MsgElements
            return Decision.rewrite(msg_body=clean, cloud_custom_data="moderated")

        started = time.time()
        result = await st.rest.ok(
            OA,
            "send_official_account_msg",
            {"Official_Account": oa, "MsgBody": TEXT, "CloudCustomData": "raw"},
        )
        [hit] = await st.recorder.wait_for(ev.AfterSendMsg.command)
        check_body(
            hit,
            ev.AfterSendMsg.command,
            (started, time.time()),
            Official_Account=oa,
            MsgKey=result["MsgKey"],
            MsgTime=result["MsgTime"],
            OnlineOnlyFlag=0,
            MsgBody=clean,
            CloudCustomData="moderated",
        )


async def test_rewrite_of_custom_data_only_keeps_the_body(tmp_path: Path) -> None:
    """An answer with only CloudCustomData keeps the original MsgBody."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")

        @st.receiver.on(ev.BeforeSendMsg)
        def rewrite(event: ev.Event) -> Decision:
            return Decision.rewrite(cloud_custom_data="tagged")

        await st.rest.send_msg(oa, CloudCustomData="raw")
        [hit] = await st.recorder.wait_for(ev.AfterSendMsg.command)
        assert hit.body["MsgBody"] == TEXT
        assert hit.body["CloudCustomData"] == "tagged"
