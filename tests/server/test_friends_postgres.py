"""Friends on PostgreSQL, where a ``timhooks serve`` runs several transactions at once: crosswise
friend adds and blocks of the same users all succeed, and each new direction of a friendship is
reported once (Sns.CallbackFriendAdd at a real receiver)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_support import ServeProcess
from server_support import Rest, app_backend

from loopback import free_port
from pg_support import fresh_schema
from timhooks.protocol import events as ev

SNS = "sns"
PAIRS = 12

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """serve's database: a fresh PostgreSQL schema."""
    with fresh_schema() as url:
        yield url


def add(rest: Rest, a: str, b: str) -> asyncio.Future[dict]:
    body = {"From_Account": a, "AddFriendItem": [{"To_Account": b}], "ForceAddFlags": 1}
    return asyncio.ensure_future(rest.ok(SNS, "friend_add", body))


async def test_crosswise_adds_and_blocks(pg_schema: str, tmp_path: Path) -> None:
    """For each pair, a adds b and b adds a at the same time (both ways, forced): both calls
    succeed, the pair ends up friends both ways, and FriendAdd names each direction once. Then
    each blocks the other at the same time: both succeed and the friendship is gone."""
    async with app_backend(tmp_path) as app:
        serve = ServeProcess(tmp_path, free_port(), pg_schema, app.url, name="serve")  # type: ignore[arg-type]
        try:
            await serve.started()
            async with httpx.AsyncClient(base_url=serve.url, timeout=60) as http:
                rest = Rest(http)
                pairs = [(f"a{i}", f"b{i}") for i in range(PAIRS)]
                await rest.import_users(*(u for pair in pairs for u in pair))
                await asyncio.gather(
                    *(f for a, b in pairs for f in (add(rest, a, b), add(rest, b, a)))
                )
                deadline = asyncio.get_running_loop().time() + 30
                while True:
                    hits = app.recorder.of(ev.FriendAdd.command)
                    reported = [
                        (p["From_Account"], p["To_Account"])
                        for h in hits
                        for p in h.body["PairList"]
                    ]
                    if len(reported) >= 2 * PAIRS:
                        break
                    assert asyncio.get_running_loop().time() < deadline, reported
                    await asyncio.sleep(0.05)
                assert sorted(reported) == sorted(
                    [(a, b) for a, b in pairs] + [(b, a) for a, b in pairs]
                )
                for a, b in pairs:
                    check = await rest.ok(
                        SNS, "friend_check", {"From_Account": a, "To_Account": [b]}
                    )
                    assert check["InfoItem"][0]["Relation"] == "CheckResult_Type_BothWay"
                blocks = [
                    rest.ok(SNS, "black_list_add", {"From_Account": x, "To_Account": [y]})
                    for a, b in pairs
                    for x, y in ((a, b), (b, a))
                ]
                for answer in await asyncio.gather(*blocks):
                    assert answer["ResultItem"][0]["ResultCode"] == 0, answer
                for a, b in pairs:
                    check = await rest.ok(
                        SNS, "friend_check", {"From_Account": a, "To_Account": [b]}
                    )
                    assert check["InfoItem"][0]["Relation"] == "CheckResult_Type_NoRelation"
            await serve.terminate()
        finally:
            serve.close()
