"""The Official Account and group-membership webhooks, triggered through the REST or the client
API; and COVERAGE, the end-to-end test of every webhook serve sends (tests/served.py).

The app has no webhook token here, so no webhook may carry Sign or RequestTime. Each test checks
the query Tencent documents and exactly the documented body fields (each command's page, named
in its model's docstring).
"""

from __future__ import annotations

import importlib
import inspect
from collections import Counter
from pathlib import Path

from server_support import (
    ADMIN,
    GROUP,
    OA,
    Clock,
    Stack,
    check_query,
    members,
    stack,
    subs,
)

from served import SENT_BY_SERVE, named_by_the_server
from timhooks.protocol import COMMANDS
from timhooks.protocol import events as ev

TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]

HERE = __name__

# Which test drives which webhook end to end (the module, then the test): every webhook serve
# sends has one, here or in the module of its concept. The one table of it.
COVERAGE = {
    ev.BeforeCreateOfficialAccount.command: (HERE, "test_create_official_account"),
    ev.AfterCreateOfficialAccount.command: (HERE, "test_create_official_account"),
    ev.AfterOfficialAccountInfoChanged.command: (HERE, "test_modify_official_account"),
    ev.AfterOfficialAccountDestroyed.command: (HERE, "test_destroy_official_account"),
    ev.BeforeAddSubscriber.command: (HERE, "test_rest_add_subscriber"),
    ev.AfterAddSubscriber.command: (HERE, "test_client_subscribe"),
    ev.AfterOfficialAccountFull.command: (HERE, "test_rest_add_subscriber_to_a_small_oa"),
    ev.AfterDeleteSubscriber.command: (HERE, "test_client_unsubscribe"),
    ev.BeforeSendMsg.command: (HERE, "test_rest_send_official_account_msg"),
    ev.AfterSendMsg.command: (HERE, "test_client_send_official_account_msg"),
    ev.AfterMsgWithDraw.command: (HERE, "test_rest_recall"),
    ev.BeforeCreateGroup.command: (HERE, "test_create_group"),
    ev.AfterCreateGroup.command: (HERE, "test_create_group"),
    ev.BeforeApplyJoinGroup.command: (HERE, "test_client_apply_to_a_free_access_group"),
    ev.BeforeInviteJoinGroup.command: (HERE, "test_rest_add_group_member"),
    ev.AfterNewMemberJoin.command: (HERE, "test_client_invite"),
    ev.AfterMemberExit.command: (HERE, "test_client_quit_group"),
    ev.AfterGroupFull.command: (HERE, "test_rest_add_group_member_to_a_full_group"),
    ev.GroupBeforeSendMsg.command: (
        "test_group_messages",
        "test_send_group_msg_sends_before_and_after_signed",
    ),
    ev.GroupAfterSendMsg.command: (
        "test_group_messages",
        "test_client_send_comes_from_the_member",
    ),
    ev.GroupSendMsgException.command: (
        "test_group_messages",
        "test_non_member_send_fails_with_exception_webhook",
    ),
    ev.AfterRecallMsg.command: (
        "test_group_messages",
        "test_group_msg_recall_sends_after_recall_msg",
    ),
    ev.AfterGroupDestroyed.command: (
        "test_group_life",
        "test_rest_destroy_group_sends_after_group_destroyed_signed",
    ),
    ev.AfterGroupInfoChanged.command: (
        "test_group_life",
        "test_modify_group_base_info_reports_only_the_changed_fields",
    ),
    ev.AfterChangeGroupOwner.command: ("test_group_life", "test_rest_change_group_owner"),
    ev.AfterMemberFieldChanged.command: (
        "test_group_life_members",
        "test_role_change_sends_member_field_changed",
    ),
    ev.AfterGroupAttrChanged.command: (
        "test_group_attrs",
        "test_each_change_sends_the_attributes_after_it",
    ),
    ev.BeforeCreateTopic.command: ("test_topics", "test_create_topic_sends_before_and_after"),
    ev.AfterCreateTopic.command: ("test_topics", "test_create_topic_sends_before_and_after"),
    ev.AfterTopicDestroyed.command: (
        "test_topics",
        "test_destroy_topic_reports_each_and_sends_the_deleted",
    ),
    ev.AfterTopicInfoChanged.command: (
        "test_topics",
        "test_modify_topic_reports_changed_profile_fields",
    ),
    ev.C2CBeforeSendMsg.command: ("test_messages", "test_sendmsg_sends_before_and_after_signed"),
    ev.C2CAfterSendMsg.command: (
        "test_messages",
        "test_client_sendmsg_comes_from_the_user_and_platform",
    ),
    ev.C2CAfterMsgWithDraw.command: (
        "test_messages",
        "test_admin_msgwithdraw_sends_after_msg_withdraw",
    ),
    ev.C2CAfterMsgReport.command: (
        "test_messages",
        "test_admin_set_msg_read_sends_after_msg_report",
    ),
    ev.PrevFriendAdd.command: (
        "test_friends",
        "test_client_request_to_an_allow_any_user_adds_both_ways",
    ),
    ev.PrevFriendResponse.command: ("test_friends", "test_request_confirmed_with_agree_and_add"),
    ev.FriendAdd.command: ("test_friends", "test_rest_force_add_sends_friend_add_with_the_admin"),
    ev.FriendDelete.command: ("test_friends", "test_rest_delete_both_ways"),
    ev.BlackListAdd.command: (
        "test_friends_blocklist",
        "test_black_list_add_sends_black_list_add",
    ),
    ev.BlackListDelete.command: (
        "test_friends_blocklist",
        "test_black_list_delete_sends_black_list_delete",
    ),
    ev.PortraitSet.command: ("test_profiles", "test_portrait_set_sends_portrait_set"),
    ev.StateChange.command: ("test_online", "test_login_and_logout_send_state_change"),
}


def test_serve_sends_what_its_code_names() -> None:
    """SENT_BY_SERVE (tests/served.py) is exactly the webhook models src/timhooks/server/
    names: a webhook added to or dropped from serve changes the list too."""
    assert named_by_the_server() == SENT_BY_SERVE


def test_every_command_serve_sends_is_driven_end_to_end() -> None:
    """Each of the 43 webhooks serve sends has an end-to-end test, and each test named
    exists: 11 OfficialAccount, 20 Group, 4 C2C, 6 Sns, State.StateChange and
    Profile.CallbackPortraitSet."""
    assert set(COVERAGE) == SENT_BY_SERVE <= set(COMMANDS)
    groups = Counter(command.partition(".")[0] for command in SENT_BY_SERVE)
    assert groups == {
        "OfficialAccount": 11,
        "Group": 20,
        "C2C": 4,
        "Sns": 6,
        "State": 1,
        "Profile": 1,
    }
    for module, test in COVERAGE.values():
        found = globals() if module == HERE else vars(importlib.import_module(module))
        assert inspect.iscoroutinefunction(found.get(test)), (module, test)


def only(st: Stack, command: str):
    hits = st.recorder.of(command)
    assert len(hits) == 1, st.recorder.commands()
    return hits[0]


# --- Official Accounts -------------------------------------------------------------------------


async def test_create_official_account(tmp_path: Path) -> None:
    """create_official_account sends BeforeCreateOfficialAccount, then
    AfterCreateOfficialAccount with the new OA's ID, unsigned when the app has no token."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("107867")
        with Clock() as t:
            oa = await st.rest.create_oa("107867", "TestOfficialAccount")
        assert oa.startswith("@TOA#_")
        before = await st.webhook(
            ev.BeforeCreateOfficialAccount.command,
            t.window,
            Operator_Account=ADMIN,
            Owner_Account="107867",
            Name="TestOfficialAccount",
        )
        command = ev.AfterCreateOfficialAccount.command
        await st.webhook(
            command,
            t.window,
            Official_Account=oa,
            Operator_Account=ADMIN,
            Owner_Account="107867",
            Name="TestOfficialAccount",
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterCreateOfficialAccount)
        assert event.official_account == oa
        assert st.recorder.commands() == [before.command, command]


async def test_modify_official_account(tmp_path: Path) -> None:
    """modify_official_account_base_info sends AfterOfficialAccountInfoChanged with the
    profile as it now is."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner", "Old", Introduction="intro", FaceUrl="http://f/1")
        with Clock() as t:
            await st.rest.ok(
                OA,
                "modify_official_account_base_info",
                {"Official_Account": oa, "Name": "New", "Organization": "Org"},
            )
        command = ev.AfterOfficialAccountInfoChanged.command
        await st.webhook(
            command,
            t.window,
            Official_Account=oa,
            Operator_Account=ADMIN,
            Introduction="intro",
            Name="New",
            FaceUrl="http://f/1",
            Organization="Org",
        )
        await st.received(command)
        info = await st.rest.oa_info(oa)
        assert (info["Name"], info["Organization"]) == ("New", "Org")


async def test_destroy_official_account(tmp_path: Path) -> None:
    """destroy_official_account sends AfterOfficialAccountDestroyed with owner and name; the OA
    is gone (130004) afterwards."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner", "Gone")
        with Clock() as t:
            await st.rest.ok(OA, "destroy_official_account", {"Official_Account": oa})
        command = ev.AfterOfficialAccountDestroyed.command
        await st.webhook(command, t.window, Official_Account=oa, Owner_Account="owner", Name="Gone")
        await st.received(command)
        gone = await st.rest.call(OA, "destroy_official_account", {"Official_Account": oa})
        assert gone["ErrorCode"] == 130004


async def test_rest_add_subscriber(tmp_path: Path) -> None:
    """add_subscriber sends BeforeAddSubscriber for the new subscribers only, then
    AfterAddSubscriber for those added, both with the admin as operator."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b", "c")
        oa = await st.rest.create_oa("owner")
        await st.rest.ok(
            OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")}
        )
        await st.recorder.wait_for(ev.AfterAddSubscriber.command)
        with Clock() as t:
            result = await st.rest.ok(
                OA,
                "add_subscriber",
                {"Official_Account": oa, "SubscriberList": subs("a", "b", "c", "ghost")},
            )
        assert result["SubscriberList"] == [
            {"Subscriber_Account": "a", "Result": 2},
            {"Subscriber_Account": "b", "Result": 1},
            {"Subscriber_Account": "c", "Result": 1},
            {"Subscriber_Account": "ghost", "Result": 0},
        ]
        await st.webhook(
            ev.BeforeAddSubscriber.command,
            t.window,
            nth=2,
            Official_Account=oa,
            Operator_Account=ADMIN,
            SubscribeAccountList=subs("b", "c"),
        )
        command = ev.AfterAddSubscriber.command
        await st.webhook(
            command,
            t.window,
            nth=2,
            Official_Account=oa,
            Operator_Account=ADMIN,
            SubscribeAccountList=subs("b", "c"),
        )
        await st.received(command, 2)


async def test_client_subscribe(tmp_path: Path) -> None:
    """A client subscription sends BeforeAddSubscriber and AfterAddSubscriber with the user as
    operator and subscriber, and the client's OptPlatform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        oa = await st.rest.create_oa("owner")
        with Clock() as t:
            result = await st.rest.client(
                "amy", "subscribe_official_account", {"Official_Account": oa}, platform="Web"
            )
        assert result["Result"] == 1
        for command in (ev.BeforeAddSubscriber.command, ev.AfterAddSubscriber.command):
            await st.webhook(
                command,
                t.window,
                "Web",
                Official_Account=oa,
                Operator_Account="amy",
                SubscribeAccountList=subs("amy"),
            )
        await st.received(ev.AfterAddSubscriber.command)
        again = await st.rest.client("amy", "subscribe_official_account", {"Official_Account": oa})
        assert again["Result"] == 2
        await st.drained()
        assert len(st.recorder.of(ev.BeforeAddSubscriber.command)) == 1
        assert len(st.recorder.of(ev.AfterAddSubscriber.command)) == 1


async def test_rest_add_subscriber_to_a_small_oa(tmp_path: Path) -> None:
    """Filling an OA of MaxSubscriberNum 1 sends AfterAddSubscriber and
    AfterOfficialAccountFull."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a")
        oa = await st.rest.create_oa("owner", MaxSubscriberNum=1)
        with Clock() as t:
            await st.rest.ok(
                OA, "add_subscriber", {"Official_Account": oa, "SubscriberList": subs("a")}
            )
        command = ev.AfterOfficialAccountFull.command
        await st.webhook(command, t.window, Official_Account=oa)
        await st.received(command)


async def test_client_unsubscribe(tmp_path: Path) -> None:
    """A client unsubscription sends AfterDeleteSubscriber with the client's OptPlatform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        oa = await st.rest.create_oa("owner")
        await st.rest.client("amy", "subscribe_official_account", {"Official_Account": oa})
        with Clock() as t:
            result = await st.rest.client(
                "amy", "unsubscribe_official_account", {"Official_Account": oa}, platform="Windows"
            )
        assert result["Result"] == 1
        command = ev.AfterDeleteSubscriber.command
        await st.webhook(
            command,
            t.window,
            "Windows",
            Official_Account=oa,
            Operator_Account="amy",
            SubscribeAccountList=subs("amy"),
        )
        await st.received(command)


async def test_rest_send_official_account_msg(tmp_path: Path) -> None:
    """send_official_account_msg sends BeforeSendMsg with the message, then AfterSendMsg with
    the MsgKey and MsgTime (seconds) the caller got back."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")
        with Clock() as t:
            result = await st.rest.ok(
                OA,
                "send_official_account_msg",
                {
                    "Official_Account": oa,
                    "Random": 7,
                    "MsgBody": TEXT,
                    "CloudCustomData": "ccd",
                    "OnlineOnlyFlag": 1,
                },
            )
        await st.webhook(
            ev.BeforeSendMsg.command,
            t.window,
            Official_Account=oa,
            OnlineOnlyFlag=1,
            MsgBody=TEXT,
            CloudCustomData="ccd",
        )
        command = ev.AfterSendMsg.command
        await st.webhook(
            command,
            t.window,
            Official_Account=oa,
            MsgKey=result["MsgKey"],
            MsgTime=result["MsgTime"],
            OnlineOnlyFlag=1,
            MsgBody=TEXT,
            CloudCustomData="ccd",
        )
        assert int(t.start) <= result["MsgTime"] <= int(t.end)
        await st.received(command)


async def test_client_send_official_account_msg(tmp_path: Path) -> None:
    """The OA owner sending from the client gets BeforeSendMsg and AfterSendMsg with the client's
    OptPlatform; another user may not send (130002) and nothing is sent for that."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "intruder")
        oa = await st.rest.create_oa("owner")
        with Clock() as t:
            result = await st.rest.client(
                "owner",
                "send_official_account_msg",
                {"Official_Account": oa, "MsgBody": TEXT},
                platform="iOS",
            )
        assert result["ErrorCode"] == 0
        await st.webhook(
            ev.AfterSendMsg.command,
            t.window,
            "iOS",
            Official_Account=oa,
            MsgKey=result["MsgKey"],
            MsgTime=result["MsgTime"],
            OnlineOnlyFlag=0,
            MsgBody=TEXT,
            CloudCustomData="",
        )
        check_query(only(st, ev.BeforeSendMsg.command), ev.BeforeSendMsg.command, "iOS")
        denied = await st.rest.client(
            "intruder", "send_official_account_msg", {"Official_Account": oa, "MsgBody": TEXT}
        )
        assert denied["ErrorCode"] == 130002
        await st.drained()
        assert len(st.recorder.of(ev.BeforeSendMsg.command)) == 1


async def test_rest_recall(tmp_path: Path) -> None:
    """official_account_msg_recall sends AfterMsgWithDraw with the recalled MsgKey."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")
        key = (await st.rest.send_msg(oa))["MsgKey"]
        with Clock() as t:
            await st.rest.ok(
                OA, "official_account_msg_recall", {"Official_Account": oa, "MsgKeyList": [key]}
            )
        command = ev.AfterMsgWithDraw.command
        await st.webhook(command, t.window, Official_Account=oa, WithdrawMsgList=[{"MsgKey": key}])
        await st.received(command)


async def test_forbid_callback_control_skips_the_send_webhooks(tmp_path: Path) -> None:
    """ForbidCallbackControl suppresses BeforeSendMsg and/or AfterSendMsg for one message."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        oa = await st.rest.create_oa("owner")
        await st.rest.send_msg(oa, ForbidCallbackControl=["ForbidBeforeSendMsgCallback"])
        await st.recorder.wait_for(ev.AfterSendMsg.command)
        assert st.recorder.of(ev.BeforeSendMsg.command) == []
        await st.rest.send_msg(oa, "x", ForbidCallbackControl=["ForbidAfterSendMsgCallback"])
        await st.drained()
        assert len(st.recorder.of(ev.BeforeSendMsg.command)) == 1
        assert len(st.recorder.of(ev.AfterSendMsg.command)) == 1


# --- Groups ---------------------------------------------------------------------------------------


async def test_create_group(tmp_path: Path) -> None:
    """create_group sends BeforeCreateGroup (with CreateGroupNum and the initial members), then
    AfterCreateGroup with the GroupId and the AppDefinedData as UserDefinedDataList."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "bob", "eve")
        await st.rest.create_group("owner", "Public")
        await st.recorder.wait_for(ev.AfterCreateGroup.command)
        with Clock() as t:
            group = await st.rest.create_group(
                "owner",
                "Public",
                Name="Climbers",
                MemberList=members("bob", "eve"),
                AppDefinedData=[{"Key": "Level", "Value": "5"}],
            )
        await st.webhook(
            ev.BeforeCreateGroup.command,
            t.window,
            nth=2,
            Operator_Account=ADMIN,
            Owner_Account="owner",
            Type="Public",
            Name="Climbers",
            CreateGroupNum=1,
            MemberList=members("bob", "eve"),
        )
        command = ev.AfterCreateGroup.command
        await st.webhook(
            command,
            t.window,
            nth=2,
            GroupId=group,
            Operator_Account=ADMIN,
            Owner_Account="owner",
            Type="Public",
            Name="Climbers",
            MemberList=members("bob", "eve"),
            UserDefinedDataList=[{"Key": "Level", "Value": "5"}],
        )
        await st.received(command, 2)
        assert sorted(await st.rest.members(group)) == ["bob", "eve", "owner"]


async def test_client_apply_to_a_free_access_group(tmp_path: Path) -> None:
    """Applying to a FreeAccess group sends BeforeApplyJoinGroup, then AfterNewMemberJoin with
    JoinType Apply, both with the applicant's OptPlatform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        group = await st.rest.create_group("owner", "ChatRoom")
        with Clock() as t:
            result = await st.rest.client(
                "amy", "apply_join_group", {"GroupId": group}, platform="Android"
            )
        assert result["JoinStatus"] == "JoinedSuccess"
        await st.webhook(
            ev.BeforeApplyJoinGroup.command,
            t.window,
            "Android",
            GroupId=group,
            Type="ChatRoom",
            Requestor_Account="amy",
        )
        command = ev.AfterNewMemberJoin.command
        await st.webhook(
            command,
            t.window,
            "Android",
            GroupId=group,
            Type="ChatRoom",
            JoinType="Apply",
            Operator_Account="amy",
            NewMemberList=members("amy"),
        )
        await st.received(command)


async def test_client_apply_needing_approval(tmp_path: Path) -> None:
    """Applying to a NeedPermission group waits for approval (no join webhook yet); the owner's
    approval sends AfterNewMemberJoin with JoinType Apply."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        group = await st.rest.create_group("owner", "Public", ApplyJoinOption="NeedPermission")
        result = await st.rest.client("amy", "apply_join_group", {"GroupId": group})
        assert result["JoinStatus"] == "WaitingApproval"
        await st.recorder.wait_for(ev.BeforeApplyJoinGroup.command)
        await st.drained()
        assert st.recorder.of(ev.AfterNewMemberJoin.command) == []
        with Clock() as t:
            approved = await st.rest.client(
                "owner",
                "handle_join_application",
                {"GroupId": group, "Applicant_Account": "amy", "Approve": True},
                platform="Mac",
            )
        assert approved["ErrorCode"] == 0
        command = ev.AfterNewMemberJoin.command
        await st.webhook(
            command,
            t.window,
            "Mac",
            GroupId=group,
            Type="Public",
            JoinType="Apply",
            Operator_Account="owner",
            NewMemberList=members("amy"),
        )
        assert sorted(await st.rest.members(group)) == ["amy", "owner"]


async def test_rest_add_group_member(tmp_path: Path) -> None:
    """add_group_member sends BeforeInviteJoinGroup for the new members, then AfterNewMemberJoin
    with JoinType Invited; members already in get Result 2, unknown users Result 0."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b")
        group = await st.rest.create_group("owner", "Public", MemberList=members("a"))
        with Clock() as t:
            result = await st.rest.ok(
                GROUP,
                "add_group_member",
                {"GroupId": group, "MemberList": members("a", "b", "ghost"), "Silence": 1},
            )
        assert result["MemberList"] == [
            {"Member_Account": "a", "Result": 2},
            {"Member_Account": "b", "Result": 1},
            {"Member_Account": "ghost", "Result": 0},
        ]
        await st.webhook(
            ev.BeforeInviteJoinGroup.command,
            t.window,
            GroupId=group,
            Type="Public",
            Operator_Account=ADMIN,
            DestinationMembers=members("b"),
        )
        command = ev.AfterNewMemberJoin.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            JoinType="Invited",
            Operator_Account=ADMIN,
            NewMemberList=members("b"),
        )
        await st.received(command)


async def test_client_invite(tmp_path: Path) -> None:
    """A member of a Private group inviting from the client sends BeforeInviteJoinGroup and
    AfterNewMemberJoin (Invited) with the inviter as operator and the client's OptPlatform."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "m1", "amy")
        group = await st.rest.create_group("owner", "Private", MemberList=members("m1"))
        with Clock() as t:
            result = await st.rest.client(
                "m1",
                "invite_group_member",
                {"GroupId": group, "MemberList": members("amy")},
                platform="iPad",
            )
        assert result["MemberList"] == [{"Member_Account": "amy", "Result": 1}]
        await st.webhook(
            ev.BeforeInviteJoinGroup.command,
            t.window,
            "iPad",
            GroupId=group,
            Type="Private",
            Operator_Account="m1",
            DestinationMembers=members("amy"),
        )
        command = ev.AfterNewMemberJoin.command
        await st.webhook(
            command,
            t.window,
            "iPad",
            GroupId=group,
            Type="Private",
            JoinType="Invited",
            Operator_Account="m1",
            NewMemberList=members("amy"),
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterNewMemberJoin)
        assert event.join_type == "Invited"


async def test_client_quit_group(tmp_path: Path) -> None:
    """A member quitting from the client sends AfterMemberExit with ExitType Quit."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "amy")
        group = await st.rest.create_group("owner", "Public", MemberList=members("amy"))
        with Clock() as t:
            result = await st.rest.client("amy", "quit_group", {"GroupId": group}, platform="Web")
        assert result["ErrorCode"] == 0
        command = ev.AfterMemberExit.command
        await st.webhook(
            command,
            t.window,
            "Web",
            GroupId=group,
            Type="Public",
            ExitType="Quit",
            Operator_Account="amy",
            ExitMemberList=members("amy"),
        )
        await st.received(command)
        assert await st.rest.members(group) == ["owner"]


async def test_client_kick(tmp_path: Path) -> None:
    """The owner removing members from the client sends AfterMemberExit with ExitType Kicked."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b")
        group = await st.rest.create_group("owner", "Public", MemberList=members("a", "b"))
        with Clock() as t:
            result = await st.rest.client(
                "owner",
                "kick_group_member",
                {"GroupId": group, "MemberToDel_Account": ["b", "nobody"]},
                platform="Android",
            )
        assert result["ErrorCode"] == 0
        command = ev.AfterMemberExit.command
        await st.webhook(
            command,
            t.window,
            "Android",
            GroupId=group,
            Type="Public",
            ExitType="Kicked",
            Operator_Account="owner",
            ExitMemberList=members("b"),
        )
        refused = await st.rest.client(
            "a", "kick_group_member", {"GroupId": group, "MemberToDel_Account": ["owner"]}
        )
        assert refused["ErrorCode"] == 10007


async def test_rest_delete_group_member(tmp_path: Path) -> None:
    """delete_group_member sends AfterMemberExit (Kicked, admin as operator) listing only those
    who were members."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a", "b")
        group = await st.rest.create_group("owner", "Public", MemberList=members("a", "b"))
        with Clock() as t:
            await st.rest.ok(
                GROUP,
                "delete_group_member",
                {"GroupId": group, "MemberToDel_Account": ["a", "b", "stranger"]},
            )
        command = ev.AfterMemberExit.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Public",
            ExitType="Kicked",
            Operator_Account=ADMIN,
            ExitMemberList=members("a", "b"),
        )
        assert await st.rest.members(group) == ["owner"]


async def test_rest_add_group_member_to_a_full_group(tmp_path: Path) -> None:
    """Adding to a full group fails with 10014 and sends AfterGroupFull with only the GroupId."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner", "a")
        group = await st.rest.create_group("owner", "Public", MaxMemberCount=1)
        with Clock() as t:
            result = await st.rest.call(
                GROUP, "add_group_member", {"GroupId": group, "MemberList": members("a")}
            )
        assert result["ErrorCode"] == 10014
        command = ev.AfterGroupFull.command
        await st.webhook(command, t.window, GroupId=group)
        await st.received(command)
        assert st.recorder.of(ev.BeforeInviteJoinGroup.command) == []


PLATFORMS = [
    ("Android", "Android"),
    ("iOS", "iOS"),
    ("IOS", "iOS"),
    ("macOS", "Mac"),
    ("Mac", "Mac"),
    ("Web", "Web"),
    ("Windows", "Windows"),
    ("iPad", "iPad"),
    ("Linux", "Unknown"),
    (None, "Unknown"),
]


async def test_client_platform_becomes_opt_platform(tmp_path: Path) -> None:
    """The client's platform parameter is the webhooks' OptPlatform, in Tencent's spelling;
    one it does not know, or none, is Unknown."""
    async with stack(tmp_path) as st:
        users = [f"user{i}" for i in range(len(PLATFORMS))]
        await st.rest.import_users("owner", *users)
        oa = await st.rest.create_oa("owner")
        for user, (platform, _) in zip(users, PLATFORMS, strict=True):
            result = await st.rest.call(
                "timhooks_client",
                "subscribe_official_account",
                {"Official_Account": oa},
                identifier=user,
                platform=platform,
            )
            assert result["Result"] == 1
        hits = await st.recorder.wait_for(ev.AfterAddSubscriber.command, len(users))
        by_user = {h.body["Operator_Account"]: h for h in hits}
        for user, (_, expected) in zip(users, PLATFORMS, strict=True):
            check_query(by_user[user], ev.AfterAddSubscriber.command, expected)


async def test_webhooks_reuse_kept_alive_connections(tmp_path: Path) -> None:
    """Webhooks travel over persistent connections: a dozen sequential calls' webhooks come
    over far fewer TCP connections than requests."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        for round_ in range(6):
            await st.rest.create_group("owner", "Public")
            hits = await st.recorder.wait_for(ev.AfterCreateGroup.command, 1 + round_)
            await hits[-1].answered()
        assert len(st.recorder.hits) == 12
        assert len({h.client for h in st.recorder.hits}) <= 3
