"""Small helpers for driving a Receiver in-process, the way Tencent's Chat backend calls it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from timhooks.protocol import build_query, compute_sign
from timhooks.receiver import Receiver
from timhooks.storage import InboxEntry, InboxStatus

APP = 1400000000
ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}

GROUP_FULL = "Group.CallbackAfterGroupFull"
MEMBER_EXIT = "Group.CallbackAfterMemberExit"
OA_CREATE = "OfficialAccount.CallbackBeforeCreateOfficialAccount"
OA_SEND = "OfficialAccount.CallbackBeforeSendMsg"


def query(
    command: str,
    *,
    app: int = APP,
    token: str | None = None,
    when: int | None = None,
    platform: str = "RESTAPI",
) -> str:
    """Tencent's webhook query; signed with ``token`` at ``when`` (default: now) if given."""
    if token is None:
        return build_query(
            sdk_app_id=app, callback_command=command, client_ip="127.0.0.1", opt_platform=platform
        )
    at = int(time.time()) if when is None else when
    return build_query(
        sdk_app_id=app,
        callback_command=command,
        client_ip="127.0.0.1",
        opt_platform=platform,
        request_time=at,
        sign=compute_sign(token, at),
    )


def body(command: str, **fields: Any) -> bytes:
    """A webhook body for ``command``; an after-webhook gets a GroupId unless one is given."""
    data: dict[str, Any] = {"CallbackCommand": command}
    if command.startswith("Group.") and "GroupId" not in fields:
        data["GroupId"] = "@TGS#test"
    if command.startswith("OfficialAccount.") and command != OA_CREATE:
        data.setdefault("Official_Account", "@TOA#_test")
    data.update(fields)
    data.setdefault("EventTime", 1670574414123)
    return json.dumps(data).encode()


@contextlib.asynccontextmanager
async def receiving(tmp_path: Path, **options: Any) -> AsyncIterator[Receiver]:
    """A Receiver for APP storing into ``tmp_path``/inbox.db, stopped when the block ends."""
    receiver = Receiver(app_id=APP, inbox=tmp_path / "inbox.db", **options)
    try:
        yield receiver
    finally:
        await receiver.stop()


def client(receiver: Receiver) -> httpx.AsyncClient:
    """An HTTP client that calls the receiver's ASGI app in-process."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=receiver.asgi), base_url="http://127.0.0.1"
    )


async def post(http: httpx.AsyncClient, command: str, payload: bytes, **kw: Any) -> httpx.Response:
    """POST a webhook the way the Chat backend does: query on the URL, JSON in the body."""
    return await http.post(f"/?{query(command, **kw)}", content=payload)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 10.0, interval: float = 0.01
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        await asyncio.sleep(interval)


async def settled(receiver: Receiver, entry_id: int, *statuses: InboxStatus) -> InboxEntry:
    """Wait until inbox entry ``entry_id`` reaches one of ``statuses`` and return it."""

    async def check() -> InboxEntry | None:
        entry = await receiver.inbox.get(entry_id)
        return entry if entry is not None and entry.status in statuses else None

    result: InboxEntry = await eventually(check)
    return result


async def only_entry(receiver: Receiver) -> InboxEntry:
    """The one entry the inbox holds."""
    entries = await receiver.inbox.list()
    assert len(entries) == 1, entries
    return entries[0]
