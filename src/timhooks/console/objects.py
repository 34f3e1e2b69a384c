"""What the serve console's views read: before-webhook calls with their one attempt, and the
accounts, Official Accounts (with subscribers and messages) and groups (with members and
messages) a webhook reports on. Each is a function of a connection, run by the server store;
none writes. The objects' reads are their concept modules' in ``timhooks.server``.
"""

from __future__ import annotations

from typing import Any

from timhooks.console.forms import Filters
from timhooks.server import (
    accounts,
    group_members,
    group_messages,
    groups,
    oa_messages,
    official_accounts,
    subscribers,
)
from timhooks.server.sql import count_rows
from timhooks.storage.engine import Connection

__all__ = ["before_calls", "group", "official_account", "overview"]

_LIST = 200  # rows per object list


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in cursor.fetchall()]


def before_calls(conn: Any, filters: Filters, limit: int) -> list[dict[str, Any]]:
    """Before-webhook calls, newest first, each with its attempt (latency, answer, error)."""
    conditions, params = filters.log.where("created_at", conn.dialect)
    clause = " AND ".join(["phase = 'before'", *conditions])
    rows = _dicts(
        conn.execute(
            "SELECT id, sdk_app_id, command, status, body, created_at FROM outbox"
            f" WHERE {clause} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
    )
    if not rows:
        return rows
    ids = [row["id"] for row in rows]
    attempts = {
        row["outbox_id"]: row
        for row in _dicts(
            conn.execute(
                "SELECT outbox_id, latency_ms, status_code, error, response FROM attempts"
                f" WHERE outbox_id IN ({','.join('?' * len(ids))})",
                ids,
            )
        )
    }
    empty = {"latency_ms": None, "status_code": None, "error": None, "response": None}
    for row in rows:
        row["body"] = bytes(row["body"])
        found = attempts.get(row["id"], empty)
        row.update({k: found[k] for k in empty})
    return rows


def overview(conn: Connection, app_id: int) -> dict[str, Any]:
    """An app's accounts, Official Accounts and groups (the first 200 of each) and counts."""
    return {
        "accounts": accounts.account_listing(conn, app_id, _LIST),
        "official_accounts": official_accounts.oa_listing(conn, app_id, _LIST),
        "groups": groups.group_listing(conn, app_id, _LIST),
        "counts": {
            table: count_rows(conn, table, app_id)
            for table in ("accounts", "official_accounts", "groups")
        },
    }


def official_account(conn: Connection, app_id: int, oa_id: str) -> dict[str, Any] | None:
    """One Official Account with its subscribers and its latest messages."""
    profile = official_accounts.oa_profile(conn, app_id, oa_id)
    if profile is None:
        return None
    return {
        "oa": profile,
        "subscribers": subscribers.subscribers_of(conn, app_id, oa_id, _LIST),
        "messages": oa_messages.latest_oa_messages(conn, app_id, oa_id, _LIST),
    }


def group(conn: Connection, app_id: int, group_id: str) -> dict[str, Any] | None:
    """One group with its members and its latest messages."""
    profile = groups.group_profile(conn, app_id, group_id)
    if profile is None:
        return None
    return {
        "group": profile,
        "members": group_members.members_of(conn, app_id, group_id, _LIST),
        "messages": group_messages.latest_group_messages(conn, app_id, group_id, _LIST),
    }
