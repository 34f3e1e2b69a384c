"""Read-only queries behind the serve console's views: before-webhook calls with their one
attempt, and the accounts, Official Accounts (with subscribers and messages) and groups (with
members) a webhook reports on. Each is a function of a connection, run by the server store;
none writes. The tables are those of ``timhooks/server/schema.py``.
"""

from __future__ import annotations

from typing import Any

from timhooks.console.forms import Filters

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


def overview(conn: Any, app_id: int) -> dict[str, Any]:
    """An app's accounts, Official Accounts and groups (the first 200 of each) and counts."""

    def count(table: str) -> int:
        return int(
            conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE sdk_app_id = ?", (app_id,)
            ).fetchone()[0]
        )

    return {
        "accounts": _dicts(
            conn.execute(
                "SELECT user_id, nick, created_at FROM accounts WHERE sdk_app_id = ?"
                " ORDER BY user_id LIMIT ?",
                (app_id, _LIST),
            )
        ),
        "official_accounts": _dicts(
            conn.execute(
                "SELECT oa_id, name, owner, subscriber_num, max_subscriber_num, create_time"
                " FROM official_accounts WHERE sdk_app_id = ? ORDER BY oa_id LIMIT ?",
                (app_id, _LIST),
            )
        ),
        "groups": _dicts(
            conn.execute(
                "SELECT group_id, type, name, owner, member_num, max_member_count,"
                " apply_join_option, create_time FROM groups WHERE sdk_app_id = ?"
                " ORDER BY group_id LIMIT ?",
                (app_id, _LIST),
            )
        ),
        "counts": {
            "accounts": count("accounts"),
            "official_accounts": count("official_accounts"),
            "groups": count("groups"),
        },
    }


def official_account(conn: Any, app_id: int, oa_id: str) -> dict[str, Any] | None:
    """One Official Account with its subscribers and its latest messages."""
    row = conn.execute(
        "SELECT oa_id, name, owner, introduction, organization, subscriber_num,"
        " max_subscriber_num, create_time, last_msg_time FROM official_accounts"
        " WHERE sdk_app_id = ? AND oa_id = ?",
        (app_id, oa_id),
    ).fetchone()
    if row is None:
        return None
    return {
        "oa": dict(row),
        "subscribers": _dicts(
            conn.execute(
                "SELECT user_id, subscribe_time FROM subscribers WHERE sdk_app_id = ?"
                " AND oa_id = ? ORDER BY id LIMIT ?",
                (app_id, oa_id, _LIST),
            )
        ),
        "messages": _dicts(
            conn.execute(
                "SELECT msg_key, msg_time, body, recalled_at FROM oa_messages"
                " WHERE sdk_app_id = ? AND oa_id = ? ORDER BY msg_time DESC LIMIT ?",
                (app_id, oa_id, _LIST),
            )
        ),
    }


def group(conn: Any, app_id: int, group_id: str) -> dict[str, Any] | None:
    """One group with its members."""
    row = conn.execute(
        "SELECT group_id, type, name, owner, introduction, notification, member_num,"
        " max_member_count, apply_join_option, create_time FROM groups"
        " WHERE sdk_app_id = ? AND group_id = ?",
        (app_id, group_id),
    ).fetchone()
    if row is None:
        return None
    return {
        "group": dict(row),
        "members": _dicts(
            conn.execute(
                "SELECT user_id, role, join_time FROM group_members WHERE sdk_app_id = ?"
                " AND group_id = ? ORDER BY join_time, user_id LIMIT ?",
                (app_id, group_id, _LIST),
            )
        ),
    }
