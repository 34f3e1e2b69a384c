"""The inbox's dedup key: SdkAppid, command and body, on both backends, and its migration."""

from __future__ import annotations

import asyncio
from typing import Any

from timhooks.storage import InboxStatus, NewInboxEntry, open_inbox, open_writer, webhook_digest
from timhooks.storage.inbox import INBOX_MIGRATIONS

CMD = "Group.CallbackAfterGroupFull"
BODY = b'{"CallbackCommand":"Group.CallbackAfterGroupFull","GroupId":"@TGS#same"}'
APP_A = 1400000001
APP_B = 1400000002


def webhook(app: int, body: bytes = BODY, command: str = CMD) -> NewInboxEntry:
    return NewInboxEntry(
        sdk_app_id=app,
        command=command,
        phase="after",
        body=body,
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        received_at=1000.0,
    )


async def test_same_command_and_body_from_another_app_is_stored(db_url: str) -> None:
    """Two apps sending the same command and body are two webhooks, each stored and pending;
    only a repeat from the same app is folded into the first."""
    inbox = open_inbox(db_url)
    try:
        a_id, a_new = await inbox.put(webhook(APP_A))
        b_id, b_new = await inbox.put(webhook(APP_B))
        assert (a_new, b_new) == (True, True)
        assert a_id != b_id
        assert await inbox.put(webhook(APP_B)) == (b_id, False)
        assert await inbox.put(webhook(APP_A)) == (a_id, False)
        entries = {e.id: e for e in await inbox.list()}
        assert {e.sdk_app_id for e in entries.values()} == {APP_A, APP_B}
        assert all(e.status is InboxStatus.PENDING for e in entries.values())
    finally:
        await inbox.close()


async def test_same_body_from_two_apps_in_one_batch(db_url: str) -> None:
    """Puts gathered into one INSERT keep the apps apart too (the batch path)."""
    inbox = open_inbox(db_url)
    try:
        results = await asyncio.gather(
            inbox.put(webhook(APP_A)),
            inbox.put(webhook(APP_B)),
            inbox.put(webhook(APP_A)),
            inbox.put(webhook(APP_B)),
        )
        (a, a_new), (b, b_new), again_a, again_b = results
        assert (a_new, b_new) == (True, True)
        assert a != b
        assert (again_a, again_b) == ((a, False), (b, False))
    finally:
        await inbox.close()


def _old_inbox_rows(db_url: str) -> list[int]:
    """An inbox at schema version 2 (the key was command and body) with two rows in it."""
    writer = open_writer(db_url, component="inbox", migrations=INBOX_MIGRATIONS[:2])
    try:
        ids: list[int] = []
        for n, body in enumerate((BODY, BODY.replace(b"same", b"other"))):

            def op(conn: Any, body: bytes = body, n: int = n) -> int:
                row = conn.execute(
                    "INSERT INTO inbox (digest, sdk_app_id, command, phase, status, body,"
                    " received_at, attempts) VALUES (?, ?, ?, 'after', 'done', ?, ?, 1)"
                    " RETURNING id",
                    (webhook_digest(CMD, body), APP_A, CMD, body, 900.0 + n),
                ).fetchone()
                return int(row[0])

            ids.append(writer.submit(op).result())
        return ids
    finally:
        writer.close()


async def test_migration_keeps_old_rows_and_their_repeats(db_url: str) -> None:
    """Upgrading an inbox written with the old key keeps every row and its id; a repeat of an
    old row from its app is still recognised, the same webhook from another app is stored."""
    old_ids = _old_inbox_rows(db_url)
    inbox = open_inbox(db_url)
    try:
        kept = await inbox.list()
        assert sorted(e.id for e in kept) == sorted(old_ids)
        assert all(e.status is InboxStatus.DONE and e.attempts == 1 for e in kept)
        assert await inbox.put(webhook(APP_A)) == (old_ids[0], False)
        b_id, b_new = await inbox.put(webhook(APP_B))
        assert b_new is True
        assert b_id > max(old_ids)
        assert await inbox.put(webhook(APP_B)) == (b_id, False)
    finally:
        await inbox.close()
