"""The REST calls that make ``timhooks serve`` send each webhook it can send.

``timhooks trigger COMMAND --via-server URL`` runs the scenario of COMMAND against a running
server, so the webhook comes from a real change, the way ``stripe trigger`` creates real objects:
every scenario imports fresh users and creates its own Official Account or group (names carry a
random tag), then makes the one call that sends the webhook. Which call sends which webhook is
the README's REST and client-action tables.
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
LOGIN = "im_open_login_svc"
_TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello from timhooks trigger"}}]


@dataclass(frozen=True, slots=True)
class Step:
    """One REST call of a scenario and its answer."""

    command: str
    identifier: str
    body: Mapping[str, Any]
    answer: Mapping[str, Any]
    final: bool

    @property
    def ok(self) -> bool:
        """The call succeeded (ErrorCode 0)."""
        return self.answer.get("ErrorCode") == 0

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
        self, command: str, body: Mapping[str, Any], *, final: bool = False
    ) -> Mapping[str, Any]:
        """A REST call as the admin; the scenario stops unless it succeeds."""
        answer = await self.rest.call(command, body)
        return self._record(Step(command, self.rest.admin, body, answer, final))

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

    async def group(self, **fields: Any) -> str:
        """A Public group owned by a fresh user; its ID."""
        [owner] = await self.users("owner")
        body = {"Owner_Account": owner, "Type": "Public", "Name": f"trigger_{self.tag}", **fields}
        answer = await self.admin(f"{GROUP}/create_group", body)
        return str(answer["GroupId"])


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
