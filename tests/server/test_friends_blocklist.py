"""Blocklists end to end: sns/black_list_add, black_list_delete and black_list_get, with
Sns.CallbackBlackListAdd ("After a User Is Added to Blocklist", https://trtc.io/document/34361)
and Sns.CallbackBlackListDelete ("After a User Is Removed from Blocklist",
https://trtc.io/document/34362) at a real timhooks Receiver.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from server_support import TOKEN, Clock, stack

from timhooks.protocol import events as ev

SNS = "sns"


def codes(answer: dict) -> dict[str, int]:
    return {i["To_Account"]: i["ResultCode"] for i in answer["ResultItem"]}


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_black_list_add_sends_black_list_add(token: str | None, tmp_path: Path) -> None:
    """black_list_add blocks each user (30001 when already blocked or oneself, 30003 when not
    imported) and sends BlackListAdd with a pair per blocked user."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1", "id2")
        body = {"From_Account": "id", "To_Account": ["id1", "id2", "ghost", "id"]}
        with Clock() as t:
            answer = await st.rest.ok(SNS, "black_list_add", body)
        assert codes(answer) == {"id1": 0, "id2": 0, "ghost": 30003, "id": 30001}
        assert answer["Fail_Account"] == ["ghost", "id"]
        command = ev.BlackListAdd.command
        await st.webhook(
            command,
            t.window,
            PairList=[
                {"From_Account": "id", "To_Account": "id1"},
                {"From_Account": "id", "To_Account": "id2"},
            ],
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.BlackListAdd)
        assert [p.to_account for p in event.pair_list] == ["id1", "id2"]
        again = await st.rest.ok(
            SNS, "black_list_add", {"From_Account": "id", "To_Account": ["id1"]}
        )
        assert codes(again) == {"id1": 30001}
        page = await st.rest.ok(SNS, "black_list_get", {"From_Account": "id"})
        assert [i["To_Account"] for i in page["BlackListItem"]] == ["id1", "id2"]
        assert all(isinstance(i["AddBlackTimeStamp"], int) for i in page["BlackListItem"])
        assert page["StartIndex"] == 0


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_black_list_delete_sends_black_list_delete(token: str | None, tmp_path: Path) -> None:
    """black_list_delete unblocks (30001 for a user not blocked) and sends BlackListDelete."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1", "id2")
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "id", "To_Account": ["id1"]})
        body = {"From_Account": "id", "To_Account": ["id1", "id2"]}
        with Clock() as t:
            answer = await st.rest.ok(SNS, "black_list_delete", body)
        assert codes(answer) == {"id1": 0, "id2": 30001}
        command = ev.BlackListDelete.command
        await st.webhook(command, t.window, PairList=[{"From_Account": "id", "To_Account": "id1"}])
        [event] = await st.received(command)
        assert isinstance(event, ev.BlackListDelete)
        page = await st.rest.ok(SNS, "black_list_get", {"From_Account": "id"})
        assert page["BlackListItem"] == []


async def test_blocking_a_friend_ends_the_friendship(tmp_path: Path) -> None:
    """Blocking a friend removes the friendship both ways; the blocked user's requests then get
    30525 and the blocker's 30515."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b")
        body = {"From_Account": "a", "AddFriendItem": [{"To_Account": "b"}], "ForceAddFlags": 1}
        await st.rest.ok(SNS, "friend_add", body)
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "a", "To_Account": ["b"]})
        check = await st.rest.ok(SNS, "friend_check", {"From_Account": "a", "To_Account": ["b"]})
        assert check["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation"
        theirs = await st.rest.client("b", "friend_add", {"AddFriendItem": [{"To_Account": "a"}]})
        assert codes(theirs) == {"a": 30525}
        mine = await st.rest.client("a", "friend_add", {"AddFriendItem": [{"To_Account": "b"}]})
        assert codes(mine) == {"b": 30515}


async def test_black_list_get_pages(tmp_path: Path) -> None:
    """black_list_get gives MaxLimited users a page; StartIndex leads on, 0 on the last page."""
    async with stack(tmp_path) as st:
        users = [f"u{i}" for i in range(5)]
        await st.rest.import_users("a", *users)
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "a", "To_Account": users})
        seen: list[str] = []
        start = 0
        for _ in range(3):
            page = await st.rest.ok(
                SNS, "black_list_get", {"From_Account": "a", "StartIndex": start, "MaxLimited": 2}
            )
            seen += [i["To_Account"] for i in page["BlackListItem"]]
            start = page["StartIndex"]
        assert start == 0
        assert seen == users


async def test_blocklist_of_an_unknown_user_is_30003(tmp_path: Path) -> None:
    """A From_Account that is not imported fails the call with 30003; a bad body is 30001."""
    async with stack(tmp_path) as st:
        answer = await st.rest.call(
            SNS, "black_list_add", {"From_Account": "ghost", "To_Account": ["x"]}
        )
        assert answer["ErrorCode"] == 30003, answer
        bad = await st.rest.call(SNS, "black_list_add", {"From_Account": "ghost", "To_Account": []})
        assert bad["ErrorCode"] == 30001, bad
        assert "To_Account" in bad["ErrorInfo"]


async def test_client_blocks_and_unblocks(tmp_path: Path) -> None:
    """A user's own black_list_add and black_list_delete send the webhooks from the client's
    platform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("me", "you")
        with Clock() as t:
            answer = await st.rest.client("me", "black_list_add", {"To_Account": ["you"]}, "Mac")
        assert codes(answer) == {"you": 0}
        pair = [{"From_Account": "me", "To_Account": "you"}]
        await st.webhook(ev.BlackListAdd.command, t.window, "Mac", PairList=pair)
        with Clock() as t:
            answer = await st.rest.client("me", "black_list_delete", {"To_Account": ["you"]}, "Mac")
        assert codes(answer) == {"you": 0}
        await st.webhook(ev.BlackListDelete.command, t.window, "Mac", PairList=pair)
