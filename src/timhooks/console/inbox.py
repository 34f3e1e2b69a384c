"""The console of ``timhooks listen``: the inbox (status, handler attempts and errors, dead
entries, replay one or many) and the requests the receiver refused, with their reasons.

Reads go through the inbox's listing methods (the same as ``timhooks events list``); replays
through its ``replay`` and ``replay_many`` (the same as ``timhooks events replay``), and the
running receiver's worker picks the entries up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from timhooks.console.forms import Filters, Form, path_id
from timhooks.console.rejections import LABELS, RejectionLog
from timhooks.console.web import PAGE_SIZE, Console
from timhooks.protocol.errors import ConfigError
from timhooks.receiver.core import Receiver
from timhooks.receiver.observe import Cause
from timhooks.storage import InboxEntry, InboxStatus
from timhooks.text import printable

__all__ = ["inbox_console"]

_STATUSES = tuple(s.value for s in InboxStatus)


def _summary(entry: InboxEntry) -> str:
    from timhooks.protocol.summary import summarize

    try:
        return printable(summarize(entry.payload))
    except ValueError:
        return ""


def inbox_console(
    receiver: Receiver,
    *,
    token: str,
    rejections: RejectionLog,
    stopping: Callable[[], bool] = lambda: False,
) -> Console:
    """The listen console over ``receiver``'s inbox; ``rejections`` must observe the receiver."""
    console = Console(
        title="timhooks listen",
        nav=[("/console/inbox", "Inbox"), ("/console/rejected", "Rejected")],
        token=token,
        stopping=stopping,
    )
    inbox = receiver.inbox

    async def rows(filters: Filters) -> list[dict[str, Any]]:
        entries = await inbox.list(where=filters.log, limit=PAGE_SIZE)
        return [{"entry": e, "summary": _summary(e)} for e in entries]

    async def counts() -> dict[str, Any]:
        """The listing's ``counts``: entries by status, when the inbox can count them."""
        found = getattr(inbox, "status_counts", None)
        if found is None:
            return {"counts": {}}
        return {"counts": {status.value: n for status, n in (await found()).items()}}

    async def home(request: Request) -> Response:
        return RedirectResponse("/console/inbox", status_code=303)

    async def entry_page(request: Request) -> Response:
        entry = await _entry(request)
        if entry is None:
            return console.render(
                request, "error.html", status=404, reason="No inbox entry has that id."
            )
        return console.render(
            request, "inbox_entry.html", entry=entry, summary=_summary(entry), labels=LABELS
        )

    async def replay_one(request: Request, form: Form) -> Response:
        entry_id = path_id(request)
        try:
            found = entry_id is not None and await inbox.replay(entry_id, now=receiver.clock())
        except ConfigError as exc:
            console.flash(request, str(exc))
            return RedirectResponse(f"/console/inbox/{entry_id}", status_code=303)
        if not found:
            return console.render(
                request, "error.html", status=404, reason="No inbox entry has that id."
            )
        console.flash(
            request,
            f"Inbox entry {entry_id} is pending again; the receiver runs its handler shortly.",
        )
        return RedirectResponse(f"/console/inbox/{entry_id}", status_code=303)

    async def replay_many(request: Request, form: Form) -> Response:
        return await console.bulk_replay(
            request,
            form,
            inbox,
            listing="/console/inbox",
            statuses=_STATUSES,
            noun="entry",
            what="inbox entries (after-webhooks whose handling ended: done or dead)",
            now=receiver.clock,
            done=lambda n: f"{n} inbox entries are pending again; the receiver runs them.",
        )

    async def rejected(request: Request) -> Response:
        return console.render(
            request,
            "rejected.html",
            shown=list(rejections.latest),
            by_cause=sorted(rejections.by_cause.items(), key=lambda kv: -kv[1]),
            repeats=rejections.repeats,
            last_repeat=rejections.last_repeat,
            labels=LABELS,
            causes=Cause,
        )

    async def _entry(request: Request) -> InboxEntry | None:
        entry_id = path_id(request)
        return None if entry_id is None else await inbox.get(entry_id)

    console.page("/", home)
    console.log_pages(
        "/inbox",
        template="inbox.html",
        rows_template="inbox_rows.html",
        statuses=_STATUSES,
        rows=rows,
        row_id=lambda row: row["entry"].id,
        unreadable="The inbox could not be read",
        extra=counts,
        empty_extra={"counts": {}},
    )
    console.page("/inbox/{id}", entry_page)
    console.post("/inbox/replay", replay_many)
    console.post("/inbox/{id}/replay", replay_one)
    console.page("/rejected", rejected)
    return console
