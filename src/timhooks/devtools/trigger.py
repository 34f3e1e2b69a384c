"""``timhooks trigger --via-server``: make a running ``timhooks serve`` send one webhook.

The server's webhook settings are read first (``timhooks_config/get_callback``): with no URL, or
the command switched off, the change would send nothing, so none is made. Then the command's
scenario (``devtools.scenarios``) makes the change through the REST API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from timhooks.devtools.rest import RestClient
from timhooks.devtools.scenarios import SCENARIOS, ScenarioRun, Step, run_scenario
from timhooks.protocol.commands import CommandSpec
from timhooks.protocol.errors import ConfigError

__all__ = ["ServerTrigger", "trigger_via_server"]


@dataclass(frozen=True, slots=True)
class ServerTrigger:
    """What a ``--via-server`` trigger did: its calls, and whether the server sent the webhook."""

    command: str
    server: str
    sent: bool
    summary: str
    callback_url: str | None = None
    steps: tuple[Step, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for ``--json``."""
        return {
            "command": self.command,
            "server": self.server,
            "callback_url": self.callback_url,
            "sent": self.sent,
            "summary": self.summary,
            "steps": [step.to_dict() for step in self.steps],
        }


async def trigger_via_server(
    server: str,
    spec: CommandSpec,
    *,
    app_id: int,
    key: str,
    admin: str = "administrator",
    on_step: Callable[[Step], None] | None = None,
) -> ServerTrigger:
    """Run ``spec``'s scenario on the server at ``server``; ``on_step`` sees each call."""
    if spec.name not in SCENARIOS:
        raise ConfigError(f"timhooks serve does not send {spec.name}")
    rest = RestClient(server, app_id=app_id, key=key, admin=admin)
    try:
        answer = await rest.call("timhooks_config/get_callback", {})
        if answer.get("ErrorCode") != 0:
            raise ConfigError(
                f"{rest.base_url} refused the admin's call: ErrorCode {answer.get('ErrorCode')}"
                f" ({answer.get('ErrorInfo', '')}); check --app-id, --key and --admin"
            )
        settings = answer.get("Callback") or {}
        url = settings.get("Url") or None

        def result(sent: bool, summary: str, steps: tuple[Step, ...] = ()) -> ServerTrigger:
            return ServerTrigger(spec.name, rest.base_url, sent, summary, url, steps)

        if url is None:
            return result(
                False,
                f"{rest.base_url} has no callback URL, so it would send no webhook: start it with"
                " --callback-url URL (or set one with the REST command"
                " timhooks_config/set_callback); nothing was changed",
            )
        if spec.name not in (settings.get("CallbackCommandList") or ()):
            return result(
                False,
                f"{rest.base_url} has {spec.name} switched off (its callback commands leave it"
                " out): start it with --callback-commands including it; nothing was changed",
            )
        run = ScenarioRun(rest, on_step=on_step)
        failed = await run_scenario(spec.name, run)
        if failed is not None:
            return result(*_refused(spec, failed, url), tuple(run.steps))
        if spec.is_before:
            summary = (
                f"serve sent {spec.name} to {url}; the call went through (the answer allowed it,"
                " or the webhook failed and serve's failure policy let the call proceed)"
            )
        else:
            summary = (
                f"serve sends {spec.name} to {url} (`timhooks deliveries list --command"
                f" {spec.name}` on serve's database shows it)"
            )
        return result(True, summary, tuple(run.steps))
    finally:
        await rest.aclose()


def _refused(spec: CommandSpec, step: Step, url: str) -> tuple[bool, str]:
    """Whether the webhook went out although ``step`` failed, and what to say."""
    code = step.answer.get("ErrorCode")
    info = step.answer.get("ErrorInfo", "")
    failed = f"{step.command} answered ErrorCode {code} ({info})"
    decided = isinstance(code, int) and (code == spec.deny_code or spec.in_custom_range(code))
    if step.final and spec.is_before and decided:
        return True, f"serve sent {spec.name} to {url}, and its answer refused the call: {failed}"
    return False, f"{failed}: the change was not made, so serve did not send {spec.name}"
