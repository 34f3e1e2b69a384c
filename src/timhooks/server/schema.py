"""The Chat backend's tables, as versioned migrations (SQLite-flavoured portable DDL: see
``timhooks.storage.migrations``).

A migration is a list of statements. The outbox's own (``outbox``, ``attempts``) come from
``timhooks.server.outbox``, their owner; the others are the apps and the state of the Chat
backend (accounts, Official Accounts, groups). A released migration never changes: a new table
or column is a new migration at the end.
"""

from __future__ import annotations

from timhooks.server.outbox import (
    OUTBOX_V1,
    OUTBOX_V2,
    OUTBOX_V3,
    OUTBOX_V9,
    OUTBOX_V9_POSTGRES,
)
from timhooks.storage.migrations import Migration

__all__ = ["SERVER_MIGRATIONS"]

_TABLES_V1 = (
    """CREATE TABLE IF NOT EXISTS apps (
    sdk_app_id INTEGER PRIMARY KEY,
    secret_key TEXT NOT NULL,
    admins TEXT NOT NULL,
    callback TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS accounts (
    sdk_app_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    nick TEXT NOT NULL DEFAULT '',
    face_url TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    PRIMARY KEY (sdk_app_id, user_id)
)""",
    """CREATE TABLE IF NOT EXISTS official_accounts (
    sdk_app_id INTEGER NOT NULL,
    oa_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    introduction TEXT NOT NULL DEFAULT '',
    face_url TEXT NOT NULL DEFAULT '',
    organization TEXT NOT NULL DEFAULT '',
    custom_string TEXT NOT NULL DEFAULT '',
    max_subscriber_num INTEGER NOT NULL,
    subscriber_num INTEGER NOT NULL DEFAULT 0,
    msg_seq INTEGER NOT NULL DEFAULT 0,
    create_time INTEGER NOT NULL,
    last_msg_time INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sdk_app_id, oa_id)
)""",
    """CREATE TABLE IF NOT EXISTS subscribers (
    id INTEGER PRIMARY KEY,
    sdk_app_id INTEGER NOT NULL,
    oa_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    subscribe_time INTEGER NOT NULL,
    UNIQUE (sdk_app_id, oa_id, user_id)
)""",
    """CREATE TABLE IF NOT EXISTS oa_messages (
    sdk_app_id INTEGER NOT NULL,
    oa_id TEXT NOT NULL,
    msg_key TEXT NOT NULL,
    msg_time INTEGER NOT NULL,
    random INTEGER NOT NULL,
    body TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL DEFAULT '',
    online_only INTEGER NOT NULL DEFAULT 0,
    recalled_at REAL,
    PRIMARY KEY (sdk_app_id, oa_id, msg_key)
)""",
    """CREATE TABLE IF NOT EXISTS groups (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    introduction TEXT NOT NULL DEFAULT '',
    notification TEXT NOT NULL DEFAULT '',
    face_url TEXT NOT NULL DEFAULT '',
    max_member_count INTEGER NOT NULL,
    member_num INTEGER NOT NULL DEFAULT 0,
    apply_join_option TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id)
)""",
    """CREATE TABLE IF NOT EXISTS group_members (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'Member',
    join_time INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, user_id)
)""",
    """CREATE TABLE IF NOT EXISTS group_applications (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    applied_at REAL NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, user_id)
)""",
)

# Migration 6: what modify_group_base_info, modify_group_member_info, the group-attribute
# commands and the Community topic commands keep (``group_life``, ``member_fields``,
# ``group_attrs``, ``topics``).
_GROUP_LIFE_V6 = (
    "ALTER TABLE groups ADD COLUMN shut_up_all INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE groups ADD COLUMN app_defined TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE groups ADD COLUMN support_topic INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE group_members ADD COLUMN name_card TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE group_members ADD COLUMN msg_flag TEXT NOT NULL DEFAULT 'AcceptAndNotify'",
    "ALTER TABLE group_members ADD COLUMN app_member_defined TEXT NOT NULL DEFAULT '{}'",
    """CREATE TABLE IF NOT EXISTS group_attrs (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    attr_key TEXT NOT NULL,
    attr_value TEXT NOT NULL,
    PRIMARY KEY (sdk_app_id, group_id, attr_key)
)""",
    """CREATE TABLE IF NOT EXISTS group_topics (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    introduction TEXT NOT NULL DEFAULT '',
    notification TEXT NOT NULL DEFAULT '',
    face_url TEXT NOT NULL DEFAULT '',
    custom_string TEXT NOT NULL DEFAULT '',
    shut_up_all INTEGER NOT NULL DEFAULT 0,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, topic_id)
)""",
    "CREATE INDEX IF NOT EXISTS group_topics_group ON group_topics (sdk_app_id, group_id)",
)


# One-to-one messages, by sender and recipient; group messages, by group and MsgSeq. A message
# sent online only (MsgLifeTime 0, OnlineOnlyFlag 1) is kept for recall but left out of history
# reads and unread counts; sender_sync 0 (SyncOtherMachine 2) leaves it out of the sender's.
_MESSAGES_V5 = (
    """CREATE TABLE IF NOT EXISTS c2c_messages (
    id INTEGER PRIMARY KEY,
    sdk_app_id INTEGER NOT NULL,
    from_account TEXT NOT NULL,
    to_account TEXT NOT NULL,
    msg_seq INTEGER NOT NULL,
    msg_random INTEGER NOT NULL,
    msg_time INTEGER NOT NULL,
    msg_key TEXT NOT NULL,
    body TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL DEFAULT '',
    online_only INTEGER NOT NULL DEFAULT 0,
    sender_sync INTEGER NOT NULL DEFAULT 1,
    is_read INTEGER NOT NULL DEFAULT 0,
    recalled_at REAL
)""",
    "CREATE INDEX IF NOT EXISTS c2c_messages_conversation"
    " ON c2c_messages (sdk_app_id, from_account, to_account, msg_time)",
    "CREATE INDEX IF NOT EXISTS c2c_messages_unread"
    " ON c2c_messages (sdk_app_id, to_account, is_read)",
    """CREATE TABLE IF NOT EXISTS group_messages (
    sdk_app_id INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    msg_seq INTEGER NOT NULL,
    from_account TEXT NOT NULL,
    random INTEGER NOT NULL,
    msg_time INTEGER NOT NULL,
    priority TEXT NOT NULL DEFAULT 'Normal',
    body TEXT NOT NULL,
    cloud_custom_data TEXT NOT NULL DEFAULT '',
    online_only INTEGER NOT NULL DEFAULT 0,
    recalled_at REAL,
    PRIMARY KEY (sdk_app_id, group_id, msg_seq)
)""",
)


# Migration 7: the relationship chain and profiles ("Adding Friends",
# https://trtc.io/document/34902; "Profile Management", https://trtc.io/document/33520) and the
# online state ("Querying Account Online Status", https://trtc.io/document/35477). A friend row
# is one direction: ``friend_id`` is on ``user_id``'s list. Nick and Image stay in ``accounts``.
SOCIAL_TABLES = (
    """CREATE TABLE IF NOT EXISTS friends (
    sdk_app_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    friend_id TEXT NOT NULL,
    remark TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    add_source TEXT NOT NULL DEFAULT '',
    add_wording TEXT NOT NULL DEFAULT '',
    add_time INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, user_id, friend_id)
)""",
    """CREATE TABLE IF NOT EXISTS friend_requests (
    sdk_app_id INTEGER NOT NULL,
    from_id TEXT NOT NULL,
    to_id TEXT NOT NULL,
    remark TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL DEFAULT '',
    add_source TEXT NOT NULL DEFAULT '',
    add_wording TEXT NOT NULL DEFAULT '',
    add_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, from_id, to_id)
)""",
    """CREATE TABLE IF NOT EXISTS blocklist (
    sdk_app_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (sdk_app_id, user_id, blocked_id)
)""",
    """CREATE TABLE IF NOT EXISTS profile_fields (
    sdk_app_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sdk_app_id, user_id, tag)
)""",
    """CREATE TABLE IF NOT EXISTS online_state (
    sdk_app_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (sdk_app_id, user_id, platform)
)""",
)


SERVER_MIGRATIONS = (
    Migration(
        1,
        "apps, accounts, Official Accounts, groups, outbox, attempts",
        (*_TABLES_V1, *OUTBOX_V1),
    ),
    Migration(2, "indexes for pruning finished deliveries and listing by command", OUTBOX_V2),
    Migration(
        3,
        "failed before-webhook records become 'fallback' (the failure policy answered them)",
        OUTBOX_V3,
    ),
    Migration(
        4,
        "group members may be muted until a time (forbid_send_msg)",
        ("ALTER TABLE group_members ADD COLUMN shut_up_until INTEGER NOT NULL DEFAULT 0",),
    ),
    Migration(5, "one-to-one and group messages", _MESSAGES_V5),
    Migration(
        6, "group profiles, member fields, group attributes, Community topics", _GROUP_LIFE_V6
    ),
    Migration(
        7,
        "friends, friend requests, blocklists, profile fields, online state per platform",
        (*SOCIAL_TABLES,),
    ),
    Migration(
        8,
        "groups by owner and type (CreateGroupNum of BeforeCreateGroup)",
        ("CREATE INDEX IF NOT EXISTS groups_owner ON groups (sdk_app_id, owner, type)",),
    ),
    Migration(
        9,
        "due webhooks indexed in claim order (next_attempt_at, id)",
        OUTBOX_V9,
        by_dialect={"postgresql": OUTBOX_V9_POSTGRES},
    ),
)
