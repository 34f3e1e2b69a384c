"""The console's text search (``LogFilter.body_contains``) and its paging (``before_id``), on
each storage backend: the same rows on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from timhooks.storage import InboxStatus, NewInboxEntry, open_inbox
from timhooks.storage.filters import LogFilter


def entry(body: bytes, at: float) -> NewInboxEntry:
    """A handled after-webhook with ``body``."""
    return NewInboxEntry(
        sdk_app_id=1400000001,
        command="Group.CallbackAfterGroupFull",
        phase="after",
        body=body,
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        received_at=at,
        status=InboxStatus.DONE,
    )


async def test_body_search_and_paging_take_the_same_rows_on_each_backend(db_url: str) -> None:
    """A search finds the bodies holding the text byte for byte (case and all, with % and _
    taken literally), and before_id pages back through older rows."""
    inbox = open_inbox(db_url)
    try:
        now = time.time()
        bodies = [
            b'{"GroupId":"@TGS#hikers","Note":"50% off"}',
            b'{"GroupId":"@TGS#climbers","Note":"a_b"}',
            '{"GroupId":"@TGS#徒步","Note":"Hikers"}'.encode(),
        ]
        for n, body in enumerate(bodies):
            await inbox.put(entry(body, now + n))

        async def ids(where: LogFilter) -> list[int]:
            return [e.id for e in await inbox.list(where=where)]

        assert await ids(LogFilter(body_contains="hikers")) == [1]
        assert await ids(LogFilter(body_contains="Hikers")) == [3]
        assert await ids(LogFilter(body_contains="50%")) == [1]
        assert await ids(LogFilter(body_contains="%")) == [1]
        assert await ids(LogFilter(body_contains="_")) == [2]
        assert await ids(LogFilter(body_contains="徒步")) == [3]
        assert await ids(LogFilter(body_contains="@TGS#")) == [3, 2, 1]
        assert await ids(LogFilter(before_id=3)) == [2, 1]
        assert await inbox.replay_count(LogFilter(body_contains="climbers")) == (1, 2)
    finally:
        await inbox.close()
