"""BeforeCreateTopic decides, per decision kind, answered by a timhooks Receiver.

"Before a Topic Is Created" (https://tencentcloud.com/document/product/1047/49463): 0 allows,
1 refuses with 10016, a code in [10100, 10200] reaches the caller; the command allows no discard
and no rewrite, so any other code is a plain deny. A refused topic is not created and sends no
AfterCreateTopic. The deny, a custom code, an out-of-range code and the before-timeout under
each failure policy are the "create_topic" scenario of tests/server/test_before_vetoes.py; this
module holds what is particular to topics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_support import Stack, respond, stack

from timhooks.protocol import COMMANDS, Decision
from timhooks.protocol import events as ev

TOPIC = "million_group_open_http_svc"
BEFORE = ev.BeforeCreateTopic.command
AFTER = ev.AfterCreateTopic.command


async def setup(st: Stack) -> str:
    await st.rest.import_users("owner")
    return await st.rest.create_group("owner", "Community", SupportTopic=1)


async def create(st: Stack, group: str) -> dict[str, Any]:
    return await st.rest.call(TOPIC, "create_topic", {"GroupId": group, "TopicName": "Vetoed"})


async def topic_count(st: Stack, group: str) -> int:
    return len((await st.rest.ok(TOPIC, "get_topic", {"GroupId": group}))["TopicAndSelfInfo"])


async def nothing_after(st: Stack, group: str) -> None:
    assert await topic_count(st, group) == 0
    await st.drained()
    assert await st.outbox(AFTER) == []
    assert st.recorder.of(AFTER) == []


def test_the_documented_codes() -> None:
    """The registry has BeforeCreateTopic's deny code and custom range, and neither discard
    nor rewrite."""
    spec = COMMANDS[BEFORE]
    assert spec.deny_code == 10016
    assert spec.in_custom_range(10100)
    assert spec.in_custom_range(10200)
    assert not spec.in_custom_range(10201)


async def test_allow_creates_the_topic(tmp_path: Path) -> None:
    """An explicit allow lets the topic be created; AfterCreateTopic follows."""
    async with stack(tmp_path) as st:
        group = await setup(st)

        @st.receiver.on(BEFORE)
        def allow(event: ev.Event) -> Decision:
            assert isinstance(event, ev.BeforeCreateTopic)
            assert event.name == "Vetoed"
            return Decision.allow()

        result = await create(st, group)
        assert result["ErrorCode"] == 0, result
        assert await topic_count(st, group) == 1
        await st.recorder.wait_for(AFTER)
        [record] = await st.before_records(BEFORE)
        assert record.status == "delivered"


@pytest.mark.parametrize("code", [2, 10201])
async def test_other_codes_are_a_plain_deny(code: int, tmp_path: Path) -> None:
    """A discard (2, for messages only) or the code just past the range refuses like
    ErrorCode 1."""
    async with stack(tmp_path) as st:
        group = await setup(st)
        st.recorder.fail(
            BEFORE, respond(200, {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": code})
        )
        result = await create(st, group)
        assert result["ErrorCode"] == 10016, result
        await nothing_after(st, group)


@pytest.mark.parametrize("policy", ["proceed", "deny"])
async def test_failed_webhook_follows_the_failure_policy(policy: str, tmp_path: Path) -> None:
    """An HTTP 500 from the app is a failure: proceed creates the topic, deny refuses with
    10016."""
    async with stack(tmp_path, callback={"failure_policy": policy}) as st:
        group = await setup(st)
        st.recorder.fail(BEFORE, respond(500, b"down"))
        result = await create(st, group)
        assert result["ErrorCode"] == (0 if policy == "proceed" else 10016), result
        assert await topic_count(st, group) == (1 if policy == "proceed" else 0)
