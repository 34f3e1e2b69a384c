"""The inbox contract, run once per backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from timhooks.protocol.errors import ConfigError
from timhooks.storage import InboxStatus, NewInboxEntry, open_inbox

CMD = "Group.CallbackAfterGroupFull"


def entry(
    n: int, *, status: InboxStatus = InboxStatus.PENDING, at: float = 1000.0
) -> NewInboxEntry:
    body = b'{"CallbackCommand":"%s","GroupId":"g%d"}' % (CMD.encode(), n)
    return NewInboxEntry(
        sdk_app_id=1400000000,
        command=CMD,
        phase="before" if status is InboxStatus.ANSWERED else "after",
        body=body,
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        received_at=at,
        status=status,
        answer=b'{"ErrorCode":0}' if status is InboxStatus.ANSWERED else None,
    )


async def test_put_stores_once_and_reports_duplicates(db_url: str) -> None:
    """The same command and body is stored once; the repeat gets the first id back."""
    inbox = open_inbox(db_url)
    try:
        first = await inbox.put(entry(1))
        again = await inbox.put(entry(1))
        other = await inbox.put(entry(2))
        assert first[1] is True
        assert again == (first[0], False)
        assert other[1] is True
        assert other[0] != first[0]
        stored = await inbox.get(first[0])
        assert stored is not None
        assert stored.payload == {"CallbackCommand": CMD, "GroupId": "g1"}
    finally:
        await inbox.close()


async def test_claim_leases_and_outcomes(db_url: str) -> None:
    """A claimed entry is not handed out again until its lease ends; outcomes stick."""
    inbox = open_inbox(db_url)
    try:
        ids = [(await inbox.put(entry(n)))[0] for n in range(3)]
        claimed = await inbox.claim(now=1000.0, limit=10, lease=30.0)
        assert [e.id for e in claimed] == ids
        assert all(e.attempts == 1 for e in claimed)
        assert await inbox.claim(now=1010.0, limit=10, lease=30.0) == []
        await inbox.complete(ids[0], now=1011.0)
        await inbox.fail(ids[1], "boom", retry_at=1020.0, now=1011.0)
        await inbox.fail(ids[2], "gave up", retry_at=None, now=1011.0)
        again = await inbox.claim(now=1021.0, limit=10, lease=30.0)
        assert [(e.id, e.attempts) for e in again] == [(ids[1], 2)]
        states = {e.id: e.status for e in await inbox.list(limit=10)}
        assert states == {ids[0]: "done", ids[1]: "pending", ids[2]: "dead"}
        dead = await inbox.get(ids[2])
        assert dead is not None
        assert dead.last_error == "gave up"
        assert await inbox.replay(ids[2], now=1030.0) is True
        replayed = await inbox.claim(now=1030.0, limit=10, lease=30.0)
        assert [(e.id, e.attempts) for e in replayed] == [(ids[2], 1)]
        assert await inbox.replay(99999, now=1030.0) is False
    finally:
        await inbox.close()


async def test_before_records_are_not_replayable_and_list_filters(db_url: str) -> None:
    """Answered before-webhooks are records: listed, filtered, never replayed or claimed."""
    inbox = open_inbox(db_url)
    try:
        answered, _ = await inbox.put(entry(1, status=InboxStatus.ANSWERED))
        await inbox.put(entry(2))
        assert await inbox.claim(now=1000.0, limit=10, lease=5.0) != []
        assert await inbox.claim(now=1000.0, limit=10, lease=5.0) == []
        with pytest.raises(ConfigError, match="before-webhook"):
            await inbox.replay(answered, now=1000.0)
        only = await inbox.list(status=InboxStatus.ANSWERED)
        assert [e.id for e in only] == [answered]
        assert await inbox.list(command="Group.Other") == []
    finally:
        await inbox.close()


async def test_prune_removes_only_old_handled_entries(db_url: str) -> None:
    """Pruning deletes old done/answered entries and keeps dead, pending and recent ones."""
    inbox = open_inbox(db_url)
    try:
        old_done, _ = await inbox.put(entry(1, at=100.0))
        old_dead, _ = await inbox.put(entry(2, at=100.0))
        old_pending, _ = await inbox.put(entry(3, at=100.0))
        old_answer, _ = await inbox.put(entry(4, status=InboxStatus.ANSWERED, at=100.0))
        new_done, _ = await inbox.put(entry(5, at=900.0))
        await inbox.complete(old_done, now=101.0)
        await inbox.fail(old_dead, "x", retry_at=None, now=101.0)
        await inbox.complete(new_done, now=901.0)
        assert await inbox.prune(before=500.0) == 2
        left = {e.id for e in await inbox.list(limit=10)}
        assert left == {old_dead, old_pending, new_done}
        assert old_answer not in left
    finally:
        await inbox.close()


async def test_concurrent_claimers_never_share_an_entry(db_url: str) -> None:
    """Two inboxes on one database (two processes' worth) claim disjoint entries."""
    writer = open_inbox(db_url)
    a = open_inbox(db_url)
    b = open_inbox(db_url)
    try:
        for n in range(300):
            await writer.put(entry(n))
        seen: list[int] = []

        async def drain(inbox: object) -> None:
            while True:
                batch = await inbox.claim(now=1000.0, limit=7, lease=60.0)  # type: ignore[attr-defined]
                if not batch:
                    return
                seen.extend(e.id for e in batch)

        await asyncio.gather(drain(a), drain(b), drain(a), drain(b))
        assert len(seen) == 300
        assert len(set(seen)) == 300
    finally:
        for inbox in (writer, a, b):
            await inbox.close()


async def test_entries_stored_claimed_wait_out_their_lease(db_url: str) -> None:
    """An entry its receiver handles at once is not claimed by others until its lease ends."""
    from dataclasses import replace

    inbox = open_inbox(db_url)
    try:
        held, _ = await inbox.put(replace(entry(1), claimed_until=1030.0))
        free, _ = await inbox.put(entry(2))
        assert [e.id for e in await inbox.claim(now=1000.0, limit=10, lease=5.0)] == [free]
        assert await inbox.claim(now=1004.0, limit=10, lease=5.0) == []
        later = await inbox.claim(now=1031.0, limit=10, lease=5.0)
        assert [(e.id, e.attempts) for e in later] == [(held, 2), (free, 2)]
    finally:
        await inbox.close()


async def test_puts_in_one_turn_are_stored_once_each(db_url: str) -> None:
    """Concurrent puts (one INSERT for the lot) keep per-webhook ids and dedup, repeats too."""
    inbox = open_inbox(db_url)
    try:
        first, _ = await inbox.put(entry(0))
        results = await asyncio.gather(*(inbox.put(entry(n % 4)) for n in range(12)))
        ids = {n: results[n][0] for n in range(4)}
        assert results[0] == (first, False)
        assert [new for _, new in results[1:4]] == [True, True, True]
        assert all(results[n] == (ids[n % 4], False) for n in range(4, 12))
        assert len(await inbox.list(limit=50)) == 4
    finally:
        await inbox.close()
