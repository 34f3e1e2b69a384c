"""The Chat backend's commands: REST (admin) and client actions (users), with their webhooks.

Each command reads its body, checks what needs the database, asks the app through its
before-webhook when one is on (outside any transaction), then commits the change together with
its after-webhooks (``domain``), and wakes the dispatcher.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from timhooks.delivery.dispatcher import Route, attempt_outcome, shown_url
from timhooks.delivery.sender import WebhookSender, WebhookTarget
from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.commands import COMMANDS, CommandSpec
from timhooks.protocol.decisions import Decision, DecisionKind
from timhooks.protocol.errors import ConfigError
from timhooks.protocol.query import Platform
from timhooks.server import domain as dm
from timhooks.server.config import CallbackConfig, FailurePolicy, validate_callback_url
from timhooks.server.domain import ApiError, Call
from timhooks.server.fields import Fields
from timhooks.server.store import App, ServerStore

if TYPE_CHECKING:
    from timhooks.metrics import ServerMetrics

__all__ = ["ChatService", "Command"]

log = logging.getLogger("timhooks.server")

T = TypeVar("T")
Handler = Callable[[Call, Fields], Awaitable[dict[str, Any]]]

_encoder = msgspec.json.Encoder()
ALLOW = Decision()

# Profile limits of Official Accounts (reference 5.1).
_OA_LIMITS = {
    "Name": 150,
    "Introduction": 400,
    "FaceUrl": 500,
    "Organization": 500,
    "CustomString": 3000,
}
_USER_ID_MAX = 32
_INT32 = 2**31 - 1  # the largest count or offset timhooks takes


@dataclass(frozen=True, slots=True)
class Command:
    """A REST path's handler, its bad-parameter code, and whether only admins may call it."""

    handler: Handler
    bad_param: int
    admin: bool = True


class ChatService:
    """The commands of every app, over one store."""

    def __init__(
        self,
        store: ServerStore,
        sender: WebhookSender,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        allow_private_targets: bool = True,
    ) -> None:
        self.store = store
        self.sender = sender
        self.wake = wake
        self.clock = clock
        self.allow_private_targets = allow_private_targets
        self.metrics: ServerMetrics | None = None  # counts before-webhooks (timhooks/metrics.py)
        self.apps: dict[int, App] = {}
        self._users: set[tuple[int, str]] = set()
        oa, grp, acct = RestCode.OA_BAD_PARAM, RestCode.BAD_PARAM, RestCode.ACCOUNT_BAD_PARAM
        self.commands: dict[tuple[str, str], Command] = {
            ("im_open_login_svc", "account_import"): Command(self.account_import, acct),
            ("im_open_login_svc", "multiaccount_import"): Command(self.multiaccount_import, acct),
            **{
                ("official_account_open_http_svc", name): Command(getattr(self, name), oa)
                for name in (
                    "create_official_account",
                    "destroy_official_account",
                    "modify_official_account_base_info",
                    "get_official_account_info",
                    "add_subscriber",
                    "delete_subscriber",
                    "get_subscriber_info",
                    "send_official_account_msg",
                    "official_account_msg_recall",
                )
            },
            **{
                ("group_open_http_svc", name): Command(getattr(self, name), grp)
                for name in (
                    "create_group",
                    "add_group_member",
                    "delete_group_member",
                    "destroy_group",
                    "get_group_info",
                    "get_group_member_info",
                )
            },
            ("timhooks_config", "set_callback"): Command(self.set_callback, grp),
            ("timhooks_config", "get_callback"): Command(self.get_callback, grp),
            # Client actions: a user acting with their own UserSig (timhooks extension).
            **{
                ("timhooks_client", name): Command(handler, bad, admin=False)
                for name, handler, bad in (
                    ("subscribe_official_account", self.client_subscribe, oa),
                    ("unsubscribe_official_account", self.client_unsubscribe, oa),
                    ("send_official_account_msg", self.send_official_account_msg, oa),
                    ("official_account_msg_recall", self.official_account_msg_recall, oa),
                    ("apply_join_group", self.client_apply_join_group, grp),
                    ("handle_join_application", self.client_handle_application, grp),
                    ("invite_group_member", self.client_invite, grp),
                    ("kick_group_member", self.client_kick, grp),
                    ("quit_group", self.client_quit_group, grp),
                )
            },
        }

    # --- plumbing ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the apps from the store."""
        self.apps = await self.store.apps()

    def route(self, app_id: int) -> Route | None:
        """Where an app's after-webhooks go (the dispatcher asks)."""
        app = self.apps.get(app_id)
        if app is None:
            return None
        cfg = app.callback
        target = WebhookTarget(app_id, cfg.url, cfg.token) if cfg.url is not None else None
        return Route(target=target, timeout=cfg.after_timeout, retry=cfg.retry)

    def max_timeout(self) -> float:
        """The longest after-webhook timeout of any app (sizes the dispatcher's lease)."""
        return max((a.callback.after_timeout for a in self.apps.values()), default=2.0)

    async def _tx(self, op: Callable[[dm.Conn], T], key: Hashable | None = None) -> T:
        result = await self.store.run(op, key=key)
        self.wake()
        return result

    async def _before(self, call: Call, model: type[ev.Event], **fields: Any) -> Decision:
        """Ask the app through a before-webhook; apply the failure policy when it cannot answer."""
        spec = COMMANDS[model.command]
        cfg = call.callback
        if not cfg.enabled(spec.name) or cfg.url is None:
            return ALLOW
        body = _encoder.encode(dm.new_event(call, model, **fields).to_wire())
        attempt = await self.sender.post(
            WebhookTarget(call.app_id, cfg.url, cfg.token),
            spec.name,
            body,
            client_ip=call.client_ip,
            platform=call.platform,
            time_limit=cfg.before_timeout,
            spec=spec,
        )
        self.store.record_before(
            sdk_app_id=call.app_id,
            command=spec.name,
            body=body,
            client_ip=call.client_ip,
            platform=call.platform,
            attempt=attempt,
        )
        if self.metrics is not None:
            self.metrics.before_webhook(spec.name, attempt, cfg.failure_policy)
        if attempt.ok and attempt.decision is not None:
            log.info(
                "%s for app %d to %s: HTTP %s in %.0f ms, ErrorCode %d",
                spec.name,
                call.app_id,
                shown_url(cfg.url),
                attempt.status_code,
                attempt.latency_ms,
                attempt.decision.error_code,
            )
            _veto(spec, attempt.decision)
            return attempt.decision
        log.warning(
            "%s for app %d to %s failed: %s; policy: %s",
            spec.name,
            call.app_id,
            shown_url(cfg.url),
            attempt_outcome(attempt, cfg.token),
            cfg.failure_policy,
        )
        if cfg.failure_policy == FailurePolicy.DENY:
            raise ApiError(
                spec.deny_code or RestCode.REFUSED_BY_CALLBACK,
                f"the app backend's webhook failed: {attempt.error}",
            )
        return ALLOW

    async def _join(
        self, call: Call, group_id: str, users: list[str], refused: frozenset[str], join_type: str
    ) -> dict[str, int]:
        try:
            return await self._tx(
                lambda c: dm.join_tx(c, call, group_id, users, refused, join_type),
                dm.group_key(call.app_id, group_id),
            )
        except ApiError as exc:
            if exc.code == RestCode.GROUP_FULL:
                await self._tx(
                    lambda c: dm.group_full_tx(c, call, group_id),
                    dm.group_key(call.app_id, group_id),
                )
            raise

    async def _group_full(self, call: Call, group_id: str) -> ApiError:
        await self._tx(
            lambda c: dm.group_full_tx(c, call, group_id), dm.group_key(call.app_id, group_id)
        )
        return ApiError(RestCode.GROUP_FULL, f"group {group_id!r} is full")

    # --- accounts ---------------------------------------------------------------------------

    def _user_id(self, f: Fields, value: Any, name: str) -> str:
        if not isinstance(value, str) or not value:
            raise f.error(f"{name} must be a non-empty string")
        if len(value.encode()) > _USER_ID_MAX:
            raise f.error(f"{name} is longer than {_USER_ID_MAX} bytes")
        return value

    async def account_import(self, call: Call, f: Fields) -> dict[str, Any]:
        """im_open_login_svc/account_import: one account (UserID, Nick, FaceUrl)."""
        user = self._user_id(f, f.data.get("UserID", f.data.get("Identifier")), "UserID")
        nick = f.text("Nick", max_bytes=500) or ""
        face = f.text("FaceUrl", max_bytes=500) or ""
        await self._tx(lambda c: dm.import_accounts_tx(c, call, [(user, nick, face)]))
        return {}

    async def multiaccount_import(self, call: Call, f: Fields) -> dict[str, Any]:
        """im_open_login_svc/multiaccount_import: up to 100 UserIDs; bad ones in FailAccounts."""
        accounts = f.array("AccountList", max_items=100)
        good = [a for a in accounts if isinstance(a, str) and a and len(a.encode()) <= _USER_ID_MAX]
        failed = [a for a in accounts if a not in good]
        await self._tx(lambda c: dm.import_accounts_tx(c, call, [(u, "", "") for u in good]))
        return {"FailAccounts": failed}

    # --- Official Accounts ------------------------------------------------------------------

    async def create_official_account(self, call: Call, f: Fields) -> dict[str, Any]:
        """Create an OA; BeforeCreateOfficialAccount may veto it (20006 or a custom code)."""
        req = dm.NewOfficialAccount(
            owner=f.req_text("Owner_Account"),
            name=f.req_text("Name", max_bytes=_OA_LIMITS["Name"]),
            oa_id=f.text("OfficialAccountUserID") or None,
            introduction=f.text("Introduction", max_bytes=_OA_LIMITS["Introduction"]) or "",
            face_url=f.text("FaceUrl", max_bytes=_OA_LIMITS["FaceUrl"]) or "",
            organization=f.text("Organization", max_bytes=_OA_LIMITS["Organization"]) or "",
            custom_string=f.text("CustomString", max_bytes=_OA_LIMITS["CustomString"]) or "",
            max_subscriber_num=f.integer("MaxSubscriberNum", default=100000, low=1, high=_INT32)
            or 100000,
        )
        await self.store.run(lambda c: dm.check_create_oa(c, call, req))
        await self._before(
            call,
            ev.BeforeCreateOfficialAccount,
            operator_account=call.operator,
            owner_account=req.owner,
            name=req.name,
        )
        oa_id = await self._tx(lambda c: dm.create_oa_tx(c, call, req))
        return {"OfficialAccountUserID": oa_id}

    async def destroy_official_account(self, call: Call, f: Fields) -> dict[str, Any]:
        """Destroy an OA."""
        oa_id = f.req_text("Official_Account")
        await self._tx(lambda c: dm.destroy_oa_tx(c, call, oa_id), dm.oa_key(call.app_id, oa_id))
        return {}

    async def modify_official_account_base_info(self, call: Call, f: Fields) -> dict[str, Any]:
        """Change an OA's profile; AfterOfficialAccountInfoChanged carries the new values."""
        oa_id = f.req_text("Official_Account")
        changes: dict[str, Any] = {}
        for name, limit in _OA_LIMITS.items():
            value = f.text(name, max_bytes=limit)
            if value is not None:
                if name == "Name" and not value:
                    raise f.error("Name must not be empty")
                changes[name] = value
        most = f.integer("MaxSubscriberNum", low=1, high=_INT32)
        if most is not None:
            changes["MaxSubscriberNum"] = most
        await self._tx(
            lambda c: dm.modify_oa_tx(c, call, oa_id, changes), dm.oa_key(call.app_id, oa_id)
        )
        return {}

    async def get_official_account_info(self, call: Call, f: Fields) -> dict[str, Any]:
        """Profiles of up to 50 OAs."""
        ids = f.accounts("OfficialAccountIdList", "Official_Account", max_items=50)
        items = await self.store.run(lambda c: dm.oa_info(c, call.app_id, ids))
        return {"OfficialAccountInfoList": items}

    async def _subscribe(self, call: Call, oa_id: str, users: list[str]) -> dict[str, int]:
        decision = ALLOW
        # Who the before-webhook would ask about is planned only when it is on: the
        # transaction plans again anyway, under its lock.
        if call.callback.enabled(ev.BeforeAddSubscriber.command):
            plan = await self.store.run(lambda c: dm.plan_subscribe(c, call.app_id, oa_id, users))
            if plan.candidates:
                decision = await self._before(
                    call,
                    ev.BeforeAddSubscriber,
                    official_account=oa_id,
                    operator_account=call.operator,
                    subscribe_account_list=dm.subscriber_list(plan.candidates),
                )
        refused = frozenset(decision.refused)
        return await self._tx(
            lambda c: dm.subscribe_tx(c, call, oa_id, users, refused),
            dm.oa_key(call.app_id, oa_id),
        )

    async def add_subscriber(self, call: Call, f: Fields) -> dict[str, Any]:
        """Subscribe up to 100 users: Result 1 added, 2 already, 0 failed (reference 5.1)."""
        oa_id = f.req_text("Official_Account")
        users = f.accounts("SubscriberList", "Subscriber_Account", max_items=100)
        results = await self._subscribe(call, oa_id, users)
        return {"SubscriberList": _results(results, "Subscriber_Account")}

    async def delete_subscriber(self, call: Call, f: Fields) -> dict[str, Any]:
        """Unsubscribe users: Result 1 removed, 2 not subscribed.

        The doc's sample body says ``SubscriberToDel_Account: [ids]`` while its field table says
        ``SubscriberList[{Subscriber_Account}]`` (reference 5.1); both are accepted.
        """
        oa_id = f.req_text("Official_Account")
        if "SubscriberToDel_Account" in f.data:
            users = f.ids("SubscriberToDel_Account", max_items=100)
        else:
            users = f.accounts("SubscriberList", "Subscriber_Account", max_items=100)
        results = await self._tx(
            lambda c: dm.unsubscribe_tx(c, call, oa_id, users), dm.oa_key(call.app_id, oa_id)
        )
        return {"SubscriberList": _results(results, "Subscriber_Account")}

    async def get_subscriber_info(self, call: Call, f: Fields) -> dict[str, Any]:
        """A page of subscribers; pass the returned ``Next`` to get the next page."""
        oa_id = f.req_text("Official_Account")
        limit = f.integer("Limit", default=200, low=1, high=200) or 200
        cursor = f.text("Next") or ""
        if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
            raise f.error("Next must be the value a previous call returned")
        after = int(cursor or 0)
        items, nxt, total = await self.store.run(
            lambda c: dm.subscriber_page(c, call.app_id, oa_id, limit, after)
        )
        return {"Next": str(nxt) if nxt else "", "SubscriberNum": total, "SubscriberList": items}

    async def send_official_account_msg(self, call: Call, f: Fields) -> dict[str, Any]:
        """Send an OA message; BeforeSendMsg may refuse (10016), discard or rewrite it."""
        oa_id = f.req_text("Official_Account")
        random = f.integer("Random", low=0, high=2**32 - 1)
        body = f.array("MsgBody")
        for i, element in enumerate(body):
            if not isinstance(element, dict) or not isinstance(element.get("MsgType"), str):
                raise f.error(f"MsgBody[{i}] must be an object with a MsgType string")
        msg = dm.OAMessage(
            oa_id=oa_id,
            random=secrets.randbits(32) if random is None else random,
            msg_body=tuple(body),
            cloud_custom_data=f.text("CloudCustomData") or "",
            online_only=f.integer("OnlineOnlyFlag", default=0, low=0, high=1) or 0,
        )
        forbid: set[str] = set(f.ids("ForbidCallbackControl", required=False))
        await self.store.run(lambda c: dm.require_oa_owner(c, call, oa_id))
        if "ForbidBeforeSendMsgCallback" not in forbid:
            decision = await self._before(
                call,
                ev.BeforeSendMsg,
                official_account=oa_id,
                online_only_flag=msg.online_only,
                msg_body=msg.msg_body,
                cloud_custom_data=msg.cloud_custom_data,
            )
            if decision.kind is DecisionKind.DISCARD:
                # Discarded silently: the sender sees success (reference 3.9).
                return {"MsgTime": call.seconds, "MsgKey": f"0_{msg.random}_{call.seconds}"}
            msg = dataclasses.replace(
                msg,
                msg_body=decision.msg_body if decision.msg_body is not None else msg.msg_body,
                cloud_custom_data=decision.cloud_custom_data
                if decision.cloud_custom_data is not None
                else msg.cloud_custom_data,
            )
        msg = dataclasses.replace(msg, after_callback="ForbidAfterSendMsgCallback" not in forbid)
        key, when = await self._tx(
            lambda c: dm.send_msg_tx(c, call, msg), dm.oa_key(call.app_id, msg.oa_id)
        )
        return {"MsgTime": when, "MsgKey": key}

    async def official_account_msg_recall(self, call: Call, f: Fields) -> dict[str, Any]:
        """Recall up to 10 OA messages by MsgKey."""
        oa_id = f.req_text("Official_Account")
        keys = f.ids("MsgKeyList", max_items=10)
        f.text("Reason", max_bytes=100)
        results = await self._tx(
            lambda c: dm.recall_tx(c, call, oa_id, keys), dm.oa_key(call.app_id, oa_id)
        )
        return {"RecallRetList": results}

    # --- groups -----------------------------------------------------------------------------

    async def create_group(self, call: Call, f: Fields) -> dict[str, Any]:
        """Create a group; BeforeCreateGroup may veto it (10016 or a custom code)."""
        raw_type = f.req_text("Type")
        gtype = dm.GROUP_TYPES.get(dm.GROUP_TYPE_ALIASES.get(raw_type, raw_type))
        if gtype is None:
            names = ", ".join([*dm.GROUP_TYPES, *dm.GROUP_TYPE_ALIASES])
            raise f.error(f"Type must be one of {names}, got {raw_type!r}")
        members = f.accounts("MemberList", "Member_Account", max_items=500, required=False)
        if gtype.name == "AVChatRoom" and members:
            raise ApiError(RestCode.NO_PERMISSION, "an AVChatRoom cannot be created with members")
        most = f.integer("MaxMemberCount", low=1, high=gtype.cap or None)
        limit = 0 if gtype.cap == 0 else (most or gtype.default_max)
        apply = f.text("ApplyJoinOption") or gtype.default_apply
        if apply not in dm.APPLY_OPTIONS:
            raise f.error(f"ApplyJoinOption must be one of {', '.join(dm.APPLY_OPTIONS)}")
        owner = f.text("Owner_Account") or ""
        headcount = len(set(members) | ({owner} if owner else set()))
        if limit and headcount > limit:
            raise f.error(f"MemberList holds {headcount} people, more than MaxMemberCount {limit}")
        defined = f.array("AppDefinedData", required=False)
        pairs: list[tuple[str, str]] = []
        for i, item in enumerate(defined):
            if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
                raise f.error(f"AppDefinedData[{i}] must be an object with a Key string")
            pairs.append((item["Key"], str(item.get("Value", ""))))
        req = dm.NewGroup(
            type=gtype.name,
            name=f.req_text("Name"),
            owner=owner,
            group_id=f.text("GroupId") or None,
            introduction=f.text("Introduction") or "",
            notification=f.text("Notification") or "",
            face_url=f.text("FaceUrl") or "",
            max_member_count=limit,
            apply_join_option=apply,
            members=tuple(members),
            user_defined=tuple(pairs),
        )
        created = await self.store.run(lambda c: dm.check_create_group(c, call, req))
        await self._before(
            call,
            ev.BeforeCreateGroup,
            operator_account=call.operator,
            owner_account=req.owner,
            type=req.type,
            name=req.name,
            create_group_num=created,
            member_list=dm.member_list(req.members),
        )
        group_id = await self._tx(lambda c: dm.create_group_tx(c, call, req))
        return {"GroupId": group_id}

    async def _invite(self, call: Call, group_id: str, users: list[str]) -> dict[str, Any]:
        plan = await self.store.run(lambda c: dm.plan_join(c, call, group_id, users))
        if plan.group["type"] == "AVChatRoom":
            raise ApiError(RestCode.NO_PERMISSION, "an AVChatRoom has no invitations")
        if plan.candidates and plan.room == 0:
            raise await self._group_full(call, group_id)
        decision = ALLOW
        if plan.candidates:
            decision = await self._before(
                call,
                ev.BeforeInviteJoinGroup,
                group_id=group_id,
                type=plan.group["type"],
                operator_account=call.operator,
                destination_members=dm.member_list(plan.candidates),
            )
        results = await self._join(call, group_id, users, frozenset(decision.refused), "Invited")
        return {"MemberList": _results(results, "Member_Account")}

    async def add_group_member(self, call: Call, f: Fields) -> dict[str, Any]:
        """Add up to 300 members: Result 1 added, 2 already, 0 failed; 10014 when full."""
        group_id = f.req_text("GroupId")
        users = f.accounts("MemberList", "Member_Account", max_items=300)
        f.integer("Silence", low=0, high=1)
        return await self._invite(call, group_id, users)

    async def delete_group_member(self, call: Call, f: Fields) -> dict[str, Any]:
        """Remove up to 100 members (not the owner); succeeds for non-members too."""
        group_id = f.req_text("GroupId")
        users = f.ids("MemberToDel_Account", max_items=100)
        f.integer("Silence", low=0, high=1)
        f.text("Reason")
        group = await self.store.run(lambda c: dm.group_row(c, call.app_id, group_id))
        if group["type"] == "AVChatRoom":
            raise f.error("an AVChatRoom has no member removal")
        await self._tx(
            lambda c: dm.leave_tx(c, call, group_id, users, "Kicked"),
            dm.group_key(call.app_id, group_id),
        )
        return {}

    async def destroy_group(self, call: Call, f: Fields) -> dict[str, Any]:
        """Dismiss a group."""
        group_id = f.req_text("GroupId")
        await self._tx(
            lambda c: dm.destroy_group_tx(c, call, group_id), dm.group_key(call.app_id, group_id)
        )
        return {}

    async def get_group_info(self, call: Call, f: Fields) -> dict[str, Any]:
        """Profiles of up to 50 groups."""
        ids = f.ids("GroupIdList", max_items=50)
        items = await self.store.run(lambda c: dm.group_info(c, call.app_id, ids))
        return {"GroupInfo": items}

    async def get_group_member_info(self, call: Call, f: Fields) -> dict[str, Any]:
        """A page of a group's members (Limit, Offset)."""
        group_id = f.req_text("GroupId")
        limit = f.integer("Limit", default=100, low=1, high=6000) or 100
        offset = f.integer("Offset", default=0, low=0, high=_INT32) or 0
        items, total = await self.store.run(
            lambda c: dm.member_page(c, call.app_id, group_id, limit, offset)
        )
        return {"MemberNum": total, "MemberList": items}

    # --- webhook configuration (timhooks extension) -----------------------------------------

    async def set_callback(self, call: Call, f: Fields) -> dict[str, Any]:
        """Change the app's webhook settings: Url, Token, CallbackCommandList, timeouts, retry."""
        try:
            cfg = await self.configure_callback(call.app_id, f.data)
        except ConfigError as exc:
            raise f.error(str(exc)) from None
        return {"Callback": cfg.to_wire()}

    async def configure_callback(self, app_id: int, data: dict[str, Any]) -> CallbackConfig:
        """Apply ``set_callback``'s fields to an app's webhook settings, check and store them
        (``set_callback`` and the console's settings page); ConfigError naming a bad field."""
        app = self.apps[app_id]
        cfg = CallbackConfig.from_wire(data, app.callback)
        if cfg.url is not None:
            validate_callback_url(cfg.url, allow_private=self.allow_private_targets)
        await self.store.set_callback(app_id, cfg)
        self.apps[app_id] = dataclasses.replace(app, callback=cfg)
        return cfg

    async def get_callback(self, call: Call, f: Fields) -> dict[str, Any]:
        """The app's webhook settings (the token is never shown)."""
        return {"Callback": self.apps[call.app_id].callback.to_wire()}

    # --- client actions (timhooks extension) ------------------------------------------------

    async def client_subscribe(self, call: Call, f: Fields) -> dict[str, Any]:
        """The user subscribes to an OA: Result 1 subscribed, 2 already, 0 refused or full."""
        oa_id = f.req_text("Official_Account")
        results = await self._subscribe(call, oa_id, [call.operator])
        return {"Result": results[call.operator]}

    async def client_unsubscribe(self, call: Call, f: Fields) -> dict[str, Any]:
        """The user unsubscribes: Result 1 removed, 2 was not subscribed."""
        oa_id = f.req_text("Official_Account")
        results = await self._tx(
            lambda c: dm.unsubscribe_tx(c, call, oa_id, [call.operator]),
            dm.oa_key(call.app_id, oa_id),
        )
        return {"Result": results[call.operator]}

    async def client_apply_join_group(self, call: Call, f: Fields) -> dict[str, Any]:
        """The user asks to join: joined at once (FreeAccess) or waiting for approval."""
        group_id = f.req_text("GroupId")
        user = call.operator
        plan = await self.store.run(lambda c: dm.plan_join(c, call, group_id, [user]))
        if user in plan.already:
            raise ApiError(RestCode.ALREADY_MEMBER, "you are already a member of this group")
        option = plan.group["apply_join_option"]
        if option == "DisableApply":
            raise ApiError(RestCode.NO_PERMISSION, "this group does not take applications")
        if plan.room == 0:
            raise await self._group_full(call, group_id)
        await self._before(
            call,
            ev.BeforeApplyJoinGroup,
            group_id=group_id,
            type=plan.group["type"],
            requestor_account=user,
        )
        if option == "NeedPermission":
            await self._tx(
                lambda c: dm.apply_tx(c, call, group_id), dm.group_key(call.app_id, group_id)
            )
            return {"JoinStatus": "WaitingApproval"}
        await self._join(call, group_id, [user], frozenset(), "Apply")
        return {"JoinStatus": "JoinedSuccess"}

    async def client_handle_application(self, call: Call, f: Fields) -> dict[str, Any]:
        """An owner or admin approves or refuses a pending application."""
        group_id = f.req_text("GroupId")
        applicant = f.req_text("Applicant_Account")
        approve = f.data.get("Approve", True)
        if not isinstance(approve, bool):
            raise f.error("Approve must be true or false")
        if not approve:
            await self._tx(
                lambda c: dm.take_application_tx(c, call, group_id, applicant),
                dm.group_key(call.app_id, group_id),
            )
            return {}

        def op(c: dm.Conn) -> dict[str, int]:
            dm.take_application_tx(c, call, group_id, applicant)
            return dm.join_tx(c, call, group_id, [applicant], frozenset(), "Apply")

        try:
            await self._tx(op, dm.group_key(call.app_id, group_id))
        except ApiError as exc:
            if exc.code == RestCode.GROUP_FULL:
                await self._tx(
                    lambda c: dm.group_full_tx(c, call, group_id),
                    dm.group_key(call.app_id, group_id),
                )
            raise
        return {}

    async def _require_role(self, call: Call, group_id: str, roles: tuple[str, ...]) -> str:
        def op(c: dm.Conn) -> str:
            dm.group_row(c, call.app_id, group_id)
            role = dm.role_of(c, call.app_id, group_id, call.operator)
            if role is None:
                raise ApiError(RestCode.NO_PERMISSION, "you are not a member of this group")
            if role not in roles:
                raise ApiError(RestCode.NO_PERMISSION, f"only {' or '.join(roles)} may do this")
            return role

        return await self.store.run(op)

    async def client_invite(self, call: Call, f: Fields) -> dict[str, Any]:
        """A member invites users (any member of a Private group; owner or admin elsewhere)."""
        group_id = f.req_text("GroupId")
        users = f.accounts("MemberList", "Member_Account", max_items=300)
        group = await self.store.run(lambda c: dm.group_row(c, call.app_id, group_id))
        roles = ("Owner", "Admin", "Member") if group["type"] == "Private" else ("Owner", "Admin")
        await self._require_role(call, group_id, roles)
        return await self._invite(call, group_id, users)

    async def client_kick(self, call: Call, f: Fields) -> dict[str, Any]:
        """The owner or an admin removes members (ExitType Kicked)."""
        group_id = f.req_text("GroupId")
        users = f.ids("MemberToDel_Account", max_items=100)
        await self._require_role(call, group_id, ("Owner", "Admin"))
        await self._tx(
            lambda c: dm.leave_tx(c, call, group_id, users, "Kicked"),
            dm.group_key(call.app_id, group_id),
        )
        return {}

    async def client_quit_group(self, call: Call, f: Fields) -> dict[str, Any]:
        """The user leaves a group (ExitType Quit); the owner cannot."""
        group_id = f.req_text("GroupId")
        role = await self._require_role(call, group_id, ("Admin", "Member", "Owner"))
        if role == "Owner":
            raise f.error("the group owner cannot quit the group")
        await self._tx(
            lambda c: dm.leave_tx(c, call, group_id, [call.operator], "Quit"),
            dm.group_key(call.app_id, group_id),
        )
        return {}

    # --- calls ------------------------------------------------------------------------------

    async def ensure_user(self, app: App, user: str) -> None:
        """A user acting through the client exists from then on, as after an SDK login."""
        if (app.sdk_app_id, user) in self._users:
            return
        if len(user.encode()) > _USER_ID_MAX:
            raise ApiError(
                RestCode.ACCOUNT_BAD_PARAM, f"UserID is longer than {_USER_ID_MAX} bytes"
            )
        call = self.call(app, user, "", Platform.UNKNOWN, rest=False)
        await self.store.run(
            lambda c: c.execute(
                "INSERT INTO accounts (sdk_app_id, user_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (call.app_id, user, call.now),
            )
        )
        self._users.add((app.sdk_app_id, user))

    def call(
        self, app: App, operator: str, client_ip: str, platform: Platform | str, *, rest: bool
    ) -> Call:
        """The context of one request: ``rest`` for the admin REST API, else a client action."""
        return Call(
            app_id=app.sdk_app_id,
            operator=operator,
            client_ip=client_ip,
            platform=str(platform),
            callback=app.callback,
            now=self.clock(),
            rest=rest,
        )


def _veto(spec: CommandSpec, decision: Decision) -> None:
    """Raise the caller-visible error of a refusing decision (reference 3.1, 3.9, 4.1-4.4).

    A code the command does not allow counts as a plain deny: the app meant to refuse.
    """
    kind = decision.kind
    if kind is DecisionKind.ALLOW or (kind is DecisionKind.DISCARD and kind in spec.decisions):
        return
    if kind is DecisionKind.REJECT and spec.in_custom_range(decision.error_code):
        raise ApiError(decision.error_code, decision.error_info)
    info = decision.error_info or f"refused by the app backend ({spec.name})"
    raise ApiError(spec.deny_code or RestCode.REFUSED_BY_CALLBACK, info)


def _results(results: dict[str, int], key: str) -> list[dict[str, Any]]:
    return [{key: user, "Result": result} for user, result in results.items()]
