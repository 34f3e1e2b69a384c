"""What every REST command's handler is given: the ``ChatService``, and the ``Call`` it serves.

A handler reads its body (``timhooks.server.bodies``), checks what needs the database
(``read``), asks the app through its before-webhook when one is on (``ask``, outside any
transaction), then commits the change together with its after-webhooks (``change``), which wakes
the dispatcher. The handlers live with their concept (``accounts``, ``official_accounts`` ...);
``timhooks.server.registry`` gathers them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from timhooks.delivery.dispatcher import attempt_outcome, shown_url
from timhooks.delivery.sender import WebhookSender, WebhookTarget
from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.commands import COMMANDS, CommandSpec
from timhooks.protocol.decisions import ALLOW, Decision, DecisionKind
from timhooks.protocol.encoding import encode_json
from timhooks.protocol.errors import RestError
from timhooks.protocol.query import Platform
from timhooks.server.apps import App, AppRegistry
from timhooks.server.calls import Call, new_event
from timhooks.server.config import CallbackConfig, FailurePolicy, validate_callback_url
from timhooks.server.store import ServerStore
from timhooks.storage.engine import Connection

if TYPE_CHECKING:
    from timhooks.metrics import ServerMetrics

__all__ = ["ChatService"]

log = logging.getLogger("timhooks.server")

T = TypeVar("T")


class ChatService:
    """The commands' shared means, over one store: reads, changes, before-webhooks, calls."""

    def __init__(
        self,
        store: ServerStore,
        sender: WebhookSender,
        apps: AppRegistry,
        *,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        allow_private_targets: bool = True,
    ) -> None:
        self.store = store
        self.sender = sender
        self.apps = apps
        self.wake = wake
        self.clock = clock
        self.allow_private_targets = allow_private_targets
        # Users known to exist, as after their first client action (``accounts.ensure_user``).
        self.users: set[tuple[int, str]] = set()
        self.metrics: ServerMetrics | None = None  # counts before-webhooks (timhooks/metrics.py)

    async def read(self, op: Callable[[Connection], T]) -> T:
        """Run ``op``, which only checks or reads, beside the writer."""
        return await self.store.read(op)

    async def change(self, op: Callable[[Connection], T], key: Hashable | None = None) -> T:
        """Run ``op`` in a committed transaction with the after-webhooks it queued, then wake
        the dispatcher. ``key`` (``oa_key``, ``group_key``): ``op`` locks only the rows of that
        Official Account or group (``timhooks.server.sql``)."""
        result = await self.store.run(op, key=key)
        self.wake()
        return result

    async def ask(self, call: Call, model: type[ev.Event], **fields: Any) -> Decision:
        """Ask the app through a before-webhook of ``model``, if it has it switched on; a refusal
        is the RestError its caller gets. When the app cannot answer, the failure policy
        decides: proceed (Tencent's default) or deny ("Webhook Overview",
        https://trtc.io/document/34354)."""
        spec = COMMANDS[model.command]
        cfg = call.callback
        if not cfg.enabled(spec.name) or cfg.url is None:
            return ALLOW
        body = encode_json(new_event(call, model, **fields).to_wire())
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
            raise RestError(
                spec.deny_code or RestCode.REFUSED_BY_CALLBACK,
                f"the app backend's webhook failed: {attempt.error}",
            )
        return ALLOW

    async def configure_callback(self, app_id: int, data: Mapping[str, Any]) -> CallbackConfig:
        """Apply ``set_callback``'s fields to an app's webhook settings, check and store them
        (``set_callback`` and the console's settings page); ConfigError naming a bad field."""
        cfg = CallbackConfig.from_wire(data, self.apps[app_id].callback)
        if cfg.url is not None:
            validate_callback_url(cfg.url, allow_private=self.allow_private_targets)
        await self.apps.set_callback(app_id, cfg)
        return cfg

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
    """Raise the caller-visible error of a refusing decision: the app's own code when the
    command allows it, else the command's deny code (each before-webhook's page, e.g.
    OfficialAccount.CallbackBeforeCreateOfficialAccount's, https://trtc.io/document/60795).

    A code the command does not allow counts as a plain deny: the app meant to refuse.
    """
    kind = decision.kind
    if kind is DecisionKind.ALLOW or (kind is DecisionKind.DISCARD and kind in spec.decisions):
        return
    if kind is DecisionKind.REJECT and spec.in_custom_range(decision.error_code):
        raise RestError(decision.error_code, decision.error_info)
    info = decision.error_info or f"refused by the app backend ({spec.name})"
    raise RestError(spec.deny_code or RestCode.REFUSED_BY_CALLBACK, info)
