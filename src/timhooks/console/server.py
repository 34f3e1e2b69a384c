"""The console of ``timhooks serve``: deliveries with their attempts, replay, before-webhooks
with their decisions, the webhook settings, and read-only views of accounts, Official Accounts
and groups.

Listings go through the server store's listing methods (the same as ``timhooks deliveries
list``), replays through its ``replay`` and ``replay_many`` (``timhooks deliveries replay``),
and settings through ``ChatService.configure_callback``, the code behind ``set_callback``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from timhooks.console import objects
from timhooks.console.forms import Filters, Form, path_id
from timhooks.console.web import PAGE_SIZE, Console
from timhooks.delivery.dispatcher import shown_url
from timhooks.metrics import decision_label
from timhooks.protocol.commands import COMMANDS
from timhooks.protocol.errors import ConfigError, ProtocolError, StorageError, UserSigError
from timhooks.protocol.summary import summarize
from timhooks.protocol.usersig import decode_usersig, verify_usersig
from timhooks.server.config import CallbackConfig
from timhooks.server.settings import CALLBACK_SETTINGS, FailurePolicy, Setting
from timhooks.server.store import Delivery, DeliveryStatus
from timhooks.text import printable

if TYPE_CHECKING:
    from timhooks.delivery.dispatcher import OutboxDispatcher
    from timhooks.server.service import ChatService
    from timhooks.server.store import App, ServerStore


class ChatServerParts(Protocol):
    """What the console uses of a ``timhooks.server.app.ChatServer``."""

    store: ServerStore
    service: ChatService
    dispatcher: OutboxDispatcher
    clock: Callable[[], float]
    default_app: App | None


__all__ = ["server_console"]

_STATUSES = tuple(s.value for s in DeliveryStatus)
# The query Tencent's webhooks carry, as the console shows it: Sign and RequestTime are left
# out (a Sign authenticates the sender; docs/protocol.md).
_SHOWN_QUERY = ("SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform")


def _summary(body: bytes) -> str:
    import msgspec

    try:
        return printable(summarize(msgspec.json.decode(body)))
    except (ValueError, msgspec.DecodeError):
        return ""


def server_console(
    server: ChatServerParts, *, token: str, stopping: Callable[[], bool] = lambda: False
) -> Console:
    """The serve console over ``server``'s store and service."""
    store = server.store
    service = server.service

    async def admin_sign_in(credential: str) -> str | None:
        """An admin UserSig of one of the apps signs in as that admin."""
        try:
            info = decode_usersig(credential)
        except (UserSigError, ProtocolError):
            return None
        app = service.apps.get(info.sdk_app_id)
        if app is None or info.identifier not in app.admins:
            return None
        try:
            verify_usersig(
                credential,
                sdk_app_id=app.sdk_app_id,
                key=app.key,
                identifier=info.identifier,
                now=int(server.clock()),
            )
        except UserSigError:
            return None
        return f"{info.identifier} of {app.sdk_app_id}"

    console = Console(
        title="timhooks serve",
        nav=[
            ("/console/deliveries", "Deliveries"),
            ("/console/before", "Before-webhooks"),
            ("/console/settings", "Settings"),
            ("/console/objects", "Objects"),
        ],
        token=token,
        sign_in=admin_sign_in,
        sign_in_help="the console token printed at start, or an admin UserSig of the app",
        stopping=stopping,
    )

    def app_of(request: Request) -> int | None:
        """The app a page is about: ?app=, else the served one, else the first."""
        text = request.query_params.get("app", "")
        if text.isascii() and text.isdigit() and int(text) in service.apps:
            return int(text)
        if server.default_app is not None:
            return server.default_app.sdk_app_id
        return min(service.apps) if service.apps else None

    # --- deliveries -----------------------------------------------------------------------

    async def rows(filters: Filters) -> list[dict[str, Any]]:
        found = await store.deliveries(where=filters.log, limit=PAGE_SIZE)
        return [{"d": d, "summary": _summary(d.body)} for d in found]

    async def home(request: Request) -> Response:
        return RedirectResponse("/console/deliveries", status_code=303)

    async def delivery(request: Request) -> Response:
        delivery_id = path_id(request)
        found = None if delivery_id is None else await store.delivery(delivery_id)
        if found is None:
            return console.render(
                request, "error.html", status=404, reason="No delivery has that id."
            )
        d, attempts = found
        query = {
            "SdkAppid": str(d.sdk_app_id),
            "CallbackCommand": d.command,
            "contenttype": "json",
            "ClientIP": d.client_ip,
            "OptPlatform": d.opt_platform,
        }
        return console.render(
            request,
            "delivery.html",
            d=d,
            attempts=[_attempt_view(d, a) for a in attempts],
            query=[(k, query[k]) for k in _SHOWN_QUERY],
            summary=_summary(d.body),
        )

    async def replay_one(request: Request, form: Form) -> Response:
        delivery_id = path_id(request)
        try:
            found = delivery_id is not None and await store.replay(delivery_id, now=server.clock())
        except ConfigError as exc:
            console.flash(request, str(exc))
            return RedirectResponse(f"/console/deliveries/{delivery_id}", status_code=303)
        if not found:
            return console.render(
                request, "error.html", status=404, reason="No delivery has that id."
            )
        server.dispatcher.wake()
        console.flash(request, f"Webhook {delivery_id} is queued again; it is being sent now.")
        return RedirectResponse(f"/console/deliveries/{delivery_id}", status_code=303)

    async def replay_many(request: Request, form: Form) -> Response:
        def done(count: int) -> str:
            server.dispatcher.wake()
            return f"{count} webhooks are queued again and being sent."

        return await console.bulk_replay(
            request,
            form,
            store,
            listing="/console/deliveries",
            statuses=_STATUSES,
            noun="webhook",
            what="webhooks (after-webhooks whose delivery ended: delivered or failed)",
            now=server.clock,
            done=done,
        )

    # --- before-webhooks ------------------------------------------------------------------

    async def before(request: Request) -> Response:
        filters = Filters.read(request.query_params, _STATUSES)
        found = await store.run(lambda conn: objects.before_calls(conn, filters, PAGE_SIZE))
        shown = [_before_view(row, service.apps) for row in found]
        return console.render(
            request,
            "before.html",
            filters=filters,
            statuses=("delivered", "fallback"),
            rows=shown,
            older=filters.query(before=found[-1]["id"]) if len(found) == PAGE_SIZE else None,
            newest=filters.query(before=None) if filters.log.before_id else None,
            stream=None,
        )

    # --- settings -------------------------------------------------------------------------

    async def settings_page(request: Request) -> Response:
        app_id = app_of(request)
        if app_id is None:
            return console.render(request, "error.html", status=404, reason="No app yet.")
        return _settings(request, app_id, service.apps[app_id].callback, {}, None)

    def _settings(
        request: Request,
        app_id: int,
        cfg: CallbackConfig,
        errors: dict[str, str],
        sent: dict[str, str] | None,
        status: int = 200,
    ) -> Response:
        wire = cfg.to_wire()
        fields = []
        for setting in CALLBACK_SETTINGS:
            name = str(setting.wire)
            value = _wire_get(wire, name)
            shown = sent.get(name, "") if sent is not None else _shown(value)
            fields.append(
                {
                    "name": name,
                    "help": setting.help,
                    "bounds": setting.bounds(),
                    "kind": setting.kind.json_type,
                    "value": shown,
                    "error": errors.pop(name, None),
                }
            )
        return console.render(
            request,
            "settings.html",
            status=status,
            app_id=app_id,
            apps=sorted(service.apps),
            fields=fields,
            token_set=cfg.token is not None,
            commands=sorted(COMMANDS),
            enabled=set(cfg.commands),
            policies=FailurePolicy.ALL,
            errors=errors,
        )

    async def save_settings(request: Request, form: Form) -> Response:
        text = form.get("app")
        app_id = int(text) if text.isdigit() and int(text) in service.apps else None
        if app_id is None:
            return console.render(request, "error.html", status=404, reason="No such app.")
        data, errors = _settings_data(form)
        if not errors:
            try:
                await service.configure_callback(app_id, data)
            except ConfigError as exc:
                errors[_field_of(str(exc))] = str(exc)
            except StorageError as exc:
                errors[""] = f"The settings could not be stored: {exc}; try again."
        if errors:
            sent = {str(s.wire): form.get(str(s.wire)) for s in CALLBACK_SETTINGS}
            sent["Token"] = ""  # never echoed back
            cfg = service.apps[app_id].callback
            return _settings(request, app_id, cfg, errors, sent, status=400)
        console.flash(request, f"Webhook settings of app {app_id} saved.")
        return RedirectResponse(f"/console/settings?app={app_id}", status_code=303)

    # --- objects --------------------------------------------------------------------------

    async def objects_page(request: Request) -> Response:
        app_id = app_of(request)
        if app_id is None:
            return console.render(request, "error.html", status=404, reason="No app yet.")
        found = await store.run(lambda conn: objects.overview(conn, app_id))
        return console.render(
            request, "objects.html", app_id=app_id, apps=sorted(service.apps), **found
        )

    async def official_account(request: Request) -> Response:
        app_id = app_of(request)
        oa_id = str(request.path_params["oa"])
        found = None
        if app_id is not None:
            found = await store.run(lambda conn: objects.official_account(conn, app_id, oa_id))
        if found is None:
            return console.render(
                request, "error.html", status=404, reason="No Official Account has that id."
            )
        return console.render(request, "official_account.html", app_id=app_id, **found)

    async def group(request: Request) -> Response:
        app_id = app_of(request)
        group_id = str(request.path_params["group"])
        found = None
        if app_id is not None:
            found = await store.run(lambda conn: objects.group(conn, app_id, group_id))
        if found is None:
            return console.render(request, "error.html", status=404, reason="No group has it.")
        return console.render(request, "group.html", app_id=app_id, **found)

    console.page("/", home)
    console.log_pages(
        "/deliveries",
        template="deliveries.html",
        rows_template="delivery_rows.html",
        statuses=_STATUSES,
        rows=rows,
        row_id=lambda row: row["d"].id,
        unreadable="The database could not be read",
    )
    console.page("/deliveries/{id}", delivery)
    console.post("/deliveries/replay", replay_many)
    console.post("/deliveries/{id}/replay", replay_one)
    console.page("/before", before)
    console.page("/settings", settings_page)
    console.post("/settings", save_settings)
    console.page("/objects", objects_page)
    console.page("/objects/official-accounts/{oa:path}", official_account)
    console.page("/objects/groups/{group:path}", group)
    return console


def _wire_get(data: dict[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = data.get(head)
    return _wire_get(value, rest) if rest and isinstance(value, dict) else value


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _settings_data(form: Form) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings form as ``set_callback``'s JSON, and an error per field that is not even
    of the right type (the rest is checked by ``CallbackConfig``)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for setting in CALLBACK_SETTINGS:
        name = str(setting.wire)
        if name == "Token":
            token = form.get("Token")
            if form.get("remove_token") == "yes":
                data["IsTokenEnable"] = False
            elif token:
                data["Token"] = token
            continue
        if name == "CallbackCommandList":
            continue
        text = form.get(name).strip()
        value: Any = text
        if setting.kind.json_type in ("number", "integer"):
            value = _number(setting, text, errors)
            if value is None:
                continue
        _put(data, name, value)
    data["CallbackCommandList"] = sorted(set(form.all("command")))
    return data, errors


def _number(setting: Setting, text: str, errors: dict[str, str]) -> float | int | None:
    name = str(setting.wire)
    try:
        number = float(text)
    except ValueError:
        errors[name] = f"{name} must be a number, got {text[:40]!r}"
        return None
    if setting.kind.json_type == "integer":
        if not number.is_integer():
            errors[name] = f"{name} must be a whole number, got {text[:40]!r}"
            return None
        return int(number)
    return number


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        _put(data.setdefault(head, {}), rest, value)
    else:
        data[head] = value


def _field_of(message: str) -> str:
    """The settings field a ConfigError's message is about ("" when none is named)."""
    for setting in CALLBACK_SETTINGS:
        if message.startswith(str(setting.wire)):
            return str(setting.wire)
    lowered = message.lower()
    for needle, name in (
        ("callback url", "Url"),
        ("token", "Token"),
        ("callbackcommand", "CallbackCommandList"),
        ("failure policy", "BeforeFailurePolicy"),
    ):
        if needle in lowered:
            return name
    return ""


def _attempt_view(d: Delivery, attempt: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": attempt["at"],
        "url": shown_url(attempt["url"]) if attempt["url"] else "",
        "status_code": attempt["status_code"],
        "latency_ms": attempt["latency_ms"],
        "error": attempt["error"],
        "response": attempt["response"],
        "ok": attempt["error"] is None,
    }


def _before_view(row: dict[str, Any], apps: Mapping[int, Any]) -> dict[str, Any]:
    """A before-webhook call with the decision its answer gave, or the fallback."""
    decision = "fallback"
    detail = row["error"] or ""
    spec = COMMANDS.get(row["command"])
    if row["status"] == DeliveryStatus.DELIVERED.value and spec and row["response"]:
        try:
            answer = spec.parse_response(row["response"].encode())
        except ProtocolError as exc:
            detail = str(exc)
        else:
            decision = decision_label(answer)
            if answer.error_code not in (0,):
                detail = f"ErrorCode {answer.error_code} {answer.error_info}".strip()
    elif row["status"] == DeliveryStatus.FALLBACK.value:
        app = apps.get(row["sdk_app_id"])
        policy = app.callback.failure_policy if app else "proceed"
        decision = "fallback"
        detail = f"{detail}; the failure policy ({policy} today) answered in its place"
    return {**row, "decision": decision, "detail": detail, "summary": _summary(row["body"])}
