"""The frame every console page shares: sign-in, sessions, CSRF, templates and static files.

A console is a Starlette app mounted at ``/console`` by ``timhooks serve`` or ``timhooks
listen`` when the console is on. Its pages are rendered on the server (Jinja2, autoescaped) and
read without JavaScript; ``static/console.js`` only adds live updates and confirmations.

Access: every page but the sign-in page needs a session, signed with a key made at start
(Starlette's SessionMiddleware, itsdangerous): it is had by posting the console token (printed
at start, or given with ``--console-token``) or, on serve, an admin UserSig of the app. The
cookie is HttpOnly, SameSite=Strict and scoped to ``/console``.

Cross-site request forgery: every state-changing request is a POST that must carry the
session's CSRF token (a hidden field of each form), compared in constant time; a POST whose
``Origin`` header names another origin is refused too. The sign-in form has a token of its own,
so a foreign page cannot sign a browser in either.

No secret is ever rendered: the console token, webhook tokens, keys, UserSigs and Signs stay out
of every page (settings show whether a token is set, never the token).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from timhooks.console.forms import Filters, Form, Replayable
from timhooks.protocol.errors import StorageError
from timhooks.request_body import BodyError, read_body

__all__ = [
    "PAGE_SIZE",
    "Console",
    "Page",
    "SignIn",
    "console_enabled",
    "new_console_token",
]

PAGE_SIZE = 50
_REPLAY_BATCH = 500  # rows made pending again per statement by a bulk replay
_FORM_LIMIT = 64 * 1024  # a console form is a few fields
_SESSION_AGE = 12 * 3600
_STREAM_FOR = 30.0  # seconds one live stream lasts; the browser reconnects (EventSource)
_STREAM_EVERY = 1.0

SignIn = Callable[[str], Awaitable[str | None]]
"""Checks a credential other than the console token (serve: an admin UserSig); the name of
who signed in, or None."""

Page = Callable[[Request], Awaitable[Response]]

_HEADERS = {
    # Scripts and styles come from the package only; the console is never framed.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none';"
    " form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def console_enabled(flag: bool | str | None, host: str) -> bool:
    """Whether to serve the console: as ``--console``/``--no-console`` (serve: on, off) say,
    else (None, auto) only when bound to loopback: a console other hosts reach is a choice."""
    if isinstance(flag, bool):
        return flag
    if flag in ("on", "off"):
        return flag == "on"
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_console_token() -> str:
    """A console token for one start: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def _when(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _pretty(value: Any) -> str:
    """A JSON body (bytes, text or a value) indented for reading; raw text when it is not
    JSON."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            return text
    return str(json.dumps(value, indent=2, ensure_ascii=False))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("timhooks.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["pretty"] = _pretty
    return env


class Console:
    """A console app: pages and actions behind sign-in, rendered from the package templates."""

    def __init__(
        self,
        *,
        title: str,
        nav: Sequence[tuple[str, str]],
        token: str,
        sign_in: SignIn | None = None,
        sign_in_help: str = "the console token printed at start",
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.title = title
        self.nav = list(nav)
        self.token = token
        self.sign_in = sign_in
        self.sign_in_help = sign_in_help
        self.stopping = stopping
        self.templates = Jinja2Templates(env=_environment())
        self._routes: list[BaseRoute] = [
            Route("/login", self._login_page, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self.action(self._logout), methods=["POST"]),
            Mount("/static", StaticFiles(packages=[("timhooks.console", "static")])),
        ]

    # --- building -------------------------------------------------------------------------

    def page(self, path: str, handler: Page) -> None:
        """Serve ``handler`` at GET ``path`` to a signed-in browser."""
        self._routes.append(Route(path, self._signed_in(handler), methods=["GET", "HEAD"]))

    def post(self, path: str, handler: Callable[[Request, Form], Awaitable[Response]]) -> None:
        """Serve ``handler`` at POST ``path``: signed in, with the CSRF token, form read."""
        self._routes.append(Route(path, self.action(handler), methods=["POST"]))

    def asgi(self) -> Starlette:
        """The console as an ASGI app, to mount at ``/console``."""
        secret = secrets.token_urlsafe(32)
        app = Starlette(
            routes=self._routes,
            middleware=[
                Middleware(
                    SessionMiddleware,
                    secret_key=secret,
                    session_cookie="timhooks_console",
                    max_age=_SESSION_AGE,
                    path="/console",
                    same_site="strict",
                ),
            ],
            exception_handlers={404: self._not_found, 405: self._not_found},
        )
        return app

    def mount(self) -> Mount:
        """The console's route for a parent Starlette app."""
        return Mount("/console", app=self.asgi())

    # --- rendering ------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        """A page from ``template``, with the frame's context (nav, CSRF token, messages)."""
        session = request.session
        csrf = session.get("csrf")
        if not csrf:
            csrf = session["csrf"] = secrets.token_urlsafe(24)
        messages = session.pop("flash", [])
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "title": self.title,
                "nav": self.nav,
                "csrf": csrf,
                "user": session.get("user"),
                "messages": messages,
                "path": request.url.path,
                **context,
            },
            status_code=status,
        )
        return _secured(response)

    def fragment(self, template: str, **context: Any) -> str:
        """A piece of HTML from ``template`` (live updates send these)."""
        return self.templates.get_template(template).render(**context)

    def log_pages(
        self,
        path: str,
        *,
        template: str,
        rows_template: str,
        statuses: Sequence[str],
        rows: Callable[[Filters], Awaitable[list[dict[str, Any]]]],
        row_id: Callable[[dict[str, Any]], int],
        unreadable: str,
        extra: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        empty_extra: Mapping[str, Any] | None = None,
    ) -> None:
        """A log's listing at ``path`` and its live rows at ``path/stream``: the filters, a
        page of ``rows``, links to older rows (by ``row_id``) and back to the newest, and
        ``unreadable`` with the reason when the database cannot be read. ``extra`` adds to the
        page's context when the rows were read, ``empty_extra`` when they were not."""

        async def listing(request: Request) -> Response:
            filters = Filters.read(request.query_params, statuses)
            try:
                found, problem = await rows(filters), None
            except StorageError as exc:
                found, problem = [], f"{unreadable}: {exc}"
            live = filters.log.before_id is None
            more = dict(empty_extra or {})
            if problem is None and extra is not None:
                more = await extra()
            return self.render(
                request,
                template,
                filters=filters,
                statuses=statuses,
                rows=found,
                problem=problem,
                older=filters.query(before=row_id(found[-1])) if len(found) == PAGE_SIZE else None,
                newest=filters.query(before=None) if not live else None,
                stream=f"/console{path}/stream?{filters.query()}" if live else None,
                **more,
            )

        async def stream(request: Request) -> Response:
            filters = Filters.read(request.query_params, statuses)

            async def render() -> str:
                return self.fragment(rows_template, rows=await rows(filters))

            return self.stream(request, render)

        self.page(path, listing)
        self.page(f"{path}/stream", stream)

    async def bulk_replay(
        self,
        request: Request,
        form: Form,
        log: Replayable,
        *,
        listing: str,
        statuses: Sequence[str],
        noun: str,
        what: str,
        now: Callable[[], float],
        done: Callable[[int], str],
    ) -> Response:
        """Replay every finished row of ``log`` the form's filters take: a filter is required,
        the count is confirmed first, and rows newer than the confirmed one are left alone.
        ``noun`` names one row, ``what`` the rows on the confirmation page, ``done`` the flash."""
        filters = Filters.read(form.fields, statuses)
        back = f"{listing}?{filters.query()}"
        if filters.errors or not filters.log.narrows:
            self.flash(
                request,
                "Fix the filters first: " + "; ".join(filters.errors.values())
                if filters.errors
                else f"Replaying every {noun} needs a filter: choose a status, command, app,"
                " time or text first.",
            )
            return RedirectResponse(back, status_code=303)
        count, newest = await log.replay_count(filters.log)
        if form.get("confirm") != "yes":
            return self.render(
                request,
                "replay_confirm.html",
                filters=filters,
                count=count,
                through=newest,
                action=f"{listing}/replay",
                what=what,
                back=back,
            )
        through = int(form.get("through") or 0)
        replayed = 0
        while through:
            ids = await log.replay_many(
                filters.log, through_id=through, limit=_REPLAY_BATCH, now=now()
            )
            replayed += len(ids)
            if len(ids) < _REPLAY_BATCH:
                break
        self.flash(request, done(replayed))
        return RedirectResponse(back, status_code=303)

    @staticmethod
    def flash(request: Request, message: str) -> None:
        """Show ``message`` on the next page."""
        request.session.setdefault("flash", []).append(message)

    def stream(
        self, request: Request, render: Callable[[], Awaitable[str]], event: str = "rows"
    ) -> Response:
        """A server-sent event stream: ``render()`` every second, sent as ``event`` when it
        changed. It ends after 30 s (the browser reconnects) or when the process stops."""

        async def events() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            last = None
            ends = time.monotonic() + _STREAM_FOR
            while time.monotonic() < ends and not self.stopping():
                html = await render()
                if html != last:
                    last = html
                    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
                    yield f"event: {event}\n{data}\n"
                await asyncio.sleep(_STREAM_EVERY)

        response = StreamingResponse(events(), media_type="text/event-stream")
        return _secured(response)

    # --- access ---------------------------------------------------------------------------

    def _signed_in(self, handler: Page) -> Page:
        async def guarded(request: Request) -> Response:
            if not request.session.get("user"):
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse(
                    "/console/login?" + urlencode({"next": target}), status_code=303
                )
            return await handler(request)

        return guarded

    def action(self, handler: Callable[[Request, Form], Awaitable[Response]]) -> Page:
        """``handler`` for a POST: refused unless signed in, same-origin and with the CSRF
        token."""

        async def guarded(request: Request) -> Response:
            form = await self._form(request)
            if form is None:
                return self._refuse(request, 413, "The form is too large or did not arrive.")
            problem = self._forgery(request, form)
            if problem is not None:
                return self._refuse(request, 403, problem)
            if not request.session.get("user"):
                return self._refuse(request, 403, "Sign in first: your session has ended.")
            return await handler(request, form)

        return guarded

    @staticmethod
    async def _form(request: Request) -> Form | None:
        try:
            raw = await read_body(
                request.scope.get("headers", ()), request.receive, limit=_FORM_LIMIT
            )
        except BodyError:
            return None
        if raw is None:
            return None
        pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        fields: dict[str, str] = {}
        for key, value in pairs:
            fields.setdefault(key, value)
        return Form(fields, pairs)

    @staticmethod
    def _forgery(request: Request, form: Form) -> str | None:
        """Why this POST may be forged (None: it is not)."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc != request.headers.get("host", ""):
                return "This form was sent from another site; reload the console and try again."
        expected = request.session.get("csrf")
        sent = form.get("csrf")
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            return (
                "The form's security token is missing or out of date (the session may have"
                " ended); reload the page and try again."
            )
        return None

    def _refuse(self, request: Request, status: int, reason: str) -> Response:
        return self.render(request, "error.html", status=status, reason=reason)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        reason = f"{request.method} {request.url.path} is not a console page."
        return self.render(request, "error.html", status=status, reason=reason)

    async def _login_page(self, request: Request) -> Response:
        return self.render(
            request,
            "login.html",
            next=_safe_next(request.query_params.get("next", "")),
            help=self.sign_in_help,
            error=None,
        )

    async def _login(self, request: Request) -> Response:
        form = await self._form(request)
        if form is None:
            return self._refuse(request, 413, "The form is too large or did not arrive.")
        problem = self._forgery(request, form)
        if problem is not None:
            return self._refuse(request, 403, problem)
        credential = form.get("credential").strip()
        user: str | None = None
        if credential and hmac.compare_digest(credential.encode(), self.token.encode()):
            user = "console token"
        elif credential and self.sign_in is not None:
            user = await self.sign_in(credential)
        target = _safe_next(form.get("next"))
        if user is None:
            return self.render(
                request,
                "login.html",
                status=403,
                next=target,
                help=self.sign_in_help,
                error="That is not the console token"
                + (" or an admin UserSig of the app" if self.sign_in else "")
                + ": check what timhooks printed at start.",
            )
        request.session.clear()
        request.session["user"] = user
        request.session["csrf"] = secrets.token_urlsafe(24)
        return RedirectResponse(target, status_code=303)

    async def _logout(self, request: Request, form: Form) -> Response:
        request.session.clear()
        return RedirectResponse("/console/login", status_code=303)


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/"


def _secured(response: Response) -> Response:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def secured(response: Response) -> Response:
    """``response`` with the console's security headers (no framing, no caching)."""
    return _secured(response)


def html(text: str, status: int = 200) -> Response:
    """A bare HTML response with the console's headers."""
    return _secured(HTMLResponse(text, status_code=status))
