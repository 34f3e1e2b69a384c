"""The registry of every CallbackCommand timhooks knows, and total parsing of webhook bodies.

One entry per command, the one place each fact about it lives: its name (the model's
``command``), before or after (the model's base class), its model, and for the commands answered
inline the decisions it allows, the REST error code its caller sees on a plain deny, the range of
custom codes the app may pass through, and whether it may discard or rewrite the message, refuse
some users, answer per recipient, or reply. The 59 commands are those of Tencent's webhook
documents; ``README.md`` lists them by group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol._answers import (
    decode_reason,
    encode_results,
    int_field,
    json_type,
    result_items,
    str_field,
)
from timhooks.protocol.codes import RestCode, WebhookCode
from timhooks.protocol.decisions import ACK_BODY, Decision, DecisionKind
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import (
    CommandMismatch,
    ConfigError,
    MalformedRequest,
    MalformedResponse,
)
from timhooks.protocol.events.base import convert

__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Phase",
    "get_command",
    "parse_event",
]


class Phase(StrEnum):
    """Before-webhooks are answered inline and the answer decides (a veto, a rewrite, a reply);
    after-webhooks only report ("Webhook Overview", https://trtc.io/document/34354)."""

    BEFORE = "before"
    AFTER = "after"


_REFUSE_SUBSCRIBERS = "RefusedSubscribers_Account"
_REFUSE_MEMBERS = "RefusedMembers_Account"
# The BeforeAddSubscriber page's prose says RefusedMembers_Account while its sample says
# RefusedSubscribers_Account ("Before Official Channel Is Subscribed",
# https://trtc.io/document/60799): answers with either are accepted.
_REFUSAL_ALIASES = (_REFUSE_SUBSCRIBERS, _REFUSE_MEMBERS)

# Custom codes passed through to the caller: [120001, 130000] for OA creation, OA and one-to-one
# messages (https://trtc.io/document/60795, 60803, 34364); [10100, 10200] for group creation,
# joins, invitations, group messages and topics (https://trtc.io/document/34368, 34374, 49463).
_MSG_CUSTOM = (120001, 130000)
_GROUP_CUSTOM = (10100, 10200)
# Per-recipient ResultCodes of the friend-request webhooks (https://trtc.io/document/43468).
_FRIEND_RESULTS = (38000, 39000)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What the protocol says about one CallbackCommand.

    ``result_range`` is set for the commands answered per recipient (``ResultItem``);
    ``replies`` for the one whose answer carries data back (``RspData``).
    """

    name: str
    phase: Phase
    model: type[ev.Event]
    decisions: frozenset[DecisionKind] = frozenset()
    deny_code: RestCode | None = None
    custom_range: tuple[int, int] | None = None
    refusal_field: str | None = None
    rewrites: bool = False
    result_range: tuple[int, int] | None = None
    replies: bool = False
    wire_fields: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def is_before(self) -> bool:
        """True for a webhook answered inline, whose answer decides."""
        return self.phase is Phase.BEFORE

    @property
    def group(self) -> str:
        """The command's group: the part before the dot (``C2C``, ``Group``, ``Sns`` ...)."""
        return self.name.partition(".")[0]

    def check(self, decision: Decision) -> None:
        """Raise ConfigError unless ``decision`` is a valid answer to this command."""
        if not self.is_before:
            raise ConfigError(f"{self.name} is an after-webhook: its answer cannot decide anything")
        kind = decision.kind
        if kind not in self.decisions:
            if kind is DecisionKind.REJECT:
                raise ConfigError(self._range_message(decision.error_code))
            raise ConfigError(f"{self.name} does not allow the decision {kind.value!r}")
        if kind is DecisionKind.REJECT and not self.in_custom_range(decision.error_code):
            raise ConfigError(self._range_message(decision.error_code))
        if decision.refused and self.refusal_field is None and self.result_range is None:
            raise ConfigError(f"{self.name} does not allow refusing some users")
        if decision.refused and kind is not DecisionKind.ALLOW:
            raise ConfigError("a partial refusal goes with ErrorCode 0 only")
        if decision.results:
            self._check_results(decision)
        rewriting = decision.msg_body is not None or decision.cloud_custom_data is not None
        if rewriting and not self.rewrites:
            raise ConfigError(f"{self.name} does not allow rewriting the message")
        if rewriting and kind is not DecisionKind.ALLOW:
            raise ConfigError("a rewrite goes with ErrorCode 0 only")
        if decision.rsp_data is not None and not self.replies:
            raise ConfigError(f"{self.name} takes no reply data (RspData)")
        if decision.rsp_data is not None and kind is not DecisionKind.ALLOW:
            raise ConfigError("a reply goes with ErrorCode 0 only")

    def _check_results(self, decision: Decision) -> None:
        if self.result_range is None:
            raise ConfigError(f"{self.name} takes no per-recipient results (ResultItem)")
        if decision.kind is not DecisionKind.ALLOW:
            raise ConfigError("per-recipient results go with ErrorCode 0 only")
        low, high = self.result_range
        for item in decision.results:
            if item.result_code != 0 and not low <= item.result_code <= high:
                raise ConfigError(
                    f"{self.name} ResultCode for {item.to_account!r} must be 0 or in"
                    f" [{low}, {high}] (got {item.result_code})"
                )

    def in_custom_range(self, code: int) -> bool:
        """True if ``code`` is one the app may pass through to the caller."""
        return (
            self.custom_range is not None and self.custom_range[0] <= code <= self.custom_range[1]
        )

    def _range_message(self, code: int) -> str:
        if self.custom_range is None:
            return f"{self.name} takes no custom error codes (got {code})"
        low, high = self.custom_range
        return f"{self.name} custom error codes must be in [{low}, {high}] (got {code})"

    def encode(self, decision: Decision, event: ev.Event | None = None) -> bytes:
        """The JSON answer Tencent expects for ``decision`` (checked first).

        The per-recipient commands answer for every recipient of ``event`` (those the decision
        does not name are allowed), so they need it; the others ignore it.
        """
        self.check(decision)
        if self.result_range is not None:
            return encode_results(decision, event, self.result_range[0])
        if decision == Decision() and not self.replies:
            return ACK_BODY
        body: dict[str, Any] = {
            "ActionStatus": "OK",
            "ErrorInfo": decision.error_info,
            "ErrorCode": decision.error_code,
        }
        if decision.refused and self.refusal_field is not None:
            body[self.refusal_field] = list(decision.refused)
        if decision.msg_body is not None:
            body["MsgBody"] = list(decision.msg_body)
        if decision.cloud_custom_data is not None:
            body["CloudCustomData"] = decision.cloud_custom_data
        if self.replies:
            body["RspData"] = decision.rsp_data or ""  # required, even on a failure
        return encode_json(body)

    def parse_response(self, body: bytes) -> Decision:
        """Read an app backend's answer into a Decision; MalformedResponse if it is not one.

        Tencent counts a non-JSON body as a failed call ("Webhook Overview",
        https://trtc.io/document/34354). A code this command does not allow is returned as it
        is; what to do with it is the caller's policy.
        """
        try:
            data = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"answer is not valid JSON: {decode_reason(exc)}") from None
        if not isinstance(data, dict):
            raise MalformedResponse(f"answer must be a JSON object, got {json_type(data)}")
        code = int_field(data, "ErrorCode")
        info = str_field(data, "ErrorInfo") or ""
        refused: tuple[str, ...] = ()
        for name in _REFUSAL_ALIASES:
            value = data.get(name)
            if value is not None:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise MalformedResponse(f"answer field {name} must be an array of strings")
                refused += tuple(value)
        msg_body = data.get("MsgBody")
        if msg_body is not None and (
            not isinstance(msg_body, list) or not all(isinstance(e, dict) for e in msg_body)
        ):
            raise MalformedResponse("answer field MsgBody must be an array of objects")
        ccd = data.get("CloudCustomData")
        if ccd is not None and not isinstance(ccd, str):
            raise MalformedResponse("answer field CloudCustomData must be a string")
        results = result_items(data) if self.result_range is not None else ()
        # RspData is ignored on a failure ("Chatbot Passthrough Message Callback").
        rsp_data = str_field(data, "RspData") if self.replies else None
        if code != WebhookCode.ALLOW:
            rsp_data = None
        return Decision(
            error_code=code,
            error_info=info,
            refused=refused if code == WebhookCode.ALLOW else (),
            msg_body=tuple(msg_body) if msg_body is not None and self.rewrites else None,
            cloud_custom_data=ccd if self.rewrites else None,
            results=results,
            rsp_data=rsp_data,
        )


def _wire_names(model: type[ev.Event]) -> frozenset[str]:
    names = {f.encode_name for f in msgspec.structs.fields(model)} | set(model.wire_aliases)
    return frozenset(names - {ev.EXTRA_KEY})


def _spec(
    model: type[ev.Event],
    *,
    decisions: tuple[DecisionKind, ...] = (),
    deny_code: RestCode | None = None,
    custom_range: tuple[int, int] | None = None,
    refusal_field: str | None = None,
    rewrites: bool = False,
    result_range: tuple[int, int] | None = None,
    replies: bool = False,
) -> CommandSpec:
    phase = Phase.BEFORE if issubclass(model, ev.BeforeEvent) else Phase.AFTER
    if (phase is Phase.BEFORE) != bool(decisions):
        raise ConfigError(f"{model.command}: only a command answered inline has decisions")
    return CommandSpec(
        name=model.command,
        phase=phase,
        model=model,
        decisions=frozenset(decisions),
        deny_code=deny_code,
        custom_range=custom_range,
        refusal_field=refusal_field,
        rewrites=rewrites,
        result_range=result_range,
        replies=replies,
        wire_fields=_wire_names(model),
    )


_A, _D, _R, _X = DecisionKind.ALLOW, DecisionKind.DENY, DecisionKind.REJECT, DecisionKind.DISCARD
_REFUSED = RestCode.REFUSED_BY_CALLBACK  # 10016
_MSG_REFUSED = RestCode.MSG_REFUSED_BY_CALLBACK  # 20006


def _group_before(model: type[ev.Event], **rules: Any) -> CommandSpec:
    """A group or topic before-webhook: deny gives 10016, custom codes in [10100, 10200]."""
    return _spec(
        model, decisions=(_A, _D, _R), deny_code=_REFUSED, custom_range=_GROUP_CUSTOM, **rules
    )


_SPECS = (
    # --- OfficialAccount (https://trtc.io/document/60795 to 60805) ---
    _spec(
        ev.BeforeCreateOfficialAccount,
        decisions=(_A, _D, _R),
        deny_code=RestCode.CREATE_REFUSED_BY_CALLBACK,
        custom_range=_MSG_CUSTOM,
    ),
    _spec(ev.AfterCreateOfficialAccount),
    _spec(ev.AfterOfficialAccountInfoChanged),
    _spec(ev.AfterOfficialAccountDestroyed),
    # The docs name no caller-visible code and no custom range for BeforeAddSubscriber;
    # timhooks answers a deny with 10016, Tencent's generic "refused by the app backend".
    _spec(
        ev.BeforeAddSubscriber,
        decisions=(_A, _D),
        deny_code=_REFUSED,
        refusal_field=_REFUSE_SUBSCRIBERS,
    ),
    _spec(ev.AfterAddSubscriber),
    _spec(ev.AfterOfficialAccountFull),
    _spec(ev.AfterDeleteSubscriber),
    _spec(
        ev.BeforeSendMsg,
        decisions=(_A, _D, _R, _X),
        deny_code=_REFUSED,
        custom_range=_MSG_CUSTOM,
        rewrites=True,
    ),
    _spec(ev.AfterSendMsg),
    _spec(ev.AfterMsgWithDraw),
    # --- Group: creation and membership (https://trtc.io/document/34368 to 34376) ---
    _group_before(ev.BeforeCreateGroup),
    _spec(ev.AfterCreateGroup),
    _group_before(ev.BeforeApplyJoinGroup),
    _group_before(ev.BeforeInviteJoinGroup, refusal_field=_REFUSE_MEMBERS),
    _spec(ev.AfterNewMemberJoin),
    _spec(ev.AfterMemberExit),
    _spec(ev.AfterGroupFull),
    # --- Group: the group's life ---
    _spec(ev.AfterGroupDestroyed),
    _spec(ev.AfterGroupInfoChanged),
    _spec(ev.OnMemberStateChange),
    _spec(ev.AfterMemberFieldChanged),
    _spec(ev.AfterGroupAttrChanged),
    _spec(ev.AfterChangeGroupOwner),
    _spec(ev.OnDailyGroupQuotaAlarm),
    # --- Group: messages (https://tencentcloud.com/document/product/1047/34374) ---
    _spec(
        ev.GroupBeforeSendMsg,
        decisions=(_A, _D, _R, _X),
        deny_code=_REFUSED,
        custom_range=_GROUP_CUSTOM,
        rewrites=True,
    ),
    _spec(ev.GroupAfterSendMsg),
    _spec(ev.GroupSendMsgException),  # its answer is fixed: OK, 0, ""
    _spec(ev.AfterRecallMsg),
    _spec(ev.AfterGroupMsgExtension),
    _spec(ev.GroupAfterModifyMsg),
    _spec(ev.AfterReadReceipt),
    # --- Group: Community topics (https://tencentcloud.com/document/product/1047/49463) ---
    _group_before(ev.BeforeCreateTopic),
    _spec(ev.AfterCreateTopic),
    _spec(ev.AfterTopicDestroyed),
    _spec(ev.AfterTopicInfoChanged),
    # --- C2C (https://trtc.io/document/34364): ErrorCode 1 gives the sender 20006 ---
    _spec(
        ev.C2CBeforeSendMsg,
        decisions=(_A, _D, _R, _X),
        deny_code=_MSG_REFUSED,
        custom_range=_MSG_CUSTOM,
        rewrites=True,
    ),
    _spec(ev.C2CAfterSendMsg),
    _spec(ev.C2CAfterMsgReport),
    _spec(ev.C2CAfterMsgWithDraw),
    _spec(ev.AfterC2CMsgExtension),
    _spec(ev.C2CAfterModifyMsg),
    # --- Sns: friends and blocklist (https://trtc.io/document/43468, 43467, 34359 to 34362) ---
    _spec(ev.PrevFriendAdd, decisions=(_A, _D), result_range=_FRIEND_RESULTS),
    _spec(ev.PrevFriendResponse, decisions=(_A, _D), result_range=_FRIEND_RESULTS),
    _spec(ev.FriendAdd),
    _spec(ev.FriendDelete),
    _spec(ev.BlackListAdd),
    _spec(ev.BlackListDelete),
    # --- Follow (https://trtc.io/document/70355, 70356) ---
    _spec(ev.AfterFollowAdd),
    _spec(ev.AfterFollowDelete),
    # --- State and Profile (https://www.tencentcloud.com/document/product/1047/34357, 48733) ---
    _spec(ev.StateChange),
    _spec(ev.PortraitSet),
    # --- Chatbots (https://tencentcloud.com/document/product/1047/68952, 68953, 59057) ---
    _spec(ev.BotOnC2CMessage),
    _spec(ev.BotOnGroupMessage),
    _spec(ev.ChatbotOnC2CSignalMessage, decisions=(_A, _D), replies=True),
    # --- Moderation, push, alerts (1047/78240, 67552, 67551, 60256) ---
    _spec(ev.ResultNotify),
    _spec(ev.OfflinePush),
    _spec(ev.AllMemberPush),
    _spec(ev.RequestOverLimit),
)

COMMANDS: Mapping[str, CommandSpec] = {s.name: s for s in _SPECS}
"""Every known CallbackCommand by its wire name."""

if len(COMMANDS) != len(_SPECS):  # a model listed twice, or two models with one name
    raise ConfigError("the command registry lists a command twice")


def get_command(name: str) -> CommandSpec | None:
    """The spec of a CallbackCommand, or None if timhooks does not know it."""
    return COMMANDS.get(name)


def parse_event(body: bytes | str, *, command: str | None = None) -> ev.Event:
    """Parse a webhook body into its typed event.

    Total: any input gives an Event or raises MalformedRequest (CommandMismatch when ``command``,
    the query's CallbackCommand, differs from the body's). An unknown command gives UnknownEvent.
    The bodies that carry no CallbackCommand (ContentCallback.ResultNotify, the push batches)
    take the query's; a push batch's own command is also read from its events.
    """
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"body is not valid JSON: {decode_reason(exc)}") from None
    if not isinstance(data, dict):
        raise MalformedRequest(f"body must be a JSON object, got {json_type(data)}")
    name = data.get("CallbackCommand")
    if name is None:
        name = _implied_command(data, command)
    if not isinstance(name, str) or not name:
        raise MalformedRequest("body has no CallbackCommand string")
    if command is not None and command != name:
        raise CommandMismatch(f"query CallbackCommand {command!r} differs from the body's {name!r}")
    spec = COMMANDS.get(name)
    model = spec.model if spec is not None else ev.UnknownEvent
    if model.items_field is not None:
        _check_items(data.get(model.items_field), name)
    data["CallbackCommand"] = name
    try:
        return convert(data, model)
    except (msgspec.ValidationError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise MalformedRequest(f"{name}: {reason}") from None


def _implied_command(data: dict[str, Any], command: str | None) -> str | None:
    """The command of a body that does not name its own, or None."""
    if command is not None:
        spec = COMMANDS.get(command)
        return command if spec is not None and not spec.model.body_has_command else None
    # Without the query: a push batch names its command in each event.
    items = data.get("Events")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        first = items[0].get("CallbackCommand")
        spec = COMMANDS.get(first) if isinstance(first, str) else None
        if spec is not None and spec.model.items_field is not None:
            return spec.name
    return None


def _check_items(items: Any, name: str) -> None:
    """Each event of a batch must be of the batch's command (or name none)."""
    if not isinstance(items, list):
        return
    for item in items:
        own = item.get("CallbackCommand") if isinstance(item, dict) else None
        if own is not None and own != name:
            raise CommandMismatch(f"a {name} batch holds an event of {own!r}")
