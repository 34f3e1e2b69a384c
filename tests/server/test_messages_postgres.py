"""The message commands on PostgreSQL: the same SQL serves both backends (needs
TEST_POSTGRES_URL; a fresh schema per test)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from server_support import APP, GROUP, KEY, AppBackend, Rest, app_backend, members, serve

from pg_support import fresh_schema
from timhooks.protocol import events as ev
from timhooks.server.app import ChatServer
from timhooks.server.config import CallbackConfig, ServerConfig

PG_URL = os.environ.get("TEST_POSTGRES_URL")
TEXT = [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    with fresh_schema() as url:
        yield url


@contextlib.asynccontextmanager
async def _served(tmp_path: Path, db: str) -> AsyncIterator[tuple[Rest, AppBackend]]:
    async with app_backend(tmp_path) as backend:
        server = ChatServer(
            ServerConfig(db=db, app_id=APP, key=KEY, callback=CallbackConfig(url=backend.url))
        )
        chat_side = await serve(server.asgi)
        try:
            async with httpx.AsyncClient(base_url=chat_side.url, timeout=30) as http:
                yield Rest(http), backend
        finally:
            await chat_side.stop()


async def test_messages_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """sendmsg, history paging, recall and read reports, and group send, recall and history,
    on PostgreSQL with their webhooks."""
    async with _served(tmp_path, pg_url) as (rest, backend):
        await rest.import_users("amy", "bob")
        keys = []
        for i in range(3):
            body = {"From_Account": "amy", "To_Account": "bob", "MsgRandom": i, "MsgBody": TEXT}
            keys.append((await rest.ok("openim", "sendmsg", body))["MsgKey"])
        page = {
            "Operator_Account": "bob",
            "Peer_Account": "amy",
            "MaxCnt": 2,
            "MinTime": 0,
            "MaxTime": 2**32 - 1,
        }
        first = await rest.ok("openim", "admin_getroammsg", page)
        assert [m["MsgKey"] for m in first["MsgList"]] == keys[:0:-1]
        rest_page = {**page, "LastMsgKey": first["LastMsgKey"], "MaxTime": first["LastMsgTime"]}
        second = await rest.ok("openim", "admin_getroammsg", rest_page)
        assert ([m["MsgKey"] for m in second["MsgList"]], second["Complete"]) == ([keys[0]], 1)
        await rest.ok(
            "openim",
            "admin_msgwithdraw",
            {"From_Account": "amy", "To_Account": "bob", "MsgKey": keys[0]},
        )
        await rest.ok(
            "openim", "admin_set_msg_read", {"Report_Account": "bob", "Peer_Account": "amy"}
        )
        group = await rest.create_group("amy")
        await rest.ok(GROUP, "add_group_member", {"GroupId": group, "MemberList": members("bob")})
        for _ in range(2):
            body = {"GroupId": group, "From_Account": "bob", "MsgBody": TEXT}
            await rest.ok(GROUP, "send_group_msg", body)
        recall = await rest.ok(
            GROUP, "group_msg_recall", {"GroupId": group, "MsgSeqList": [{"MsgSeq": 1}]}
        )
        assert recall["RecallRetList"] == [{"MsgSeq": 1, "RetCode": 0}]
        history = await rest.ok(
            GROUP, "group_msg_get_simple", {"GroupId": group, "ReqMsgNumber": 5}
        )
        assert [(m["MsgSeq"], m["IsPlaceMsg"]) for m in history["RspMsgList"]] == [(2, 0), (1, 1)]
        report = await backend.received(ev.C2CAfterMsgReport.command)
        assert report[0].unread_msg_num == 0
        for model in (
            ev.C2CAfterSendMsg,
            ev.C2CAfterMsgWithDraw,
            ev.GroupAfterSendMsg,
            ev.AfterRecallMsg,
        ):
            assert await backend.received(model.command)


async def test_concurrent_recalls_of_one_message_recall_it_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Recalls of one message racing on pooled PostgreSQL connections: one succeeds, the others
    get 20023, and one C2C.CallbackAfterMsgWithDraw is sent."""
    async with _served(tmp_path, pg_url) as (rest, backend):
        await rest.import_users("amy", "bob")
        body = {"From_Account": "amy", "To_Account": "bob", "MsgRandom": 1, "MsgBody": TEXT}
        key = (await rest.ok("openim", "sendmsg", body))["MsgKey"]
        recall = {"From_Account": "amy", "To_Account": "bob", "MsgKey": key}
        answers = await asyncio.gather(
            *(rest.call("openim", "admin_msgwithdraw", recall) for _ in range(4))
        )
        assert sorted(a["ErrorCode"] for a in answers) == [0, 20023, 20023, 20023], answers
        # Every call has answered, so every webhook it queued is committed in the outbox.
        import psycopg

        with psycopg.connect(pg_url) as conn:
            queued = conn.execute(
                "SELECT count(*) FROM outbox WHERE command = %s",
                (ev.C2CAfterMsgWithDraw.command,),
            ).fetchone()
        assert queued == (1,)
        [withdrawn] = await backend.received(ev.C2CAfterMsgWithDraw.command)
        assert withdrawn.msg_key == key  # type: ignore[attr-defined]
