"""Community topics through serve: create, modify, destroy, read, and their webhooks.

Bodies as documented: BeforeCreateTopic names no GroupId ("Before a Topic Is Created",
https://tencentcloud.com/document/product/1047/49463), AfterTopicInfoChanged no TopicId ("Topic
Profile Change Webhook", https://tencentcloud.com/document/product/1047/49466). Each topic
webhook follows the switch of its group webhook.
"""

from __future__ import annotations

from pathlib import Path

from server_support import ADMIN, GROUP, TOKEN, Clock, Stack, members, stack

from timhooks.protocol import events as ev

TOPIC = "million_group_open_http_svc"


async def community(st: Stack, *others: str, topics: bool = True) -> str:
    await st.rest.import_users("owner", *others)
    return await st.rest.create_group(
        "owner", "Community", MemberList=members(*others), SupportTopic=int(topics)
    )


async def test_create_topic_sends_before_and_after(tmp_path: Path) -> None:
    """create_topic asks BeforeCreateTopic (Operator, Type, Name), creates the topic with an ID
    of the group's, then sends AfterCreateTopic, both signed with the app's token; get_topic
    shows it."""
    async with stack(tmp_path, token=TOKEN) as st:
        group = await community(st, "amy")
        with Clock() as t:
            result = await st.rest.ok(
                TOPIC,
                "create_topic",
                {
                    "GroupId": group,
                    "TopicName": "Trails",
                    "From_Account": "amy",
                    "Introduction": "i",
                },
            )
        topic = result["TopicId"]
        assert topic.startswith(group + "@TOPIC#_@TOPIC#")
        await st.webhook(
            ev.BeforeCreateTopic.command,
            t.window,
            Operator_Account=ADMIN,
            Type="Community",
            Name="Trails",
        )
        command = ev.AfterCreateTopic.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            TopicId=topic,
            Operator_Account=ADMIN,
            Owner_Account="amy",
            Type="Community",
            Name="Trails",
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterCreateTopic)
        assert event.topic_id == topic
        info = await st.rest.ok(TOPIC, "get_topic", {"GroupId": group})
        [item] = info["TopicAndSelfInfo"]
        assert (item["ErrorCode"], item["ErrorInfo"]) == (0, "")
        shown = item["TopicInfo"]
        assert (shown["TopicId"], shown["TopicName"], shown["Introduction"]) == (
            topic,
            "Trails",
            "i",
        )


async def test_custom_topic_ids_and_refusals(tmp_path: Path) -> None:
    """A custom TopicId must be the group's ID, @TOPIC#_ and a name (10004 otherwise) and unused
    (10021); groups without topics refuse (11000), unknown ones are 10010."""
    async with stack(tmp_path) as st:
        group = await community(st)
        plain = await st.rest.create_group("owner", "Community")
        public = await st.rest.create_group("owner", "Public", SupportTopic=1)
        custom = group + "@TOPIC#_Trails"
        made = await st.rest.ok(
            TOPIC, "create_topic", {"GroupId": group, "TopicName": "T", "TopicId": custom}
        )
        assert made["TopicId"] == custom
        cases = [
            ({"GroupId": group, "TopicName": "T", "TopicId": custom}, 10021),
            ({"GroupId": group, "TopicName": "T", "TopicId": "@TOPIC#_x"}, 10004),
            ({"GroupId": group, "TopicName": "T", "TopicId": group + "@TOPIC#_"}, 10004),
            ({"GroupId": group, "TopicName": ""}, 10004),
            ({"GroupId": group, "TopicName": "T", "From_Account": "ghost"}, 10019),
            ({"GroupId": plain, "TopicName": "T"}, 11000),
            ({"GroupId": public, "TopicName": "T"}, 11000),
            ({"GroupId": "nope", "TopicName": "T"}, 10010),
        ]
        for body, code in cases:
            result = await st.rest.call(TOPIC, "create_topic", body)
            assert result["ErrorCode"] == code, (body, result)
        await st.drained()
        assert len(await st.outbox(ev.AfterCreateTopic.command)) == 1


async def test_modify_topic_reports_changed_profile_fields(tmp_path: Path) -> None:
    """modify_topic sends AfterTopicInfoChanged with the changed name, introduction,
    notification or face only; CustomString and MuteAllMember alone send nothing."""
    async with stack(tmp_path) as st:
        group = await community(st)
        topic = (await st.rest.ok(TOPIC, "create_topic", {"GroupId": group, "TopicName": "A"}))[
            "TopicId"
        ]
        await st.rest.ok(
            TOPIC,
            "modify_topic",
            {"GroupId": group, "TopicId": topic, "CustomString": "c", "MuteAllMember": "On"},
        )
        with Clock() as t:
            await st.rest.ok(
                TOPIC,
                "modify_topic",
                {"GroupId": group, "TopicId": topic, "TopicName": "B", "Notification": "n"},
            )
        command = ev.AfterTopicInfoChanged.command
        await st.webhook(
            command,
            t.window,
            GroupId=group,
            Type="Community",
            Operator_Account=ADMIN,
            Name="B",
            Notification="n",
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterTopicInfoChanged)
        body = {"GroupId": group, "TopicIdList": [topic]}
        [item] = (await st.rest.ok(TOPIC, "get_topic", body))["TopicAndSelfInfo"]
        shown = item["TopicInfo"]
        assert (shown["TopicName"], shown["CustomString"], shown["ShutUpAllFlag"]) == ("B", "c", 1)
        missing = await st.rest.call(
            TOPIC,
            "modify_topic",
            {"GroupId": group, "TopicId": group + "@TOPIC#_none", "TopicName": "x"},
        )
        assert missing["ErrorCode"] == 10010
        bad = await st.rest.call(
            TOPIC, "modify_topic", {"GroupId": group, "TopicId": topic, "MuteAllMember": "Maybe"}
        )
        assert bad["ErrorCode"] == 10004
        assert "MuteAllMember" in bad["ErrorInfo"]


async def test_destroy_topic_reports_each_and_sends_the_deleted(tmp_path: Path) -> None:
    """destroy_topic answers a DestroyResultItem per TopicId (110003 for an unknown one) and
    sends AfterTopicDestroyed with the topics deleted; get_topic then has a per-item 10010."""
    async with stack(tmp_path) as st:
        group = await community(st)
        first = group + "@TOPIC#_One"
        second = group + "@TOPIC#_Two"
        for topic in (first, second):
            await st.rest.ok(
                TOPIC, "create_topic", {"GroupId": group, "TopicName": "x", "TopicId": topic}
            )
        ghost = group + "@TOPIC#_Ghost"
        with Clock() as t:
            result = await st.rest.ok(
                TOPIC, "destroy_topic", {"GroupId": group, "TopicIdList": [first, ghost, second]}
            )
        assert [(i["TopicId"], i["ErrorCode"]) for i in result["DestroyResultItem"]] == [
            (first, 0),
            (ghost, 110003),
            (second, 0),
        ]
        command = ev.AfterTopicDestroyed.command
        await st.webhook(
            command, t.window, GroupId=group, Type="Community", TopicIdList=[first, second]
        )
        [event] = await st.received(command)
        assert isinstance(event, ev.AfterTopicDestroyed)
        body = {"GroupId": group, "TopicIdList": [first]}
        [item] = (await st.rest.ok(TOPIC, "get_topic", body))["TopicAndSelfInfo"]
        assert (item["TopicId"], item["ErrorCode"]) == (first, 10010)


async def test_destroying_the_community_ends_its_topics(tmp_path: Path) -> None:
    """A dismissed Community takes its topics along: a new Community of the same ID has none."""
    async with stack(tmp_path) as st:
        await st.rest.import_users("owner")
        group = await st.rest.create_group(
            "owner", "Community", GroupId="@TGS#_hikers", SupportTopic=1
        )
        await st.rest.ok(TOPIC, "create_topic", {"GroupId": group, "TopicName": "x"})
        await st.rest.ok(GROUP, "destroy_group", {"GroupId": group})
        again = await st.rest.create_group(
            "owner", "Community", GroupId="@TGS#_hikers", SupportTopic=1
        )
        assert (await st.rest.ok(TOPIC, "get_topic", {"GroupId": again}))["TopicAndSelfInfo"] == []


async def test_client_create_topic_by_owner_or_admin(tmp_path: Path) -> None:
    """The owner creates a topic from the client (its OptPlatform in both webhooks); a plain
    member gets 10007 and the app is not asked."""
    async with stack(tmp_path) as st:
        group = await community(st, "amy")
        refused = await st.rest.client("amy", "create_topic", {"GroupId": group, "TopicName": "x"})
        assert refused["ErrorCode"] == 10007
        with Clock() as t:
            made = await st.rest.client(
                "owner", "create_topic", {"GroupId": group, "TopicName": "Mine"}, "Android"
            )
        await st.webhook(
            ev.BeforeCreateTopic.command,
            t.window,
            "Android",
            Operator_Account="owner",
            Type="Community",
            Name="Mine",
        )
        await st.webhook(
            ev.AfterCreateTopic.command,
            t.window,
            "Android",
            GroupId=group,
            TopicId=made["TopicId"],
            Operator_Account="owner",
            Owner_Account="owner",
            Type="Community",
            Name="Mine",
        )


async def test_topic_webhooks_follow_the_group_switches(tmp_path: Path) -> None:
    """With only the group webhooks' switches on (no topic command listed), the topic
    webhooks are sent; with those group switches off and the topic commands listed, none is."""
    group_on = frozenset(
        {
            ev.BeforeCreateGroup.command,
            ev.AfterCreateGroup.command,
            ev.AfterGroupDestroyed.command,
            ev.AfterGroupInfoChanged.command,
        }
    )
    async with stack(tmp_path / "on", callback={"commands": group_on}) as st:
        group = await community(st)
        topic = (await st.rest.ok(TOPIC, "create_topic", {"GroupId": group, "TopicName": "x"}))[
            "TopicId"
        ]
        await st.rest.ok(
            TOPIC, "modify_topic", {"GroupId": group, "TopicId": topic, "TopicName": "y"}
        )
        await st.rest.ok(TOPIC, "destroy_topic", {"GroupId": group, "TopicIdList": [topic]})
        for command in (
            ev.BeforeCreateTopic.command,
            ev.AfterCreateTopic.command,
            ev.AfterTopicInfoChanged.command,
            ev.AfterTopicDestroyed.command,
        ):
            await st.recorder.wait_for(command)
    topics_only = frozenset(
        {
            ev.BeforeCreateTopic.command,
            ev.AfterCreateTopic.command,
            ev.AfterTopicDestroyed.command,
            ev.AfterTopicInfoChanged.command,
        }
    )
    async with stack(tmp_path / "off", callback={"commands": topics_only}) as st:
        group = await community(st)
        topic = (await st.rest.ok(TOPIC, "create_topic", {"GroupId": group, "TopicName": "x"}))[
            "TopicId"
        ]
        await st.rest.ok(
            TOPIC, "modify_topic", {"GroupId": group, "TopicId": topic, "TopicName": "y"}
        )
        await st.rest.ok(TOPIC, "destroy_topic", {"GroupId": group, "TopicIdList": [topic]})
        await st.drained()
        assert st.recorder.hits == []
        for command in topics_only:
            assert await st.outbox(command) == []
            assert await st.outbox(command, phase="before") == []
