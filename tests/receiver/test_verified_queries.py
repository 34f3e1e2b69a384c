"""A receiver remembers the queries whose Sign it verified (Tencent's query repeats for every
webhook of one second: timhooks/receiver/core.py): a query seen again skips the work, never
the checks. It is refused once its RequestTime is too old, or once the app's token changed."""

from __future__ import annotations

import time
from pathlib import Path

from receiver_support import APP, GROUP_FULL, body, query, receiving

TOKEN = "s3cret-token"


async def test_a_verified_query_still_goes_stale(tmp_path: Path) -> None:
    start = int(time.time())
    now = [float(start)]
    async with receiving(tmp_path, token=TOKEN, clock=lambda: now[0]) as receiver:
        signed = query(GROUP_FULL, token=TOKEN, when=start).encode()
        first = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#1"))
        now[0] = start + 60
        again = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#2"))
        now[0] = start + 61
        late = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#3"))
    assert (first.status, again.status, late.status) == (200, 200, 401)
    assert b"from now" in late.body


async def test_a_verified_query_is_checked_again_with_a_new_token(tmp_path: Path) -> None:
    async with receiving(tmp_path, token=TOKEN) as receiver:
        signed = query(GROUP_FULL, token=TOKEN).encode()
        first = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#1"))
        receiver.apps[APP] = "a-new-token"
        rotated = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#2"))
        del receiver.apps[APP]
        receiver.apps[APP + 1] = TOKEN
        removed = await receiver.handle("POST", signed, body(GROUP_FULL, GroupId="@TGS#3"))
    assert (first.status, rotated.status, removed.status) == (200, 401, 403)
    assert b"does not match" in rotated.body
