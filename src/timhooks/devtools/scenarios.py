"""The REST calls that make ``timhooks serve`` send each webhook it can send.

``timhooks trigger COMMAND --via-server URL`` runs the scenario of COMMAND against a running
server, so the webhook comes from a real change, the way ``stripe trigger`` creates real objects:
every scenario imports fresh users and creates its own Official Account or group (names carry a
random tag), then makes the one call that sends the webhook. Which call sends which webhook is
the README's REST and client-action tables; there is a scenario for every webhook serve sends.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from timhooks.devtools.rest import CLIENT_SERVICE, RestClient

__all__ = ["SCENARIOS", "ScenarioRun", "Step", "run_scenario"]

OA = "official_account_open_http_svc"
GROUP = "group_open_http_svc"
TOPIC = "million_group_open_http_svc"
LOGIN = "im_open_login_svc"
OPENIM = "openim"
SNS = "sns"
PROFILE = "profile"
_TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello from timhooks trigger"}}]


@dataclass(frozen=True, slots=True)
class Step:
    """One REST call of a scenario and its answer."""

    command: str
    identifier: str
    body: Mapping[str, Any]
    answer: Mapping[str, Any]
    final: bool
    expected: int = 0

    @property
    def ok(self) -> bool:
        """The call answered as the scenario means it to (ErrorCode 0, or the failure whose
        webhook the scenario is after)."""
        return self.answer.get("ErrorCode") == self.expected

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for ``--json``."""
        return {
            "command": self.command,
            "identifier": self.identifier,
            "body": dict(self.body),
            "answer": dict(self.answer),
        }


class _StepFailed(Exception):
    """A scenario's call answered a non-zero ErrorCode; the scenario stops there."""

    def __init__(self, step: Step) -> None:
        super().__init__(f"{step.command} answered ErrorCode {step.answer.get('ErrorCode')}")
        self.step = step


@dataclass
class ScenarioRun:
    """One scenario's state: its client, its random tag and the steps made so far."""

    rest: RestClient
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    steps: list[Step] = field(default_factory=list)
    on_step: Callable[[Step], None] | None = None

    def user(self, role: str) -> str:
        """A UserID of this run (``alice_3f9a0c``)."""
        return f"{role}_{self.tag}"

    async def admin(
        self, command: str, body: Mapping[str, Any], *, final: bool = False, expect: int = 0
    ) -> Mapping[str, Any]:
        """A REST call as the admin; the scenario stops unless it answers ErrorCode ``expect``
        (0: it succeeds)."""
        answer = await self.rest.call(command, body)
        return self._record(Step(command, self.rest.admin, body, answer, final, expect))

    async def client(
        self, user: str, action: str, body: Mapping[str, Any], *, final: bool = False
    ) -> Mapping[str, Any]:
        """A client action of ``user`` (on iOS); the scenario stops unless it succeeds."""
        answer = await self.rest.client(user, action, body, platform="iOS")
        return self._record(Step(f"{CLIENT_SERVICE}/{action}", user, body, answer, final))

    def _record(self, step: Step) -> Mapping[str, Any]:
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        if not step.ok:
            raise _StepFailed(step)
        return step.answer

    # --- set-ups shared by the scenarios ----------------------------------------------------

    async def users(self, *roles: str) -> list[str]:
        """Import one user per role."""
        ids = [self.user(role) for role in roles]
        await self.admin(f"{LOGIN}/multiaccount_import", {"AccountList": ids})
        return ids

    async def official_account(self, **fields: Any) -> str:
        """An Official Account owned by a fresh user; its ID."""
        [owner] = await self.users("owner")
        body = {"Owner_Account": owner, "Name": f"trigger_{self.tag}", **fields}
        answer = await self.admin(f"{OA}/create_official_account", body)
        return str(answer["OfficialAccountUserID"])

    async def group(self, *members: str, **fields: Any) -> str:
        """A Public group owned by a fresh user, with ``members`` (imported) in it; its ID."""
        [owner] = await self.users("owner")
        body = {"Owner_Account": owner, "Type": "Public", "Name": f"trigger_{self.tag}", **fields}
        if members:
            body["MemberList"] = [{"Member_Account": user} for user in members]
        answer = await self.admin(f"{GROUP}/create_group", body)
        return str(answer["GroupId"])

    async def topic(self) -> tuple[str, str]:
        """A topic of a fresh Community that supports topics: the group's ID and the topic's."""
        group = await self.group(Type="Community", SupportTopic=1)
        body = {"GroupId": group, "TopicName": f"trigger_{self.tag}"}
        answer = await self.admin(f"{TOPIC}/create_topic", body)
        return group, str(answer["TopicId"])

    async def sendmsg(self, sender: str, to: str, *, final: bool = False) -> Mapping[str, Any]:
        """A one-to-one message from ``sender`` to ``to``; the answer (MsgKey, MsgTime)."""
        body = {"From_Account": sender, "To_Account": to, "MsgBody": _TEXT}
        return await self.admin(f"{OPENIM}/sendmsg", body, final=final)

    async def send_group_msg(
        self, group: str, sender: str, *, final: bool = False, expect: int = 0
    ) -> Mapping[str, Any]:
        """A message from ``sender`` to ``group``; the answer (MsgSeq, MsgTime)."""
        body = {"GroupId": group, "From_Account": sender, "MsgBody": _TEXT}
        return await self.admin(f"{GROUP}/send_group_msg", body, final=final, expect=expect)

    async def befriend(self, user: str, friend: str, *, final: bool = False) -> None:
        """Make ``user`` and ``friend`` friends both ways (forced, whatever their AllowType)."""
        item = {"To_Account": friend, "AddSource": "AddSource_Type_Trigger"}
        body = {"From_Account": user, "AddFriendItem": [item], "ForceAddFlags": 1}
        await self.admin(f"{SNS}/friend_add", body, final=final)

    async def friend_request(self, sender: str, to: str, *, final: bool = False) -> None:
        """``sender`` asks ``to`` to be friends from a client (a NeedConfirm user, the default,
        gets a pending request)."""
        item = {"To_Account": to, "AddSource": "AddSource_Type_Trigger"}
        await self.client(sender, "friend_add", {"AddFriendItem": [item]}, final=final)


Scenario = Callable[[ScenarioRun], Awaitable[None]]


async def _create_official_account(run: ScenarioRun) -> None:
    [owner] = await run.users("owner")
    body = {"Owner_Account": owner, "Name": f"trigger_{run.tag}"}
    await run.admin(f"{OA}/create_official_account", body, final=True)


async def _modify_official_account(run: ScenarioRun) -> None:
    oa = await run.official_account()
    body = {"Official_Account": oa, "Introduction": "changed by timhooks trigger"}
    await run.admin(f"{OA}/modify_official_account_base_info", body, final=True)


async def _destroy_official_account(run: ScenarioRun) -> None:
    oa = await run.official_account()
    await run.admin(f"{OA}/destroy_official_account", {"Official_Account": oa}, final=True)


async def _add_subscriber(run: ScenarioRun) -> None:
    oa = await run.official_account()
    [alice] = await run.users("alice")
    body = {"Official_Account": oa, "SubscriberList": [{"Subscriber_Account": alice}]}
    await run.admin(f"{OA}/add_subscriber", body, final=True)


async def _fill_official_account(run: ScenarioRun) -> None:
    # Room for one, and one user subscribes from a client: the account is then full.
    oa = await run.official_account(MaxSubscriberNum=1)
    alice = run.user("alice")
    await run.client(alice, "subscribe_official_account", {"Official_Account": oa}, final=True)


async def _delete_subscriber(run: ScenarioRun) -> None:
    oa = await run.official_account()
    [alice] = await run.users("alice")
    body = {"Official_Account": oa, "SubscriberList": [{"Subscriber_Account": alice}]}
    await run.admin(f"{OA}/add_subscriber", body)
    body = {"Official_Account": oa, "SubscriberToDel_Account": [alice]}
    await run.admin(f"{OA}/delete_subscriber", body, final=True)


async def _send_official_account_msg(run: ScenarioRun) -> None:
    oa = await run.official_account()
    body = {"Official_Account": oa, "MsgBody": _TEXT}
    await run.admin(f"{OA}/send_official_account_msg", body, final=True)


async def _recall_official_account_msg(run: ScenarioRun) -> None:
    oa = await run.official_account()
    sent = await run.admin(
        f"{OA}/send_official_account_msg", {"Official_Account": oa, "MsgBody": _TEXT}
    )
    body = {"Official_Account": oa, "MsgKeyList": [sent["MsgKey"]]}
    await run.admin(f"{OA}/official_account_msg_recall", body, final=True)


async def _create_group(run: ScenarioRun) -> None:
    [owner] = await run.users("owner")
    body = {"Owner_Account": owner, "Type": "Public", "Name": f"trigger_{run.tag}"}
    await run.admin(f"{GROUP}/create_group", body, final=True)


async def _apply_join_group(run: ScenarioRun) -> None:
    group = await run.group(ApplyJoinOption="FreeAccess")
    alice = run.user("alice")
    await run.client(alice, "apply_join_group", {"GroupId": group}, final=True)


async def _add_group_member(run: ScenarioRun) -> None:
    group = await run.group()
    [alice] = await run.users("alice")
    body = {"GroupId": group, "MemberList": [{"Member_Account": alice}]}
    await run.admin(f"{GROUP}/add_group_member", body, final=True)


async def _delete_group_member(run: ScenarioRun) -> None:
    group = await run.group()
    [alice] = await run.users("alice")
    await run.admin(
        f"{GROUP}/add_group_member", {"GroupId": group, "MemberList": [{"Member_Account": alice}]}
    )
    body = {"GroupId": group, "MemberToDel_Account": [alice]}
    await run.admin(f"{GROUP}/delete_group_member", body, final=True)


async def _fill_group(run: ScenarioRun) -> None:
    # Room for the owner and one more; adding one member fills the group.
    group = await run.group(MaxMemberCount=2)
    [alice] = await run.users("alice")
    body = {"GroupId": group, "MemberList": [{"Member_Account": alice}]}
    await run.admin(f"{GROUP}/add_group_member", body, final=True)


async def _send_group_msg(run: ScenarioRun) -> None:
    group = await run.group()
    await run.send_group_msg(group, run.user("owner"), final=True)


async def _send_group_msg_from_outside(run: ScenarioRun) -> None:
    # A user outside the group may not send there (10007): the failed send is the webhook.
    group = await run.group()
    [outsider] = await run.users("outsider")
    await run.send_group_msg(group, outsider, final=True, expect=10007)


async def _recall_group_msg(run: ScenarioRun) -> None:
    group = await run.group()
    sent = await run.send_group_msg(group, run.user("owner"))
    body = {"GroupId": group, "MsgSeqList": [{"MsgSeq": sent["MsgSeq"]}]}
    await run.admin(f"{GROUP}/group_msg_recall", body, final=True)


async def _destroy_group(run: ScenarioRun) -> None:
    group = await run.group()
    await run.admin(f"{GROUP}/destroy_group", {"GroupId": group}, final=True)


async def _modify_group(run: ScenarioRun) -> None:
    group = await run.group()
    body = {"GroupId": group, "Introduction": "changed by timhooks trigger"}
    await run.admin(f"{GROUP}/modify_group_base_info", body, final=True)


async def _change_group_owner(run: ScenarioRun) -> None:
    [alice] = await run.users("alice")
    group = await run.group(alice)
    body = {"GroupId": group, "NewOwner_Account": alice}
    await run.admin(f"{GROUP}/change_group_owner", body, final=True)


async def _modify_group_member(run: ScenarioRun) -> None:
    [alice] = await run.users("alice")
    group = await run.group(alice)
    body = {"GroupId": group, "Member_Account": alice, "NameCard": f"trigger_{run.tag}"}
    await run.admin(f"{GROUP}/modify_group_member_info", body, final=True)


async def _set_group_attr(run: ScenarioRun) -> None:
    group = await run.group()
    body = {"GroupId": group, "GroupAttr": [{"key": "trigger", "value": run.tag}]}
    await run.admin(f"{GROUP}/set_group_attr", body, final=True)


async def _create_topic(run: ScenarioRun) -> None:
    group = await run.group(Type="Community", SupportTopic=1)
    body = {"GroupId": group, "TopicName": f"trigger_{run.tag}"}
    await run.admin(f"{TOPIC}/create_topic", body, final=True)


async def _destroy_topic(run: ScenarioRun) -> None:
    group, topic = await run.topic()
    await run.admin(
        f"{TOPIC}/destroy_topic", {"GroupId": group, "TopicIdList": [topic]}, final=True
    )


async def _modify_topic(run: ScenarioRun) -> None:
    group, topic = await run.topic()
    body = {"GroupId": group, "TopicId": topic, "Introduction": "changed by timhooks trigger"}
    await run.admin(f"{TOPIC}/modify_topic", body, final=True)


async def _sendmsg(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.sendmsg(alice, bob, final=True)


async def _msgwithdraw(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    sent = await run.sendmsg(alice, bob)
    body = {"From_Account": alice, "To_Account": bob, "MsgKey": sent["MsgKey"]}
    await run.admin(f"{OPENIM}/admin_msgwithdraw", body, final=True)


async def _set_msg_read(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.sendmsg(alice, bob)
    body = {"Report_Account": bob, "Peer_Account": alice}
    await run.admin(f"{OPENIM}/admin_set_msg_read", body, final=True)


async def _friend_request(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.friend_request(alice, bob, final=True)


async def _friend_response(run: ScenarioRun) -> None:
    # bob's request waits for alice (NeedConfirm); she agrees and adds him back.
    alice, bob = await run.users("alice", "bob")
    await run.friend_request(bob, alice)
    item = {"To_Account": bob, "ResponseAction": "Response_Action_AgreeAndAdd"}
    await run.client(alice, "friend_response", {"ResponseFriendItem": [item]}, final=True)


async def _friend_add(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.befriend(alice, bob, final=True)


async def _friend_delete(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.befriend(alice, bob)
    body = {"From_Account": alice, "To_Account": [bob], "DeleteType": "Delete_Type_Both"}
    await run.admin(f"{SNS}/friend_delete", body, final=True)


async def _black_list_add(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    await run.admin(
        f"{SNS}/black_list_add", {"From_Account": alice, "To_Account": [bob]}, final=True
    )


async def _black_list_delete(run: ScenarioRun) -> None:
    alice, bob = await run.users("alice", "bob")
    body = {"From_Account": alice, "To_Account": [bob]}
    await run.admin(f"{SNS}/black_list_add", body)
    await run.admin(f"{SNS}/black_list_delete", body, final=True)


async def _portrait_set(run: ScenarioRun) -> None:
    [alice] = await run.users("alice")
    item = {"Tag": "Tag_Profile_IM_Nick", "Value": f"trigger_{run.tag}"}
    body = {"From_Account": alice, "ProfileItem": [item]}
    await run.admin(f"{PROFILE}/portrait_set", body, final=True)


async def _login(run: ScenarioRun) -> None:
    # A client logs in (on iOS): the user's state changes to Login.
    [alice] = await run.users("alice")
    await run.client(alice, "login", {}, final=True)


SCENARIOS: Mapping[str, Scenario] = {
    "OfficialAccount.CallbackBeforeCreateOfficialAccount": _create_official_account,
    "OfficialAccount.CallbackAfterCreateOfficialAccount": _create_official_account,
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged": _modify_official_account,
    "OfficialAccount.CallbackAfterOfficialAccountDestroyed": _destroy_official_account,
    "OfficialAccount.CallbackBeforeAddSubscriber": _add_subscriber,
    "OfficialAccount.CallbackAfterAddSubscriber": _add_subscriber,
    "OfficialAccount.CallbackAfterOfficialAccountFull": _fill_official_account,
    "OfficialAccount.CallbackAfterDeleteSubscriber": _delete_subscriber,
    "OfficialAccount.CallbackBeforeSendMsg": _send_official_account_msg,
    "OfficialAccount.CallbackAfterSendMsg": _send_official_account_msg,
    "OfficialAccount.CallbackAfterMsgWithDraw": _recall_official_account_msg,
    "Group.CallbackBeforeCreateGroup": _create_group,
    "Group.CallbackAfterCreateGroup": _create_group,
    "Group.CallbackBeforeApplyJoinGroup": _apply_join_group,
    "Group.CallbackBeforeInviteJoinGroup": _add_group_member,
    "Group.CallbackAfterNewMemberJoin": _add_group_member,
    "Group.CallbackAfterMemberExit": _delete_group_member,
    "Group.CallbackAfterGroupFull": _fill_group,
    "Group.CallbackBeforeSendMsg": _send_group_msg,
    "Group.CallbackAfterSendMsg": _send_group_msg,
    "Group.CallbackSendMsgException": _send_group_msg_from_outside,
    "Group.CallbackAfterRecallMsg": _recall_group_msg,
    "Group.CallbackAfterGroupDestroyed": _destroy_group,
    "Group.CallbackAfterGroupInfoChanged": _modify_group,
    "Group.CallbackAfterChangeGroupOwner": _change_group_owner,
    "Group.CallbackAfterMemberFieldChanged": _modify_group_member,
    "Group.CallbackAfterGroupAttrChanged": _set_group_attr,
    "Group.CallbackBeforeCreateTopic": _create_topic,
    "Group.CallbackAfterCreateTopic": _create_topic,
    "Group.CallbackAfterTopicDestroyed": _destroy_topic,
    "Group.CallbackAfterTopicInfoChanged": _modify_topic,
    "C2C.CallbackBeforeSendMsg": _sendmsg,
    "C2C.CallbackAfterSendMsg": _sendmsg,
    "C2C.CallbackAfterMsgWithDraw": _msgwithdraw,
    "C2C.CallbackAfterMsgReport": _set_msg_read,
    "Sns.CallbackPrevFriendAdd": _friend_request,
    "Sns.CallbackPrevFriendResponse": _friend_response,
    "Sns.CallbackFriendAdd": _friend_add,
    "Sns.CallbackFriendDelete": _friend_delete,
    "Sns.CallbackBlackListAdd": _black_list_add,
    "Sns.CallbackBlackListDelete": _black_list_delete,
    "Profile.CallbackPortraitSet": _portrait_set,
    "State.StateChange": _login,
}
"""The scenario of each command ``timhooks serve`` sends: the calls that make it send it."""


async def run_scenario(command: str, run: ScenarioRun) -> Step | None:
    """Run ``command``'s scenario: None when every call succeeded, else the call that failed
    (the scenario stops there)."""
    try:
        await SCENARIOS[command](run)
    except _StepFailed as exc:
        return exc.step
    return None
