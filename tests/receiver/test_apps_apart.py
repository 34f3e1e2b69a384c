"""A receiver serving several apps keeps their webhooks apart: one app's webhook is never taken
for another app's repeat."""

from __future__ import annotations

from pathlib import Path

from receiver_support import ACK, GROUP_FULL, body, client, eventually, post

from timhooks.protocol.events import AfterGroupFull
from timhooks.receiver import Receiver, WebhookMeta
from timhooks.storage import InboxStatus

APP_A = 1400000001
APP_B = 1400000002


async def test_same_webhook_from_another_app_is_stored_and_handled(tmp_path: Path) -> None:
    """App B's webhook with the same command and body as app A's is stored and handled for B;
    holding B's token does not let anyone suppress A's webhooks."""
    receiver = Receiver({APP_A: "token-a", APP_B: "token-b"}, inbox=tmp_path / "inbox.db")
    handled: list[int] = []

    @receiver.on(AfterGroupFull)
    def record(event: AfterGroupFull, meta: WebhookMeta) -> None:
        handled.append(meta.sdk_app_id)

    payload = body(GROUP_FULL, GroupId="@TGS#shared")
    try:
        async with client(receiver) as http:
            from_b = await post(http, GROUP_FULL, payload, app=APP_B, token="token-b")
            from_a = await post(http, GROUP_FULL, payload, app=APP_A, token="token-a")
            again_a = await post(http, GROUP_FULL, payload, app=APP_A, token="token-a")
        assert [r.json() for r in (from_b, from_a, again_a)] == [ACK, ACK, ACK]

        async def both_done() -> bool:
            entries = await receiver.inbox.list()
            return len(entries) == 2 and all(e.status is InboxStatus.DONE for e in entries)

        await eventually(both_done)
        assert {e.sdk_app_id for e in await receiver.inbox.list()} == {APP_A, APP_B}
        assert sorted(handled) == [APP_A, APP_B]
    finally:
        await receiver.stop()
