"""Friends end to end: the sns REST commands and the client's friend requests and answers on a
real Chat backend, with the Sns webhooks at a real timhooks Receiver.

Each webhook test checks the query Tencent documents and exactly the body fields of its page
("Before a Friend Is Added", https://trtc.io/document/43468; "Before a Friend Request Is
Responded", https://trtc.io/document/43467; "After a Friend Is Added",
https://www.tencentcloud.com/document/product/1047/34359; "After a Friend Is Deleted",
https://trtc.io/document/34360), and the typed event the receiver's handler got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_support import ADMIN, CONFIG, TOKEN, Clock, Stack, stack

from timhooks.protocol import events as ev

SNS = "sns"
PROFILE = "profile"
ALLOW_ANY = "AllowType_Type_AllowAny"
DENY_ANY = "AllowType_Type_DenyAny"


async def allow(st: Stack, user: str, allow_type: str) -> None:
    """Set the user's friend verification (Tag_Profile_IM_AllowType)."""
    item = {"Tag": "Tag_Profile_IM_AllowType", "Value": allow_type}
    await st.rest.ok(PROFILE, "portrait_set", {"From_Account": user, "ProfileItem": [item]})


async def friends_of(st: Stack, user: str) -> list[str]:
    result = await st.rest.ok(SNS, "friend_get", {"From_Account": user})
    return [item["To_Account"] for item in result["UserDataItem"]]


def both_ways(initiator: str, other: str) -> list[dict[str, str]]:
    """FriendAdd's PairList for a friendship added both ways, started by ``initiator``."""
    return [
        {"From_Account": initiator, "To_Account": other, "Initiator_Account": initiator},
        {"From_Account": other, "To_Account": initiator, "Initiator_Account": initiator},
    ]


def results(answer: dict[str, Any]) -> dict[str, int]:
    return {i["To_Account"]: i["ResultCode"] for i in answer["ResultItem"]}


async def request(st: Stack, user: str, *targets: str, **fields: Any) -> dict[str, Any]:
    items = [{"To_Account": t, "AddSource": "AddSource_Type_Android", **fields} for t in targets]
    return await st.rest.client(user, "friend_add", {"AddFriendItem": items})


# --- admin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_rest_force_add_sends_friend_add_with_the_admin(
    token: str | None, tmp_path: Path
) -> None:
    """friend_add with ForceAddFlags 1 adds both ways whatever the target's AllowType, without
    Sns.CallbackPrevFriendAdd, and sends FriendAdd naming the admin and ForceFlag 1."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1")
        await allow(st, "id1", DENY_ANY)
        body = {
            "From_Account": "id",
            "AddFriendItem": [
                {
                    "To_Account": "id1",
                    "Remark": "remark1",
                    "GroupName": "Classmates",
                    "AddSource": "AddSource_Type_XXXXXXXX",
                    "AddWording": "I'm Test1",
                }
            ],
            "AddType": "Add_Type_Both",
            "ForceAddFlags": 1,
        }
        with Clock() as t:
            answer = await st.rest.ok(SNS, "friend_add", body)
        assert answer["ResultItem"] == [{"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""}]
        assert "Fail_Account" not in answer  # listed only when some fail
        command = ev.FriendAdd.command
        await st.webhook(
            command,
            t.window,
            PairList=both_ways("id", "id1"),
            ClientCmd="friend_add",
            Admin_Account=ADMIN,
            ForceFlag=1,
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.FriendAdd)
        assert [(p.from_account, p.to_account) for p in event.pair_list] == [
            ("id", "id1"),
            ("id1", "id"),
        ]
        assert st.recorder.of(ev.PrevFriendAdd.command) == []
        assert await friends_of(st, "id") == ["id1"]
        assert await friends_of(st, "id1") == ["id"]
        page = await st.rest.ok(SNS, "friend_get", {"From_Account": "id"})
        values = {v["Tag"]: v["Value"] for v in page["UserDataItem"][0]["ValueItem"]}
        assert values["Tag_SNS_IM_Remark"] == "remark1"
        assert values["Tag_SNS_IM_Group"] == ["Classmates"]
        assert values["Tag_SNS_IM_AddSource"] == "AddSource_Type_XXXXXXXX"
        assert values["Tag_SNS_IM_AddWording"] == "I'm Test1"
        assert (page["FriendNum"], page["CompleteFlag"], page["NextStartIndex"]) == (1, 1, 0)


async def test_rest_add_follows_the_targets_allow_type(tmp_path: Path) -> None:
    """Without ForceAddFlags, friend_add adds an AllowAny user, leaves a NeedConfirm user a
    request (30539), refuses a DenyAny one (30516), an unknown one (30003) and oneself (30001);
    the failures are listed in Fail_Account and FriendAdd carries only the added pair."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("id", "open", "asks", "closed")
        await allow(st, "open", ALLOW_ANY)
        await allow(st, "closed", DENY_ANY)
        items = [{"To_Account": u} for u in ("open", "asks", "closed", "ghost", "id")]
        body = {"From_Account": "id", "AddFriendItem": items, "AddType": "Add_Type_Single"}
        answer = await st.rest.ok(SNS, "friend_add", body)
        assert results(answer) == {
            "open": 0,
            "asks": 30539,
            "closed": 30516,
            "ghost": 30003,
            "id": 30001,
        }
        assert answer["Fail_Account"] == ["asks", "closed", "ghost", "id"]
        [hit] = await st.recorder.wait_for(ev.FriendAdd.command)
        assert hit.body["PairList"] == [
            {"From_Account": "id", "To_Account": "open", "Initiator_Account": "id"}
        ]
        assert hit.body["ForceFlag"] == 0
        assert await friends_of(st, "id") == ["open"]
        assert await friends_of(st, "open") == []  # Add_Type_Single
        again = await st.rest.ok(SNS, "friend_add", body | {"AddFriendItem": items[:1]})
        assert results(again) == {"open": 30001}  # already a friend


async def test_rest_add_from_an_unknown_user_is_30003(tmp_path: Path) -> None:
    """A From_Account that is not imported fails the whole call with 30003."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("id1")
        body = {"From_Account": "nobody", "AddFriendItem": [{"To_Account": "id1"}]}
        answer = await st.rest.call(SNS, "friend_add", body)
        assert answer["ErrorCode"] == 30003, answer
        assert "nobody" in answer["ErrorInfo"]


async def test_bad_friend_add_bodies_name_the_field(tmp_path: Path) -> None:
    """A malformed body is 30001 with an ErrorInfo naming the field."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("id", "id1")
        cases = {
            "AddFriendItem": {"From_Account": "id"},
            "AddType": {
                "From_Account": "id",
                "AddFriendItem": [{"To_Account": "id1"}],
                "AddType": "Add_Type_Three",
            },
            "To_Account": {"From_Account": "id", "AddFriendItem": [{"Remark": "x"}]},
        }
        for field, body in cases.items():
            answer = await st.rest.call(SNS, "friend_add", body)
            assert answer["ErrorCode"] == 30001, answer
            assert field in answer["ErrorInfo"], answer


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_rest_delete_both_ways(token: str | None, tmp_path: Path) -> None:
    """friend_delete Delete_Type_Both removes both directions and sends FriendDelete with each
    removed pair; a user who is not a friend gets 31704."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1", "id2")
        force = {"From_Account": "id", "AddFriendItem": [{"To_Account": "id1"}], "ForceAddFlags": 1}
        await st.rest.ok(SNS, "friend_add", force)
        body = {
            "From_Account": "id",
            "To_Account": ["id1", "id2"],
            "DeleteType": "Delete_Type_Both",
        }
        with Clock() as t:
            answer = await st.rest.ok(SNS, "friend_delete", body)
        assert results(answer) == {"id1": 0, "id2": 31704}
        assert answer["Fail_Account"] == ["id2"]
        command = ev.FriendDelete.command
        await st.webhook(
            command,
            t.window,
            PairList=[
                {"From_Account": "id", "To_Account": "id1"},
                {"From_Account": "id1", "To_Account": "id"},
            ],
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.FriendDelete)
        assert event.pair_list[0].initiator_account is None
        assert await friends_of(st, "id") == []
        assert await friends_of(st, "id1") == []


async def test_rest_delete_single_keeps_the_other_direction(tmp_path: Path) -> None:
    """Delete_Type_Single (the default) removes the friend from From_Account's list only."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("id", "id1")
        force = {"From_Account": "id", "AddFriendItem": [{"To_Account": "id1"}], "ForceAddFlags": 1}
        await st.rest.ok(SNS, "friend_add", force)
        await st.rest.ok(SNS, "friend_delete", {"From_Account": "id", "To_Account": ["id1"]})
        [hit] = await st.recorder.wait_for(ev.FriendDelete.command)
        assert hit.body["PairList"] == [{"From_Account": "id", "To_Account": "id1"}]
        assert await friends_of(st, "id") == []
        assert await friends_of(st, "id1") == ["id"]
        check = await st.rest.ok(SNS, "friend_check", {"From_Account": "id", "To_Account": ["id1"]})
        assert check["InfoItem"] == [
            {
                "To_Account": "id1",
                "Relation": "CheckResult_Type_BWithA",
                "ResultCode": 0,
                "ResultInfo": "",
            }
        ]


async def test_friend_check_relations(tmp_path: Path) -> None:
    """friend_check answers BothWay, AWithB, NoRelation (Both), and AWithB/NoRelation (Single)."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "both", "mine", "none")
        for user, add_type in (("both", "Add_Type_Both"), ("mine", "Add_Type_Single")):
            item = {"To_Account": user}
            body = {"From_Account": "a", "AddFriendItem": [item], "AddType": add_type}
            await st.rest.ok(SNS, "friend_add", body | {"ForceAddFlags": 1})
        users = ["both", "mine", "none"]
        both = await st.rest.ok(SNS, "friend_check", {"From_Account": "a", "To_Account": users})
        assert {i["To_Account"]: i["Relation"] for i in both["InfoItem"]} == {
            "both": "CheckResult_Type_BothWay",
            "mine": "CheckResult_Type_AWithB",
            "none": "CheckResult_Type_NoRelation",
        }
        single = await st.rest.ok(
            SNS,
            "friend_check",
            {"From_Account": "a", "To_Account": users, "CheckType": "CheckResult_Type_Single"},
        )
        assert [i["Relation"] for i in single["InfoItem"]] == [
            "CheckResult_Type_AWithB",
            "CheckResult_Type_AWithB",
            "CheckResult_Type_NoRelation",
        ]


async def test_friend_get_pages_by_100(tmp_path: Path) -> None:
    """friend_get gives 100 friends a page; NextStartIndex leads to the rest."""
    async with stack(tmp_path) as st:
        others = [f"u{i:03}" for i in range(130)]
        await st.rest.import_users("a", *others)
        items = [{"To_Account": u} for u in others]
        body = {"From_Account": "a", "AddFriendItem": items, "AddType": "Add_Type_Single"}
        await st.rest.ok(SNS, "friend_add", body | {"ForceAddFlags": 1})
        first = await st.rest.ok(SNS, "friend_get", {"From_Account": "a"})
        assert (len(first["UserDataItem"]), first["FriendNum"], first["CompleteFlag"]) == (
            100,
            130,
            0,
        )
        rest = await st.rest.ok(
            SNS, "friend_get", {"From_Account": "a", "StartIndex": first["NextStartIndex"]}
        )
        assert (len(rest["UserDataItem"]), rest["CompleteFlag"], rest["NextStartIndex"]) == (
            30,
            1,
            0,
        )
        seen = [i["To_Account"] for i in first["UserDataItem"] + rest["UserDataItem"]]
        assert sorted(seen) == others


# --- client -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_client_request_to_an_allow_any_user_adds_both_ways(
    token: str | None, tmp_path: Path
) -> None:
    """A client's request sends Sns.CallbackPrevFriendAdd from the client's platform; the
    AllowAny target is then added both ways and FriendAdd says friend_add with no admin."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1")
        await allow(st, "id1", ALLOW_ANY)
        with Clock() as t:
            answer = await request(
                st, "id", "id1", Remark="remark1", GroupName="group1", AddWording="this is id1!"
            )
        assert answer["ErrorCode"] == 0, answer
        assert results(answer) == {"id1": 0}
        before = ev.PrevFriendAdd.command
        await st.webhook(
            before,
            t.window,
            "Android",
            Requester_Account="id",
            From_Account="id",
            FriendItem=[
                {
                    "To_Account": "id1",
                    "Remark": "remark1",
                    "GroupName": "group1",
                    "AddSource": "AddSource_Type_Android",
                    "AddWording": "this is id1!",
                }
            ],
            AddType="Add_Type_Both",
            ForceAddFlags=0,
        )
        after = ev.FriendAdd.command
        await st.webhook(
            after,
            t.window,
            "Android",
            PairList=both_ways("id", "id1"),
            ClientCmd="friend_add",
            Admin_Account="",
            ForceFlag=0,
        )
        [prev] = [e for e, _ in st.events if isinstance(e, ev.PrevFriendAdd)]
        assert prev.recipients() == ("id1",)
        assert prev.friend_item[0].add_wording == "this is id1!"
        [added] = await st.received(after)
        assert isinstance(added, ev.FriendAdd)
        assert added.client_cmd == "friend_add"
        assert await friends_of(st, "id1") == ["id"]


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_request_confirmed_with_agree_and_add(token: str | None, tmp_path: Path) -> None:
    """A request to a NeedConfirm user (the default) waits (30539, no FriendAdd); the target's
    Response_Action_AgreeAndAdd sends Sns.CallbackPrevFriendResponse, then FriendAdd with
    ClientCmd friend_response and both pairs, initiated by the requester."""
    async with stack(tmp_path, token=token) as st:
        await st.rest.import_users("id", "id1")
        answer = await request(st, "id", "id1", Remark="to id1")
        assert results(answer) == {"id1": 30539}
        assert answer["Fail_Account"] == ["id1"]
        await st.recorder.wait_for(ev.PrevFriendAdd.command)
        assert await friends_of(st, "id") == []
        item = {
            "To_Account": "id",
            "Remark": "remark1",
            "TagName": "group1",
            "ResponseAction": "Response_Action_AgreeAndAdd",
        }
        with Clock() as t:
            reply = await st.rest.client(
                "id1", "friend_response", {"ResponseFriendItem": [item]}, platform="iOS"
            )
        assert results(reply) == {"id": 0}
        before = ev.PrevFriendResponse.command
        await st.webhook(
            before,
            t.window,
            "iOS",
            Requester_Account="id1",
            From_Account="id1",
            ResponseFriendItem=[item],
        )
        [prev] = [e for e, _ in st.events if isinstance(e, ev.PrevFriendResponse)]
        assert prev.response_friend_item[0].response_action == "Response_Action_AgreeAndAdd"
        await st.webhook(
            ev.FriendAdd.command,
            t.window,
            "iOS",
            PairList=both_ways("id", "id1"),
            ClientCmd="friend_response",
            Admin_Account="",
            ForceFlag=0,
        )
        page = await st.rest.ok(SNS, "friend_get", {"From_Account": "id"})
        values = {v["Tag"]: v["Value"] for v in page["UserDataItem"][0]["ValueItem"]}
        assert values["Tag_SNS_IM_Remark"] == "to id1"  # the request's Remark
        page = await st.rest.ok(SNS, "friend_get", {"From_Account": "id1"})
        values = {v["Tag"]: v["Value"] for v in page["UserDataItem"][0]["ValueItem"]}
        assert (values["Tag_SNS_IM_Remark"], values["Tag_SNS_IM_Group"]) == ("remark1", ["group1"])
        again = await st.rest.client("id1", "friend_response", {"ResponseFriendItem": [item]})
        assert results(again) == {"id": 30001}  # the request is answered


async def test_agree_adds_one_way_and_reject_adds_none(tmp_path: Path) -> None:
    """Response_Action_Agree puts the responder on the requester's list only; Reject drops the
    request without FriendAdd."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b", "c")
        await request(st, "a", "c")
        await request(st, "b", "c")
        items = [
            {"To_Account": "a", "ResponseAction": "Response_Action_Agree"},
            {"To_Account": "b", "ResponseAction": "Response_Action_Reject"},
        ]
        reply = await st.rest.client("c", "friend_response", {"ResponseFriendItem": items})
        assert results(reply) == {"a": 0, "b": 0}
        [hit] = await st.recorder.wait_for(ev.FriendAdd.command)
        assert hit.body["PairList"] == [
            {"From_Account": "a", "To_Account": "c", "Initiator_Account": "a"}
        ]
        assert await friends_of(st, "a") == ["c"]
        assert await friends_of(st, "b") == []
        assert await friends_of(st, "c") == []


async def test_refused_requests_send_no_webhook(tmp_path: Path) -> None:
    """Requests that cannot be sent (DenyAny 30516, blocked 30515/30525, already friends 30001)
    are answered without Sns.CallbackPrevFriendAdd."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "closed", "blocker", "blocked", "friend")
        await allow(st, "closed", DENY_ANY)
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "blocker", "To_Account": ["a"]})
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "a", "To_Account": ["blocked"]})
        force = {"From_Account": "a", "AddFriendItem": [{"To_Account": "friend"}]}
        await st.rest.ok(SNS, "friend_add", force | {"ForceAddFlags": 1})
        answer = await request(st, "a", "closed", "blocker", "blocked", "friend")
        assert results(answer) == {
            "closed": 30516,
            "blocker": 30525,
            "blocked": 30515,
            "friend": 30001,
        }
        await st.drained()
        assert st.recorder.of(ev.PrevFriendAdd.command) == []


async def test_friend_add_switched_off_sends_nothing(tmp_path: Path) -> None:
    """With only Sns.CallbackPrevFriendAdd switched on, a request asks the app but no FriendAdd
    is queued or sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b")
        await allow(st, "b", ALLOW_ANY)
        await st.rest.ok(
            CONFIG, "set_callback", {"CallbackCommandList": [ev.PrevFriendAdd.command]}
        )
        answer = await request(st, "a", "b")
        assert results(answer) == {"b": 0}
        assert len(st.recorder.of(ev.PrevFriendAdd.command)) == 1
        await st.drained()
        assert await st.outbox(ev.FriendAdd.command) == []
        assert await friends_of(st, "a") == ["b"]


async def test_client_deletes_a_friend(tmp_path: Path) -> None:
    """A user's own friend_delete sends FriendDelete from the client's platform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b")
        force = {"From_Account": "a", "AddFriendItem": [{"To_Account": "b"}], "ForceAddFlags": 1}
        await st.rest.ok(SNS, "friend_add", force)
        body = {"To_Account": ["b"], "DeleteType": "Delete_Type_Both"}
        with Clock() as t:
            answer = await st.rest.client("a", "friend_delete", body, "Android")
        assert results(answer) == {"b": 0}
        await st.webhook(
            ev.FriendDelete.command,
            t.window,
            "Android",
            PairList=[
                {"From_Account": "a", "To_Account": "b"},
                {"From_Account": "b", "To_Account": "a"},
            ],
        )
        assert await friends_of(st, "b") == []


async def test_prev_friend_add_switched_off_is_not_asked(tmp_path: Path) -> None:
    """With Sns.CallbackPrevFriendAdd switched off the request goes ahead unasked; FriendAdd,
    still on, is sent."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b")
        await allow(st, "b", ALLOW_ANY)
        await st.rest.ok(CONFIG, "set_callback", {"CallbackCommandList": [ev.FriendAdd.command]})
        answer = await request(st, "a", "b")
        assert results(answer) == {"b": 0}
        await st.recorder.wait_for(ev.FriendAdd.command)
        assert st.recorder.of(ev.PrevFriendAdd.command) == []


async def test_blocking_drops_pending_requests(tmp_path: Path) -> None:
    """A pending request between two users is gone once either blocks the other: answering it
    is then 30001."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("a", "b")
        assert results(await request(st, "a", "b")) == {"b": 30539}
        await st.rest.ok(SNS, "black_list_add", {"From_Account": "b", "To_Account": ["a"]})
        item = {"To_Account": "a", "ResponseAction": "Response_Action_Agree"}
        reply = await st.rest.client("b", "friend_response", {"ResponseFriendItem": [item]})
        assert results(reply) == {"a": 30001}
        assert await friends_of(st, "a") == []
