"""Group members: adding, removing and listing them, and what users do through the client API
(apply, approve, invite, kick, quit), with their webhooks.

Tencent's add_group_member (https://trtc.io/document/34921) and delete_group_member
(https://trtc.io/document/34949) pages, and the group webhooks they trigger: BeforeInviteJoinGroup
(https://trtc.io/document/34371), BeforeApplyJoinGroup (https://trtc.io/document/34370),
AfterNewMemberJoin (https://trtc.io/document/34372), AfterMemberExit
(https://trtc.io/document/34373) and AfterGroupFull
(https://tencentcloud.com/document/product/1047/34376). A bad field is 10004. Joins never pass a
group's MaxMemberCount: the group's row is locked first (``timhooks.server.sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

from timhooks.protocol import events as ev
from timhooks.protocol.codes import RestCode
from timhooks.protocol.decisions import ALLOW
from timhooks.protocol.errors import RestError
from timhooks.server.accounts import imported
from timhooks.server.bodies import INT32, Body, NonEmpty
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable, user_results
from timhooks.server.groups import (
    GROUP_SERVICE,
    GroupRef,
    Member,
    decode_fields,
    group_key,
    group_row,
    member_list,
    role_of,
)
from timhooks.server.outbox import emit
from timhooks.server.service import ChatService
from timhooks.server.sql import Row, app_rows, lock_row, placeholders
from timhooks.storage.engine import Connection

__all__ = ["Membership", "commands", "join_tx", "leave_tx", "members_of", "membership"]

commands = CommandTable(bad_param=RestCode.BAD_PARAM)

Members = Annotated[list[Member], msgspec.Meta(min_length=1, max_length=300)]
Removed = Annotated[list[NonEmpty], msgspec.Meta(min_length=1, max_length=100)]
Silence = Annotated[int, msgspec.Meta(ge=0, le=1)]


class AddGroupMember(Body, frozen=True, kw_only=True):
    """group_open_http_svc/add_group_member: up to 300 users."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    members: Members = msgspec.field(name="MemberList")
    silence: Silence | UnsetType = msgspec.field(name="Silence", default=UNSET)


class DeleteGroupMember(Body, frozen=True, kw_only=True):
    """group_open_http_svc/delete_group_member: up to 100 users."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    users: Removed = msgspec.field(name="MemberToDel_Account")
    silence: Silence | UnsetType = msgspec.field(name="Silence", default=UNSET)
    reason: str = msgspec.field(name="Reason", default="")


class InviteGroupMember(Body, frozen=True, kw_only=True):
    """timhooks_client/invite_group_member: up to 300 users."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    members: Members = msgspec.field(name="MemberList")


class KickGroupMember(Body, frozen=True, kw_only=True):
    """timhooks_client/kick_group_member: up to 100 users."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    users: Removed = msgspec.field(name="MemberToDel_Account")


class GetGroupMemberInfo(Body, frozen=True, kw_only=True):
    """group_open_http_svc/get_group_member_info: a page of members."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    limit: Annotated[int, msgspec.Meta(ge=1, le=6000)] = msgspec.field(name="Limit", default=100)
    offset: Annotated[int, msgspec.Meta(ge=0, le=INT32)] = msgspec.field(name="Offset", default=0)


class HandleJoinApplication(Body, frozen=True, kw_only=True):
    """timhooks_client/handle_join_application: approve (the default) or refuse."""

    group_id: NonEmpty = msgspec.field(name="GroupId")
    applicant: NonEmpty = msgspec.field(name="Applicant_Account")
    approve: bool = msgspec.field(name="Approve", default=True)


# --- rows --------------------------------------------------------------------------------------


@dataclass(slots=True)
class JoinPlan:
    """Who of a join request is new, already a member, or unknown, and the group's state."""

    group: Row
    candidates: list[str] = field(default_factory=list)
    already: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)

    @property
    def room(self) -> int | None:
        """Free places, or None when the group has no limit."""
        limit = int(self.group["max_member_count"])
        return None if limit == 0 else max(limit - int(self.group["member_num"]), 0)


def plan_join(
    conn: Connection, call: Call, group_id: str, users: Sequence[str], *, group: Row | None = None
) -> JoinPlan:
    """Sort users asking or asked to join a group (``group``: its row, already read)."""
    plan = JoinPlan(group if group is not None else group_row(conn, call.app_id, group_id))
    known = imported(conn, call.app_id, users)
    rows = conn.execute(
        f"SELECT user_id FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
        f" ({placeholders(len(users))})",
        (call.app_id, group_id, *users),
    )
    plan.already = {r[0] for r in rows}
    for user in dict.fromkeys(users):
        if user not in known:
            plan.unknown.add(user)
        elif user not in plan.already:
            plan.candidates.append(user)
    return plan


def group_full_tx(conn: Connection, call: Call, group_id: str) -> None:
    """Queue AfterGroupFull: a join failed because the group is full."""
    emit(conn, call, ev.AfterGroupFull, group_id=group_id)


def join_tx(
    conn: Connection,
    call: Call,
    group_id: str,
    users: Sequence[str],
    refused: frozenset[str],
    join_type: str,
) -> dict[str, int]:
    """Add members: Result 1 added, 2 already a member, 0 failed.

    A group with no room at all fails the whole call with 10014 (its caller then queues
    AfterGroupFull in a transaction of its own: ``_join``). Otherwise as many as fit join,
    AfterNewMemberJoin is queued, and AfterGroupFull too when the group is now full.
    """
    group = group_row(conn, call.app_id, group_id, lock=True)  # the lock order
    plan = plan_join(conn, call, group_id, users, group=group)
    wanted = [u for u in plan.candidates if u not in refused]
    room = plan.room
    if wanted and room == 0:
        raise RestError(RestCode.GROUP_FULL, f"group {group_id!r} is full")
    added = wanted if room is None else wanted[:room]
    if added:
        conn.executemany(
            "INSERT INTO group_members (sdk_app_id, group_id, user_id, role, join_time)"
            " VALUES (?, ?, ?, 'Member', ?)",
            [(call.app_id, group_id, u, call.seconds) for u in added],
        )
        conn.execute(
            "DELETE FROM group_applications WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
            f" ({placeholders(len(added))})",
            (call.app_id, group_id, *added),
        )
        conn.execute(
            "UPDATE groups SET member_num = member_num + ? WHERE sdk_app_id = ? AND group_id = ?",
            (len(added), call.app_id, group_id),
        )
        emit(
            conn,
            call,
            ev.AfterNewMemberJoin,
            group_id=group_id,
            type=plan.group["type"],
            join_type=join_type,
            operator_account=call.operator,
            new_member_list=member_list(added),
        )
        if room is not None and len(added) >= room:
            group_full_tx(conn, call, group_id)
    done = set(added)
    return {u: 1 if u in done else 2 if u in plan.already else 0 for u in dict.fromkeys(users)}


def leave_tx(
    conn: Connection, call: Call, group_id: str, users: Sequence[str], exit_type: str
) -> list[str]:
    """Remove members (never the owner); queue AfterMemberExit; return who left."""
    row = group_row(conn, call.app_id, group_id, lock=True)  # before the members: the lock order
    wanted = [u for u in dict.fromkeys(users) if u != row["owner"]]
    if not wanted:
        return []
    removed = [
        r[0]
        for r in conn.execute(
            f"DELETE FROM group_members WHERE sdk_app_id = ? AND group_id = ? AND user_id IN"
            f" ({placeholders(len(wanted))}) RETURNING user_id",
            (call.app_id, group_id, *wanted),
        ).fetchall()
    ]
    if removed:
        conn.execute(
            "UPDATE groups SET member_num = member_num - ? WHERE sdk_app_id = ? AND group_id = ?",
            (len(removed), call.app_id, group_id),
        )
        gone = set(removed)
        emit(
            conn,
            call,
            ev.AfterMemberExit,
            group_id=group_id,
            type=row["type"],
            exit_type=exit_type,
            operator_account=call.operator,
            exit_member_list=member_list(u for u in wanted if u in gone),
        )
    return removed


def apply_tx(conn: Connection, call: Call, group_id: str) -> None:
    """Record a pending application to a NeedPermission group."""
    lock_row(conn, "groups", "group_id", call.app_id, group_id)
    conn.execute(
        "INSERT INTO group_applications (sdk_app_id, group_id, user_id, applied_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (call.app_id, group_id, call.operator, call.now),
    )


def take_application_tx(conn: Connection, call: Call, group_id: str, applicant: str) -> None:
    """Remove a pending application (approved or refused); 10004 if there is none."""
    lock_row(conn, "groups", "group_id", call.app_id, group_id)
    role = role_of(conn, call.app_id, group_id, call.operator)
    if role not in ("Owner", "Admin"):
        raise RestError(RestCode.NO_PERMISSION, "only the group owner or an admin may do this")
    cur = conn.execute(
        "DELETE FROM group_applications WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (call.app_id, group_id, applicant),
    )
    if not cur.rowcount:
        raise RestError(RestCode.BAD_PARAM, f"{applicant!r} has no pending application")


def member_page(
    conn: Connection, app_id: int, group_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """get_group_member_info: a page of members (owner first) and the member count."""
    row = group_row(conn, app_id, group_id)
    rows = conn.execute(
        "SELECT user_id, role, join_time, name_card, msg_flag, shut_up_until, app_member_defined"
        " FROM group_members WHERE sdk_app_id = ? AND group_id = ?"
        " ORDER BY role = 'Owner' DESC, join_time, user_id LIMIT ? OFFSET ?",
        (app_id, group_id, limit, offset),
    ).fetchall()
    items = [
        {
            "Member_Account": r["user_id"],
            "Role": r["role"],
            "JoinTime": r["join_time"],
            "NameCard": r["name_card"],
            "MsgFlag": r["msg_flag"],
            # Newer pages name it MuteUntil, older ones ShutUpUntil: both are sent.
            "MuteUntil": r["shut_up_until"],
            "ShutUpUntil": r["shut_up_until"],
            "AppMemberDefinedData": [
                {"Key": k, "Value": v} for k, v in decode_fields(r["app_member_defined"]).items()
            ],
        }
        for r in rows
    ]
    return items, int(row["member_num"])


class Membership(NamedTuple):
    """A member's role (Owner, Admin, Member) and when their mute ends (Unix seconds; 0 or a
    past time: not muted; ``forbid_send_msg`` sets it)."""

    role: str
    muted_until: int


def membership(conn: Connection, app_id: int, group_id: str, user: str) -> Membership | None:
    """The user's membership of the group, or None: one read for what a group send checks
    (a muted member's messages fail, Group.CallbackSendMsgException)."""
    row = conn.execute(
        "SELECT role, shut_up_until FROM group_members"
        " WHERE sdk_app_id = ? AND group_id = ? AND user_id = ?",
        (app_id, group_id, user),
    ).fetchone()
    return None if row is None else Membership(str(row[0]), int(row[1]))


def require_role(conn: Connection, call: Call, group_id: str, roles: tuple[str, ...]) -> str:
    """The acting user's role in the group, which must be one of ``roles`` (10007 otherwise)."""
    group_row(conn, call.app_id, group_id)
    role = role_of(conn, call.app_id, group_id, call.operator)
    if role is None:
        raise RestError(RestCode.NO_PERMISSION, "you are not a member of this group")
    if role not in roles:
        raise RestError(RestCode.NO_PERMISSION, f"only {' or '.join(roles)} may do this")
    return role


def members_of(conn: Connection, app_id: int, group_id: str, limit: int) -> list[dict[str, Any]]:
    """A group's first ``limit`` members by join time: user_id, role, join_time, shut_up_until."""
    return app_rows(
        conn,
        "SELECT user_id, role, join_time, shut_up_until FROM group_members"
        " WHERE sdk_app_id = ? AND group_id = ? ORDER BY join_time, user_id LIMIT ?",
        (app_id, group_id, limit),
    )


# --- commands ----------------------------------------------------------------------------------


async def _join(
    svc: ChatService, call: Call, group_id: str, op: Callable[[Connection], dict[str, int]]
) -> dict[str, int]:
    """Run a join; when the group is full, queue AfterGroupFull (the join itself rolled back)
    and fail with 10014."""
    try:
        return await svc.change(op, group_key(call.app_id, group_id))
    except RestError as exc:
        if exc.code == RestCode.GROUP_FULL:
            await _group_full(svc, call, group_id)
        raise


async def _group_full(svc: ChatService, call: Call, group_id: str) -> RestError:
    """Queue AfterGroupFull; the 10014 to fail the call with."""
    await svc.change(lambda c: group_full_tx(c, call, group_id), group_key(call.app_id, group_id))
    return RestError(RestCode.GROUP_FULL, f"group {group_id!r} is full")


async def _invite(svc: ChatService, call: Call, group_id: str, users: list[str]) -> dict[str, Any]:
    """Add ``users``, after asking the app through BeforeInviteJoinGroup, which may refuse the
    call or some of them."""
    plan = await svc.read(lambda c: plan_join(c, call, group_id, users))
    if plan.group["type"] == "AVChatRoom":
        raise RestError(RestCode.NO_PERMISSION, "an AVChatRoom has no invitations")
    if plan.candidates and plan.room == 0:
        raise await _group_full(svc, call, group_id)
    decision = ALLOW
    if plan.candidates:
        decision = await svc.ask(
            call,
            ev.BeforeInviteJoinGroup,
            group_id=group_id,
            type=plan.group["type"],
            operator_account=call.operator,
            destination_members=member_list(plan.candidates),
        )
    refused = frozenset(decision.refused)
    results = await _join(
        svc, call, group_id, lambda c: join_tx(c, call, group_id, users, refused, "Invited")
    )
    return {"MemberList": user_results(results, "Member_Account")}


@commands.admin(GROUP_SERVICE, "add_group_member", AddGroupMember)
async def add_group_member(svc: ChatService, call: Call, body: AddGroupMember) -> dict[str, Any]:
    """Add up to 300 members: Result 1 added, 2 already, 0 failed; 10014 when full."""
    return await _invite(svc, call, body.group_id, [m.user for m in body.members])


@commands.admin(GROUP_SERVICE, "delete_group_member", DeleteGroupMember)
async def delete_group_member(
    svc: ChatService, call: Call, body: DeleteGroupMember
) -> dict[str, Any]:
    """Remove up to 100 members (not the owner); succeeds for non-members too."""
    group_id = body.group_id
    group = await svc.read(lambda c: group_row(c, call.app_id, group_id))
    if group["type"] == "AVChatRoom":
        raise RestError(commands.bad_param, "an AVChatRoom has no member removal")
    await svc.change(
        lambda c: leave_tx(c, call, group_id, body.users, "Kicked"),
        group_key(call.app_id, group_id),
    )
    return {}


@commands.admin(GROUP_SERVICE, "get_group_member_info", GetGroupMemberInfo)
async def get_group_member_info(
    svc: ChatService, call: Call, body: GetGroupMemberInfo
) -> dict[str, Any]:
    """A page of a group's members (Limit, Offset)."""
    items, total = await svc.read(
        lambda c: member_page(c, call.app_id, body.group_id, body.limit, body.offset)
    )
    return {"MemberNum": total, "MemberList": items}


@commands.client("apply_join_group", GroupRef)
async def client_apply_join_group(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """The user asks to join: joined at once (FreeAccess) or waiting for approval."""
    group_id, user = body.group_id, call.operator
    plan = await svc.read(lambda c: plan_join(c, call, group_id, [user]))
    if user in plan.already:
        raise RestError(RestCode.ALREADY_MEMBER, "you are already a member of this group")
    option = plan.group["apply_join_option"]
    if option == "DisableApply":
        raise RestError(RestCode.NO_PERMISSION, "this group does not take applications")
    if plan.room == 0:
        raise await _group_full(svc, call, group_id)
    await svc.ask(
        call,
        ev.BeforeApplyJoinGroup,
        group_id=group_id,
        type=plan.group["type"],
        requestor_account=user,
    )
    if option == "NeedPermission":
        await svc.change(lambda c: apply_tx(c, call, group_id), group_key(call.app_id, group_id))
        return {"JoinStatus": "WaitingApproval"}
    await _join(
        svc, call, group_id, lambda c: join_tx(c, call, group_id, [user], frozenset(), "Apply")
    )
    return {"JoinStatus": "JoinedSuccess"}


@commands.client("handle_join_application", HandleJoinApplication)
async def client_handle_application(
    svc: ChatService, call: Call, body: HandleJoinApplication
) -> dict[str, Any]:
    """An owner or admin approves or refuses a pending application."""
    group_id, applicant = body.group_id, body.applicant
    if not body.approve:
        await svc.change(
            lambda c: take_application_tx(c, call, group_id, applicant),
            group_key(call.app_id, group_id),
        )
        return {}

    def approve(c: Connection) -> dict[str, int]:
        take_application_tx(c, call, group_id, applicant)
        return join_tx(c, call, group_id, [applicant], frozenset(), "Apply")

    await _join(svc, call, group_id, approve)
    return {}


@commands.client("invite_group_member", InviteGroupMember)
async def client_invite(svc: ChatService, call: Call, body: InviteGroupMember) -> dict[str, Any]:
    """A member invites users (any member of a Private group; owner or admin elsewhere)."""
    group_id = body.group_id
    group = await svc.read(lambda c: group_row(c, call.app_id, group_id))
    roles = ("Owner", "Admin", "Member") if group["type"] == "Private" else ("Owner", "Admin")
    await svc.read(lambda c: require_role(c, call, group_id, roles))
    return await _invite(svc, call, group_id, [m.user for m in body.members])


@commands.client("kick_group_member", KickGroupMember)
async def client_kick(svc: ChatService, call: Call, body: KickGroupMember) -> dict[str, Any]:
    """The owner or an admin removes members (ExitType Kicked)."""
    group_id = body.group_id
    await svc.read(lambda c: require_role(c, call, group_id, ("Owner", "Admin")))
    await svc.change(
        lambda c: leave_tx(c, call, group_id, body.users, "Kicked"),
        group_key(call.app_id, group_id),
    )
    return {}


@commands.client("quit_group", GroupRef)
async def client_quit_group(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]:
    """The user leaves a group (ExitType Quit); the owner cannot."""
    group_id = body.group_id
    role = await svc.read(lambda c: require_role(c, call, group_id, ("Admin", "Member", "Owner")))
    if role == "Owner":
        raise RestError(commands.bad_param, "the group owner cannot quit the group")
    await svc.change(
        lambda c: leave_tx(c, call, group_id, [call.operator], "Quit"),
        group_key(call.app_id, group_id),
    )
    return {}
