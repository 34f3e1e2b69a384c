"""Friends through the client: a user asks others to be friends (``friend_add``) and answers
the requests sent to them (``friend_response``), each asked of the app first through its
per-recipient before-webhook, and deletes friends (``friend_delete``, as the REST command).

Tencent's "Before a Friend Is Added" (https://trtc.io/document/43468) and "Before a Friend
Request Is Responded" (https://trtc.io/document/43467): the app answers with a ResultItem per
user, 0 letting that user through and a code in [38000, 39000] refusing them (the code reaches
the caller in that user's ResultCode; another non-zero code refuses as 38000). What is let
through then follows ``timhooks.server.friends``: added at once, left pending or refused by the
target's AllowType, and Sns.CallbackFriendAdd with ClientCmd friend_add or friend_response.
Response_Action_Agree puts the responder on the requester's list, AgreeAndAdd also the
requester on the responder's, Reject drops the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec

from timhooks.protocol import events as ev
from timhooks.protocol.commands import COMMANDS
from timhooks.server.accounts import lock_accounts
from timhooks.server.bodies import Body, NonEmpty, one_of
from timhooks.server.calls import Call
from timhooks.server.command import CommandTable
from timhooks.server.friends import (
    AGREE,
    AGREE_AND_ADD,
    BOTH,
    OK,
    REJECT,
    SNS_BAD_PARAM,
    AddType,
    DeleteType,
    Items,
    Outcome,
    Request,
    Users,
    add_friends_tx,
    answer,
    befriend,
    check_requests,
    check_responses,
    delete_friends_tx,
    drop_requests,
    friend_added,
    pending_requests,
    requests_of,
)
from timhooks.server.service import ChatService
from timhooks.storage.engine import Connection

__all__ = ["commands"]

commands = CommandTable(bad_param=SNS_BAD_PARAM)


class ClientFriendAdd(Body, frozen=True, kw_only=True):
    """timhooks_client/friend_add: the user's friend requests."""

    items: Items = msgspec.field(name="AddFriendItem")
    add_type: AddType = msgspec.field(name="AddType", default=BOTH)


class ClientFriendDelete(Body, frozen=True, kw_only=True):
    """timhooks_client/friend_delete: the user deletes friends."""

    users: Users = msgspec.field(name="To_Account")
    delete_type: DeleteType = msgspec.field(name="DeleteType", default="Delete_Type_Single")


class ResponseItem(Body, frozen=True, kw_only=True):
    """One answer of ResponseFriendItem: whose request, and how."""

    to_account: NonEmpty = msgspec.field(name="To_Account")
    action: Annotated[str, one_of([AGREE, AGREE_AND_ADD, REJECT])] = msgspec.field(
        name="ResponseAction"
    )
    remark: Annotated[str, msgspec.Meta(max_length=96)] = msgspec.field(name="Remark", default="")
    tag_name: Annotated[str, msgspec.Meta(max_length=30)] = msgspec.field(
        name="TagName", default=""
    )

    def event_item(self) -> ev.ResponseFriendItem:
        """The answer as Sns.CallbackPrevFriendResponse lists it."""
        return ev.ResponseFriendItem(
            to_account=self.to_account,
            remark=self.remark,
            tag_name=self.tag_name,
            response_action=self.action,
        )


class FriendResponse(Body, frozen=True, kw_only=True):
    """timhooks_client/friend_response: the user answers pending requests."""

    items: Annotated[list[ResponseItem], msgspec.Meta(min_length=1, max_length=100)] = (
        msgspec.field(name="ResponseFriendItem")
    )


def respond_tx(
    conn: Connection, call: Call, items: Sequence[ResponseItem], refused: Mapping[str, Outcome]
) -> dict[str, Outcome]:
    """Answer pending requests to the caller; queue Sns.CallbackFriendAdd (friend_response)."""
    owner = call.operator
    users = [i.to_account for i in items]
    lock_accounts(conn, call.app_id, [owner, *users])
    found = pending_requests(conn, call.app_id, owner, users)
    results = check_responses(conn, call.app_id, owner, users) | dict(refused)
    pairs: list[ev.FriendPair] = []
    for item in items:
        requester = item.to_account
        if requester in results:
            continue
        row = found[requester]
        drop_requests(conn, call.app_id, owner, requester)
        results[requester] = OK
        if item.action == REJECT:
            continue
        asked = Request(
            owner, row["remark"], row["group_name"], row["add_source"], row["add_wording"]
        )
        if befriend(conn, call, requester, asked):
            pairs.append(
                ev.FriendPair(from_account=requester, to_account=owner, initiator_account=requester)
            )
        back = Request(requester, item.remark, item.tag_name, row["add_source"])
        if item.action == AGREE_AND_ADD and befriend(conn, call, owner, back):
            pairs.append(
                ev.FriendPair(from_account=owner, to_account=requester, initiator_account=requester)
            )
    friend_added(conn, call, pairs, "friend_response", False)
    return {u: results[u] for u in users}


async def ask_each(
    svc: ChatService, call: Call, model: type[ev.Event], users: Sequence[str], **fields: Any
) -> dict[str, Outcome]:
    """Ask the app about ``users`` through the per-recipient before-webhook ``model`` (sent by
    the caller for themselves); the users it refused, with their ResultCode and ResultInfo."""
    if not users:
        return {}
    me = call.operator
    decision = await svc.ask(call, model, requester_account=me, from_account=me, **fields)
    low, high = COMMANDS[model.command].result_range or (0, 0)
    return {
        r.to_account: (
            r.result_code if low <= r.result_code <= high else low,
            r.result_info or "refused by the app backend",
        )
        for r in decision.results
        if r.result_code != 0 and r.to_account in users
    }


@commands.client("friend_add", ClientFriendAdd)
async def client_friend_add(svc: ChatService, call: Call, body: ClientFriendAdd) -> dict[str, Any]:
    """The user sends friend requests: Sns.CallbackPrevFriendAdd asks the app about those that
    can be sent, its ResultItem refuses some; then added, pending or refused per user."""
    owner, reqs = call.operator, requests_of(body.items)
    faults = await svc.read(
        lambda c: check_requests(c, call.app_id, owner, [r.to for r in reqs], body.add_type, False)
    )
    asked = [r for r in reqs if r.to not in faults]
    refused = await ask_each(
        svc,
        call,
        ev.PrevFriendAdd,
        [r.to for r in asked],
        friend_item=tuple(r.event_item() for r in asked),
        add_type=body.add_type,
        force_add_flags=0,
    )
    results = await svc.change(
        lambda c: add_friends_tx(c, call, owner, reqs, body.add_type, force=False, refused=refused)
    )
    return answer(results)


@commands.client("friend_response", FriendResponse)
async def client_friend_response(
    svc: ChatService, call: Call, body: FriendResponse
) -> dict[str, Any]:
    """The user answers pending requests: Sns.CallbackPrevFriendResponse asks the app, its
    ResultItem refuses some; the agreed ones are added (Sns.CallbackFriendAdd)."""
    owner = call.operator
    items = list({i.to_account: i for i in body.items}.values())
    users = [i.to_account for i in items]
    faults = await svc.read(lambda c: check_responses(c, call.app_id, owner, users))
    asked = [i for i in items if i.to_account not in faults]
    refused = await ask_each(
        svc,
        call,
        ev.PrevFriendResponse,
        [i.to_account for i in asked],
        response_friend_item=tuple(i.event_item() for i in asked),
    )
    results = await svc.change(lambda c: respond_tx(c, call, items, refused))
    return answer(results)


@commands.client("friend_delete", ClientFriendDelete)
async def client_friend_delete(
    svc: ChatService, call: Call, body: ClientFriendDelete
) -> dict[str, Any]:
    """The user deletes friends, one way or both (Sns.CallbackFriendDelete)."""
    both = body.delete_type == "Delete_Type_Both"
    users = list(dict.fromkeys(body.users))
    results = await svc.change(
        lambda c: delete_friends_tx(c, call, call.operator, users, both=both)
    )
    return answer(results)
