"""Online state: users log in and out through the client, an admin invalidates a user's login
(``im_open_login_svc/kick``) and reads the state (``openim/query_online_status``), with
State.StateChange.

Tencent's "Status Change Webhooks" (https://www.tencentcloud.com/document/product/1047/34357: the
Actions and Reasons), "Invalidating Login States" (https://trtc.io/document/34957) and "Querying
Account Online Status" (https://trtc.io/document/35477: Online, PushOnline, Offline, per
platform with ``IsNeedDetail``). The state is kept per user and platform (``online_state``): a
login makes the platform Online (one device a platform: a second login there logs the first out,
``KickedDevice``), a logout removes it, a lost connection leaves a phone (iOS, Android, iPad)
PushOnline, which offline push still reaches, and any other platform Offline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.errors import RestError
from timhooks.protocol.query import Platform
from timhooks.server.accounts import USER_ID_MAX, imported, lock_accounts, require_account
from timhooks.server.bodies import Body, Empty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import placeholders
from timhooks.storage.engine import Connection

__all__ = ["commands", "online_states"]

ONLINE = "Online"
PUSH_ONLINE = "PushOnline"
OFFLINE = "Offline"
# Platforms whose app, gone from the foreground, is still reached by offline push.
_PUSHED = frozenset({Platform.IOS.value, Platform.ANDROID.value, Platform.IPAD.value})

commands = CommandTable(bad_param=RestCode.ACCOUNT_BAD_PARAM)


class Kick(Body, frozen=True, kw_only=True):
    """im_open_login_svc/kick (``Identifier`` is the older name of ``UserID``)."""

    wire_aliases: ClassVar[dict[str, str]] = {"UserID": "Identifier"}

    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=USER_ID_MAX)] = msgspec.field(
        name="UserID"
    )


class QueryOnlineStatus(Body, frozen=True, kw_only=True):
    """openim/query_online_status: up to 500 users."""

    users: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1)]],
        msgspec.Meta(min_length=1, max_length=500),
    ] = msgspec.field(name="To_Account")
    need_detail: Annotated[int, msgspec.Meta(ge=0, le=1)] = msgspec.field(
        name="IsNeedDetail", default=0
    )


class Disconnect(Body, frozen=True, kw_only=True):
    """timhooks_client/disconnect: the connection was closed or timed out."""

    reason: Annotated[str, one_of(["LinkClose", "TimeOut"])] = msgspec.field(
        name="Reason", default="LinkClose"
    )


# --- rows --------------------------------------------------------------------------------------


def _state_change(conn: Connection, call: Call, action: str, reason: str, **extra: Any) -> None:
    emit(
        conn,
        call,
        ev.StateChange,
        info=ev.StateInfo(action=action, to_account=call.operator, reason=reason),
        **extra,
    )


def login_tx(conn: Connection, call: Call) -> None:
    """The user is Online on the call's platform; queue StateChange Login (Register). A device
    already logged in (Online) on that platform is logged out by it: ``KickedDevice`` names it;
    a phone left PushOnline by a lost connection is the same device coming back."""
    lock_accounts(conn, call.app_id, [call.operator])  # one state change of a user at a time
    before = conn.execute(
        "SELECT status FROM online_state WHERE sdk_app_id = ? AND user_id = ? AND platform = ?",
        (call.app_id, call.operator, call.platform),
    ).fetchone()
    conn.execute(
        "INSERT INTO online_state (sdk_app_id, user_id, platform, status, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sdk_app_id, user_id, platform) DO UPDATE SET"
        " status = excluded.status, updated_at = excluded.updated_at",
        (call.app_id, call.operator, call.platform, ONLINE, call.now),
    )
    kicked = (
        (ev.KickedDevice(platform=call.platform),)
        if before is not None and before[0] == ONLINE
        else ()
    )
    _state_change(conn, call, "Login", "Register", kicked_device=kicked)


def logout_tx(conn: Connection, call: Call) -> None:
    """The user logged out on the call's platform; queue StateChange Logout (Unregister)."""
    lock_accounts(conn, call.app_id, [call.operator])
    conn.execute(
        "DELETE FROM online_state WHERE sdk_app_id = ? AND user_id = ? AND platform = ?",
        (call.app_id, call.operator, call.platform),
    )
    _state_change(conn, call, "Logout", "Unregister")


def disconnect_tx(conn: Connection, call: Call, reason: str) -> None:
    """The connection on the call's platform is gone; queue StateChange Disconnect."""
    lock_accounts(conn, call.app_id, [call.operator])
    if call.platform in _PUSHED:
        conn.execute(
            "UPDATE online_state SET status = ?, updated_at = ? WHERE sdk_app_id = ? AND"
            " user_id = ? AND platform = ?",
            (PUSH_ONLINE, call.now, call.app_id, call.operator, call.platform),
        )
    else:
        conn.execute(
            "DELETE FROM online_state WHERE sdk_app_id = ? AND user_id = ? AND platform = ?",
            (call.app_id, call.operator, call.platform),
        )
    _state_change(conn, call, "Disconnect", reason)


def kick_tx(conn: Connection, call: Call, user: str) -> None:
    """Log ``user`` out everywhere: one StateChange Logout (Unregister) per platform the user
    was on, with that platform as OptPlatform."""
    require_account(conn, call.app_id, user, RestCode.ACCOUNT_NOT_IMPORTED)
    lock_accounts(conn, call.app_id, [user])
    # The platforms this statement logged out, and only those, get their Logout.
    platforms = sorted(
        r[0]
        for r in conn.execute(
            "DELETE FROM online_state WHERE sdk_app_id = ? AND user_id = ? RETURNING platform",
            (call.app_id, user),
        ).fetchall()
    )
    for platform in platforms:
        on = dataclasses.replace(call, operator=user, platform=platform)
        _state_change(conn, on, "Logout", "Unregister")


def online_states(
    conn: Connection, app_id: int, users: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(platform, status) of each user's platforms that are not Offline."""
    found: dict[str, list[tuple[str, str]]] = {u: [] for u in users}
    for start in range(0, len(users), 500):
        chunk = list(users[start : start + 500])
        for row in conn.execute(
            "SELECT user_id, platform, status FROM online_state WHERE sdk_app_id = ? AND"
            f" user_id IN ({placeholders(len(chunk))}) ORDER BY user_id, platform",
            (app_id, *chunk),
        ):
            found[row[0]].append((row[1], row[2]))
    return found


def query_online(
    conn: Connection, app_id: int, users: Sequence[str], detail: bool
) -> dict[str, Any]:
    """query_online_status's QueryResult and ErrorList (70107 for a user not imported)."""
    people = list(dict.fromkeys(users))
    known = imported(conn, app_id, people)
    states = online_states(conn, app_id, [u for u in people if u in known])
    results: list[dict[str, Any]] = []
    for user, platforms in states.items():
        statuses = {s for _, s in platforms}
        status = ONLINE if ONLINE in statuses else PUSH_ONLINE if statuses else OFFLINE
        item: dict[str, Any] = {"To_Account": user, "Status": status}
        if detail:
            item["Detail"] = [{"Platform": p, "Status": s} for p, s in platforms]
        results.append(item)
    errors = [
        {"To_Account": u, "ErrorCode": int(RestCode.ACCOUNT_NOT_IMPORTED)}
        for u in people
        if u not in known
    ]
    return {"QueryResult": results, "ErrorList": errors}


# --- commands ----------------------------------------------------------------------------------


@commands.admin("im_open_login_svc", "kick", Kick)
async def kick(svc: ChatService, call: Call, body: Kick) -> dict[str, Any]:
    """Invalidate a user's login on every platform (70107 if not imported)."""
    await svc.change(lambda c: kick_tx(c, call, body.user_id))
    return {}


@commands.admin("openim", "query_online_status", QueryOnlineStatus)
async def query_online_status(
    svc: ChatService, call: Call, body: QueryOnlineStatus
) -> dict[str, Any]:
    """Online, PushOnline or Offline per user; ``Detail`` per platform with IsNeedDetail 1."""
    return await svc.read(lambda c: query_online(c, call.app_id, body.users, body.need_detail == 1))


def _client_platform(call: Call) -> None:
    if call.platform == Platform.UNKNOWN.value:
        raise RestError(
            RestCode.ACCOUNT_BAD_PARAM,
            "platform is required to log in or out (iOS, Android, Web, Windows, Mac, iPad)",
        )


@commands.client("login", Empty)
async def client_login(svc: ChatService, call: Call, body: Empty) -> dict[str, Any]:
    """The user logs in on the ``platform`` of the call."""
    _client_platform(call)
    await svc.change(lambda c: login_tx(c, call))
    return {}


@commands.client("logout", Empty)
async def client_logout(svc: ChatService, call: Call, body: Empty) -> dict[str, Any]:
    """The user logs out on the ``platform`` of the call."""
    _client_platform(call)
    await svc.change(lambda c: logout_tx(c, call))
    return {}


@commands.client("disconnect", Disconnect)
async def client_disconnect(svc: ChatService, call: Call, body: Disconnect) -> dict[str, Any]:
    """The user's connection on the call's platform closed (LinkClose) or timed out
    (TimeOut)."""
    _client_platform(call)
    await svc.change(lambda c: disconnect_tx(c, call, body.reason))
    return {}
