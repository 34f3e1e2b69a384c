"""Every triggering scenario of the five seed documents, driven end to end over loopback.

The Chat backend runs under uvicorn, the app backend is a timhooks Receiver under uvicorn, and
the app has a webhook token: each webhook must carry Tencent's exact query (with a valid Sign)
and exactly the documented body fields.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from server_support import (
    ADMIN,
    CLIENT,
    GROUP,
    OA,
    TOKEN,
    Clock,
    Stack,
    check_body,
    members,
    stack,
    subs,
)

from timhooks.protocol import Decision
from timhooks.protocol.events import (
    AfterDeleteSubscriber,
    AfterGroupFull,
    AfterMsgWithDraw,
    AfterOfficialAccountFull,
    BeforeCreateOfficialAccount,
    Event,
)
from timhooks.protocol.query import Platform
from timhooks.receiver import WebhookMeta

FULL = AfterOfficialAccountFull.command
UNSUBSCRIBED = AfterDeleteSubscriber.command
GROUP_FULL = AfterGroupFull.command
WITHDRAW = AfterMsgWithDraw.command
BEFORE_CREATE_OA = BeforeCreateOfficialAccount.command


async def no_more(st: Stack, command: str, count: int) -> None:
    """After every queued after-webhook went out, ``command`` arrived exactly ``count`` times."""
    await st.drained()
    assert len(st.recorder.of(command)) == count, st.recorder.commands()


# --- After an Official Account is full (seed 000) --------------------------------------------


async def test_oa_full_when_a_client_subscription_reaches_max_subscribers(tmp_path: Path) -> None:
    """A client subscription that brings an OA to MaxSubscriberNum sends AfterOfficialAccountFull
    with the client's OptPlatform; subscriptions before that, and refused ones after, do not."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2", "u3")
        oa = await st.rest.create_oa("owner", MaxSubscriberNum=2)
        first = await st.rest.client("u1", "subscribe_official_account", {"Official_Account": oa})
        assert first["Result"] == 1
        await no_more(st, FULL, 0)

        with Clock() as t:
            second = await st.rest.client(
                "u2", "subscribe_official_account", {"Official_Account": oa}, platform="iOS"
            )
        assert second["Result"] == 1
        await st.webhook(FULL, t.window, "iOS", Official_Account=oa)
        [event] = await st.received(FULL)
        assert event.official_account == oa  # type: ignore[attr-defined]
        assert st.meta(FULL)[0].opt_platform is Platform.IOS

        third = await st.rest.client("u3", "subscribe_official_account", {"Official_Account": oa})
        assert third["Result"] == 0
        await no_more(st, FULL, 1)
        assert (await st.rest.oa_info(oa))["SubscriberNum"] == 2


async def test_oa_full_when_rest_add_subscriber_reaches_max_subscribers(tmp_path: Path) -> None:
    """REST add_subscriber that fills an OA adds as many as fit (the rest get Result 0) and sends
    one AfterOfficialAccountFull with OptPlatform RESTAPI."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2", "u3", "u4")
        oa = await st.rest.create_oa("owner", MaxSubscriberNum=3)
        await st.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("u1")}
        )
        await no_more(st, FULL, 0)

        with Clock() as t:
            result = await st.rest.ok(
                OA,
                "add_subscriber",
                {"Official_Account": oa, "SubscriberList": subs("u1", "u2", "u3", "u4")},
            )
        assert result["SubscriberList"] == [
            {"Subscriber_Account": "u1", "Result": 2},
            {"Subscriber_Account": "u2", "Result": 1},
            {"Subscriber_Account": "u3", "Result": 1},
            {"Subscriber_Account": "u4", "Result": 0},
        ]
        await st.webhook(FULL, t.window, Official_Account=oa)
        await st.received(FULL)
        await no_more(st, FULL, 1)
        assert sorted(await st.rest.subscribers(oa)) == ["u1", "u2", "u3"]


# --- After an Official Account is unsubscribed (seed 001) ------------------------------------


async def test_delete_subscriber_on_client_unsubscribe(tmp_path: Path) -> None:
    """A user unsubscribing on the client sends AfterDeleteSubscriber with the user as operator
    and as the one who left; unsubscribing again sends nothing."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "jared", "leckie")
        oa = await st.rest.create_oa("owner")
        await st.rest.ok(
            OA,
            "add_subscriber",
            {"Official_Account": oa, "SubscriberList": subs("jared", "leckie")},
        )
        with Clock() as t:
            result = await st.rest.client(
                "leckie", "unsubscribe_official_account", {"Official_Account": oa}, platform="Web"
            )
        assert result["Result"] == 1
        await st.webhook(
            UNSUBSCRIBED,
            t.window,
            "Web",
            Official_Account=oa,
            Operator_Account="leckie",
            SubscribeAccountList=[{"Subscriber_Account": "leckie"}],
        )
        [event] = await st.received(UNSUBSCRIBED)
        assert event.operator_account == "leckie"  # type: ignore[attr-defined]

        again = await st.rest.client(
            "leckie", "unsubscribe_official_account", {"Official_Account": oa}, platform="Web"
        )
        assert again["Result"] == 2
        await no_more(st, UNSUBSCRIBED, 1)
        assert await st.rest.subscribers(oa) == ["jared"]


async def test_delete_subscriber_on_rest_delete_subscriber(tmp_path: Path) -> None:
    """REST delete_subscriber (the doc's SubscriberToDel_Account form) sends one
    AfterDeleteSubscriber listing exactly the users who left, with the admin as operator."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "jared", "leckie", "penn")
        oa = await st.rest.create_oa("owner")
        await st.rest.ok(
            OA,
            "add_subscriber",
            {"Official_Account": oa, "SubscriberList": subs("jared", "leckie", "penn")},
        )
        with Clock() as t:
            result = await st.rest.ok(
                OA,
                "delete_subscriber",
                {"Official_Account": oa, "SubscriberToDel_Account": ["jared", "leckie", "nobody"]},
            )
        assert result["SubscriberList"] == [
            {"Subscriber_Account": "jared", "Result": 1},
            {"Subscriber_Account": "leckie", "Result": 1},
            {"Subscriber_Account": "nobody", "Result": 2},
        ]
        await st.webhook(
            UNSUBSCRIBED,
            t.window,
            Official_Account=oa,
            Operator_Account=ADMIN,
            SubscribeAccountList=[
                {"Subscriber_Account": "jared"},
                {"Subscriber_Account": "leckie"},
            ],
        )
        await st.received(UNSUBSCRIBED)
        assert await st.rest.subscribers(oa) == ["penn"]


async def test_delete_subscriber_accepts_the_field_table_form(tmp_path: Path) -> None:
    """delete_subscriber with SubscriberList[{Subscriber_Account}] (the doc's field table) works
    the same way and sends AfterDeleteSubscriber."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "jared")
        oa = await st.rest.create_oa("owner")
        await st.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("jared")}
        )
        with Clock() as t:
            result = await st.rest.ok(
                OA, "delete_subscriber", {"Official_Account": oa, "SubscriberList": subs("jared")}
            )
        assert result["SubscriberList"] == [{"Subscriber_Account": "jared", "Result": 1}]
        [hit] = await st.recorder.wait_for(UNSUBSCRIBED)
        check_body(
            hit,
            UNSUBSCRIBED,
            t.window,
            Official_Account=oa,
            Operator_Account=ADMIN,
            SubscribeAccountList=[{"Subscriber_Account": "jared"}],
        )


# --- After a group is full (seed 002) ----------------------------------------------------------


async def test_group_full_on_client_apply(tmp_path: Path) -> None:
    """An application that fills a FreeAccess group sends AfterGroupFull; a later application
    fails with 10014 and sends AfterGroupFull again, each with the applicant's OptPlatform."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2")
        group = await st.rest.create_group("owner", "ChatRoom", MaxMemberCount=2)
        with Clock() as t:
            joined = await st.rest.client(
                "u1", "apply_join_group", {"GroupId": group}, platform="iPad"
            )
        assert joined["JoinStatus"] == "JoinedSuccess"
        await st.webhook(GROUP_FULL, t.window, "iPad", GroupId=group)

        with Clock() as t:
            refused = await st.rest.client(
                "u2", "apply_join_group", {"GroupId": group}, platform="Windows"
            )
        assert refused["ErrorCode"] == 10014
        await st.webhook(GROUP_FULL, t.window, "Windows", nth=2, GroupId=group)
        events = await st.received(GROUP_FULL, 2)
        assert {e.group_id for e in events} == {group}  # type: ignore[attr-defined]
        assert sorted(await st.rest.members(group)) == ["owner", "u1"]


async def test_group_full_on_approving_an_application(tmp_path: Path) -> None:
    """Approving an application that fills a NeedPermission group sends AfterGroupFull; an
    approval once it is full fails with 10014, sends AfterGroupFull and keeps the application."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2")
        group = await st.rest.create_group(
            "owner", "Public", MaxMemberCount=2, ApplyJoinOption="NeedPermission"
        )
        for user in ("u1", "u2"):
            waiting = await st.rest.client(user, "apply_join_group", {"GroupId": group})
            assert waiting["JoinStatus"] == "WaitingApproval"
        await no_more(st, GROUP_FULL, 0)
        approve = {"GroupId": group, "Applicant_Account": "u1", "Approve": True}
        with Clock() as t:
            await st.rest.client("owner", "handle_join_application", approve, platform="Web")
        await st.webhook(GROUP_FULL, t.window, "Web", GroupId=group)

        approve["Applicant_Account"] = "u2"
        refused = await st.rest.client("owner", "handle_join_application", approve)
        assert refused["ErrorCode"] == 10014
        await st.recorder.wait_for(GROUP_FULL, 2)
        await st.rest.ok(
            GROUP, "delete_group_member", {"GroupId": group, "MemberToDel_Account": ["u1"]}
        )
        again = await st.rest.client("owner", "handle_join_application", approve)
        assert again["ErrorCode"] == 0
        assert sorted(await st.rest.members(group)) == ["owner", "u2"]


async def test_group_full_on_client_invite(tmp_path: Path) -> None:
    """An invitation that fills a group sends AfterGroupFull; a later invitation fails with
    10014 and sends AfterGroupFull again, with the inviter's OptPlatform."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "m1", "u1", "u2")
        group = await st.rest.create_group(
            "owner", "Private", MaxMemberCount=3, MemberList=members("m1")
        )
        with Clock() as t:
            result = await st.rest.client(
                "m1",
                "invite_group_member",
                {"GroupId": group, "MemberList": members("u1")},
                platform="Mac",
            )
        assert result["MemberList"] == [{"Member_Account": "u1", "Result": 1}]
        await st.webhook(GROUP_FULL, t.window, "Mac", GroupId=group)

        with Clock() as t:
            refused = await st.rest.client(
                "m1",
                "invite_group_member",
                {"GroupId": group, "MemberList": members("u2")},
                platform="Android",
            )
        assert refused["ErrorCode"] == 10014
        await st.webhook(GROUP_FULL, t.window, "Android", nth=2, GroupId=group)
        await st.received(GROUP_FULL, 2)
        assert sorted(await st.rest.members(group)) == ["m1", "owner", "u1"]


async def test_group_full_on_rest_add_group_member(tmp_path: Path) -> None:
    """add_group_member that fills a group adds as many as fit and sends AfterGroupFull; a later
    add fails with 10014 and sends AfterGroupFull again, with OptPlatform RESTAPI."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2", "u3", "u4")
        group = await st.rest.create_group("owner", "Public", MaxMemberCount=3)
        with Clock() as t:
            result = await st.rest.ok(
                GROUP,
                "add_group_member",
                {"GroupId": group, "MemberList": members("u1", "u2", "u3")},
            )
        assert result["MemberList"] == [
            {"Member_Account": "u1", "Result": 1},
            {"Member_Account": "u2", "Result": 1},
            {"Member_Account": "u3", "Result": 0},
        ]
        await st.webhook(GROUP_FULL, t.window, GroupId=group)

        with Clock() as t:
            refused = await st.rest.call(
                GROUP, "add_group_member", {"GroupId": group, "MemberList": members("u4")}
            )
        assert refused["ErrorCode"] == 10014
        await st.webhook(GROUP_FULL, t.window, nth=2, GroupId=group)
        await st.received(GROUP_FULL, 2)
        assert sorted(await st.rest.members(group)) == ["owner", "u1", "u2"]


async def test_no_group_full_while_there_is_room(tmp_path: Path) -> None:
    """Joins that leave room in the group send AfterNewMemberJoin but no AfterGroupFull."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("owner", "u1", "u2")
        group = await st.rest.create_group("owner", "ChatRoom", MaxMemberCount=10)
        await st.rest.ok(GROUP, "add_group_member", {"GroupId": group, "MemberList": members("u1")})
        await st.rest.client("u2", "apply_join_group", {"GroupId": group})
        await st.recorder.wait_for("Group.CallbackAfterNewMemberJoin", 2)
        await no_more(st, GROUP_FULL, 0)


# --- Before an Official Account is created (seed 003) -----------------------------------------


async def test_before_create_official_account_on_rest_create(tmp_path: Path) -> None:
    """REST create_official_account asks the app first: BeforeCreateOfficialAccount with the
    operator, owner and name, inline, and the OA exists once the app allowed it."""
    async with stack(tmp_path, token=TOKEN) as st:
        seen: list[tuple[Event, WebhookMeta]] = []

        @st.receiver.on(BeforeCreateOfficialAccount)
        def allow(event: Event, meta: WebhookMeta) -> Decision:
            seen.append((event, meta))
            return Decision.allow()

        await st.rest.import_users("107867")
        with Clock() as t:
            oa = await st.rest.create_oa("107867", "TestOfficialAccount")
        hit = await st.webhook(
            BEFORE_CREATE_OA,
            t.window,
            Operator_Account=ADMIN,
            Owner_Account="107867",
            Name="TestOfficialAccount",
        )
        assert hit.status == 200
        [(event, meta)] = seen
        assert event.owner_account == "107867"  # type: ignore[attr-defined]
        assert meta.sdk_app_id == st.rest.app_id
        assert meta.client_ip == "127.0.0.1"
        assert (await st.rest.oa_info(oa))["Name"] == "TestOfficialAccount"


# --- After Official Account messages are recalled (seed 004) ---------------------------------


async def test_msg_withdraw_on_client_recall(tmp_path: Path) -> None:
    """The OA owner recalling on the client sends AfterMsgWithDraw listing the recalled MsgKey
    (not the unknown one) with the client's OptPlatform."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("penn")
        oa = await st.rest.create_oa("penn")
        sent = await st.rest.client(
            "penn",
            "send_official_account_msg",
            {
                "Official_Account": oa,
                "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hi"}}],
            },
        )
        assert sent["ErrorCode"] == 0
        key = sent["MsgKey"]
        with Clock() as t:
            result = await st.rest.call(
                CLIENT,
                "official_account_msg_recall",
                {"Official_Account": oa, "MsgKeyList": [key, "9_9_9"]},
                identifier="penn",
                platform="Android",
            )
        assert result["ErrorCode"] == 0
        assert result["RecallRetList"] == [
            {"MsgKey": key, "RetCode": 0},
            {"MsgKey": "9_9_9", "RetCode": 10030},
        ]
        await st.webhook(
            WITHDRAW, t.window, "Android", Official_Account=oa, WithdrawMsgList=[{"MsgKey": key}]
        )
        [event] = await st.received(WITHDRAW)
        assert [m.msg_key for m in event.withdraw_msg_list] == [key]  # type: ignore[attr-defined]


async def test_msg_withdraw_on_rest_recall(tmp_path: Path) -> None:
    """REST official_account_msg_recall sends one AfterMsgWithDraw with every recalled MsgKey;
    recalling them again gives RetCode 10030 and sends nothing."""
    async with stack(tmp_path, token=TOKEN) as st:
        await st.rest.import_users("penn")
        oa = await st.rest.create_oa("penn")
        first = (await st.rest.send_msg(oa, "one"))["MsgKey"]
        second = (await st.rest.send_msg(oa, "two"))["MsgKey"]
        assert first != second
        with Clock() as t:
            result = await st.rest.ok(
                OA,
                "official_account_msg_recall",
                {"Official_Account": oa, "MsgKeyList": [first, second], "Reason": "typo"},
            )
        assert result["RecallRetList"] == [
            {"MsgKey": first, "RetCode": 0},
            {"MsgKey": second, "RetCode": 0},
        ]
        await st.webhook(
            WITHDRAW,
            t.window,
            Official_Account=oa,
            WithdrawMsgList=[{"MsgKey": first}, {"MsgKey": second}],
        )
        again = await st.rest.ok(
            OA, "official_account_msg_recall", {"Official_Account": oa, "MsgKeyList": [first]}
        )
        assert again["RecallRetList"] == [{"MsgKey": first, "RetCode": 10030}]
        await no_more(st, WITHDRAW, 1)


# --- capacity under concurrent requests ----------------------------------------------------------


async def test_concurrent_subscriptions_fill_an_oa_exactly_once(tmp_path: Path) -> None:
    """Twenty users subscribing at once to an OA with room for five: exactly five succeed, the
    count stops at MaxSubscriberNum and AfterOfficialAccountFull is sent exactly once."""
    async with stack(tmp_path, token=TOKEN) as st:
        users = [f"fan{i:02d}" for i in range(20)]
        await st.rest.import_users("owner", *users)
        oa = await st.rest.create_oa("owner", MaxSubscriberNum=5)
        results = await asyncio.gather(
            *(
                st.rest.client(u, "subscribe_official_account", {"Official_Account": oa})
                for u in users
            )
        )
        assert sorted(r["Result"] for r in results) == [0] * 15 + [1] * 5
        winners = sorted(u for u, r in zip(users, results, strict=True) if r["Result"] == 1)
        assert sorted(await st.rest.subscribers(oa)) == winners
        assert (await st.rest.oa_info(oa))["SubscriberNum"] == 5
        await no_more(st, FULL, 1)
        added = [
            s["Subscriber_Account"]
            for hit in st.recorder.of("OfficialAccount.CallbackAfterAddSubscriber")
            for s in hit.body["SubscribeAccountList"]
        ]
        assert sorted(added) == winners


async def test_concurrent_applications_fill_a_group_exactly(tmp_path: Path) -> None:
    """Twenty users applying at once to a group with room for five: five join, fifteen get
    10014, and AfterGroupFull goes out once for the fill and once per failed join."""
    async with stack(tmp_path, token=TOKEN) as st:
        users = [f"hiker{i:02d}" for i in range(20)]
        await st.rest.import_users("owner", *users)
        group = await st.rest.create_group("owner", "ChatRoom", MaxMemberCount=6)
        results = await asyncio.gather(
            *(st.rest.client(u, "apply_join_group", {"GroupId": group}) for u in users)
        )
        joined = sorted(u for u, r in zip(users, results, strict=True) if r["ErrorCode"] == 0)
        assert len(joined) == 5
        assert sorted(r["ErrorCode"] for r in results) == [0] * 5 + [10014] * 15
        assert sorted(await st.rest.members(group)) == sorted(["owner", *joined])
        await no_more(st, GROUP_FULL, 16)
        assert len(st.recorder.of("Group.CallbackAfterNewMemberJoin")) == 5
