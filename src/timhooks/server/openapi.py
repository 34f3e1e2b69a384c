"""An OpenAPI 3 description of the REST API, served at ``GET /openapi.json``.

One operation per command of ``ChatService.commands``: ``POST /v4/{service}/{command}`` with the
query parameters every call carries (reference 6: ``sdkappid``, ``identifier``, ``usersig``,
``random``, ``contenttype``; ``platform`` on the timhooks client API), a JSON body schema with
the command's main fields, and the envelope every answer is (HTTP 200 with ``ActionStatus``,
``ErrorInfo``, ``ErrorCode``, ``RequestId``; failures are envelopes too, never HTTP errors).

Body schemas describe what a well-formed call looks like; the server still answers anything
else with an envelope naming the bad field (6017, 10004 or 70402), which is what fuzzing checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from timhooks.protocol.query import Platform
from timhooks.server.config import set_callback_schema

if TYPE_CHECKING:
    from timhooks.server.service import ChatService, Command

__all__ = ["build_openapi", "openapi_endpoint"]

_USER = {"type": "string", "minLength": 1, "maxLength": 32}
_TEXT = {"type": "string"}
_INT = {"type": "integer"}


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": limit}


def _objects(key: str, most: int) -> dict[str, Any]:
    """``[{key: UserID}]``, the shape of member and subscriber lists."""
    return {
        "type": "array",
        "maxItems": most,
        "items": {"type": "object", "required": [key], "properties": {key: _USER}},
    }


def _ids(most: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": most, "items": {"type": "string", "minLength": 1}}


def _body(required: Iterable[str], **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    needed = list(required)
    if needed:
        schema["required"] = needed
    return schema


_OA_PROFILE = {
    "Name": _text(150),
    "Introduction": _text(400),
    "FaceUrl": _text(500),
    "Organization": _text(500),
    "CustomString": _text(3000),
    "MaxSubscriberNum": {"type": "integer", "minimum": 1},
}
_MSG_BODY = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["MsgType"],
        "properties": {"MsgType": _TEXT, "MsgContent": {"type": "object"}},
    },
}
_SEND_MSG = _body(
    ["Official_Account", "MsgBody"],
    Official_Account=_TEXT,
    MsgBody=_MSG_BODY,
    Random={"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    CloudCustomData=_TEXT,
    OnlineOnlyFlag={"type": "integer", "enum": [0, 1]},
    ForbidCallbackControl={
        "type": "array",
        "items": {
            "type": "string",
            "enum": ["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"],
        },
    },
)
_RECALL = _body(
    ["Official_Account", "MsgKeyList"],
    Official_Account=_TEXT,
    MsgKeyList=_ids(10),
    Reason=_text(100),
)
_GROUP_ID = _body(["GroupId"], GroupId=_TEXT)

# The main request fields of each command (reference 5.1, 5.2; README for timhooks' own).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("im_open_login_svc", "account_import"): _body(
        ["UserID"], UserID=_USER, Nick=_text(500), FaceUrl=_text(500)
    ),
    ("im_open_login_svc", "multiaccount_import"): _body(
        ["AccountList"], AccountList={"type": "array", "maxItems": 100, "items": _USER}
    ),
    ("official_account_open_http_svc", "create_official_account"): _body(
        ["Owner_Account", "Name"],
        Owner_Account=_USER,
        OfficialAccountUserID=_text(48),
        **_OA_PROFILE,
    ),
    ("official_account_open_http_svc", "destroy_official_account"): _body(
        ["Official_Account"], Official_Account=_TEXT
    ),
    ("official_account_open_http_svc", "modify_official_account_base_info"): _body(
        ["Official_Account"], Official_Account=_TEXT, **_OA_PROFILE
    ),
    ("official_account_open_http_svc", "get_official_account_info"): _body(
        ["OfficialAccountIdList"],
        OfficialAccountIdList=_objects("Official_Account", 50),
    ),
    ("official_account_open_http_svc", "add_subscriber"): _body(
        ["Official_Account", "SubscriberList"],
        Official_Account=_TEXT,
        SubscriberList=_objects("Subscriber_Account", 100),
    ),
    ("official_account_open_http_svc", "delete_subscriber"): _body(
        ["Official_Account"],
        Official_Account=_TEXT,
        SubscriberToDel_Account=_ids(100),
        SubscriberList=_objects("Subscriber_Account", 100),
    ),
    ("official_account_open_http_svc", "get_subscriber_info"): _body(
        ["Official_Account"],
        Official_Account=_TEXT,
        Limit={"type": "integer", "minimum": 1, "maximum": 200},
        Next=_TEXT,
    ),
    ("official_account_open_http_svc", "send_official_account_msg"): _SEND_MSG,
    ("official_account_open_http_svc", "official_account_msg_recall"): _RECALL,
    ("group_open_http_svc", "create_group"): _body(
        ["Type", "Name"],
        Type={
            "type": "string",
            "enum": ["Private", "Work", "Public", "ChatRoom", "Meeting", "AVChatRoom", "Community"],
        },
        Name=_TEXT,
        Owner_Account=_USER,
        GroupId=_TEXT,
        Introduction=_TEXT,
        Notification=_TEXT,
        FaceUrl=_TEXT,
        MaxMemberCount={"type": "integer", "minimum": 1},
        ApplyJoinOption={
            "type": "string",
            "enum": ["FreeAccess", "NeedPermission", "DisableApply"],
        },
        MemberList=_objects("Member_Account", 500),
        AppDefinedData={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["Key"],
                "properties": {"Key": _TEXT, "Value": _TEXT},
            },
        },
    ),
    ("group_open_http_svc", "add_group_member"): _body(
        ["GroupId", "MemberList"],
        GroupId=_TEXT,
        MemberList=_objects("Member_Account", 300),
        Silence={"type": "integer", "enum": [0, 1]},
    ),
    ("group_open_http_svc", "delete_group_member"): _body(
        ["GroupId", "MemberToDel_Account"],
        GroupId=_TEXT,
        MemberToDel_Account=_ids(100),
        Silence={"type": "integer", "enum": [0, 1]},
        Reason=_TEXT,
    ),
    ("group_open_http_svc", "destroy_group"): _GROUP_ID,
    ("group_open_http_svc", "get_group_info"): _body(["GroupIdList"], GroupIdList=_ids(50)),
    ("group_open_http_svc", "get_group_member_info"): _body(
        ["GroupId"],
        GroupId=_TEXT,
        Limit={"type": "integer", "minimum": 1, "maximum": 6000},
        Offset={"type": "integer", "minimum": 0},
    ),
    # Derived from the declaration of the settings (server/settings.py).
    ("timhooks_config", "set_callback"): set_callback_schema(),
    ("timhooks_config", "get_callback"): _body([]),
    ("timhooks_client", "subscribe_official_account"): _body(
        ["Official_Account"], Official_Account=_TEXT
    ),
    ("timhooks_client", "unsubscribe_official_account"): _body(
        ["Official_Account"], Official_Account=_TEXT
    ),
    ("timhooks_client", "send_official_account_msg"): _SEND_MSG,
    ("timhooks_client", "official_account_msg_recall"): _RECALL,
    ("timhooks_client", "apply_join_group"): _GROUP_ID,
    ("timhooks_client", "handle_join_application"): _body(
        ["GroupId", "Applicant_Account"],
        GroupId=_TEXT,
        Applicant_Account=_USER,
        Approve={"type": "boolean"},
    ),
    ("timhooks_client", "invite_group_member"): _body(
        ["GroupId", "MemberList"], GroupId=_TEXT, MemberList=_objects("Member_Account", 300)
    ),
    ("timhooks_client", "kick_group_member"): _body(
        ["GroupId", "MemberToDel_Account"], GroupId=_TEXT, MemberToDel_Account=_ids(100)
    ),
    ("timhooks_client", "quit_group"): _GROUP_ID,
}

_ENVELOPE = {
    "type": "object",
    "required": ["ActionStatus", "ErrorInfo", "ErrorCode", "RequestId"],
    "properties": {
        "ActionStatus": {"type": "string", "enum": ["OK", "FAIL"]},
        "ErrorInfo": {"type": "string"},
        "ErrorCode": {"type": "integer"},
        "RequestId": {"type": "string"},
    },
    "additionalProperties": True,
}


def _query(client: bool) -> list[dict[str, Any]]:
    """The query parameters of every call (reference 6); client actions add ``platform``."""
    who = "the user acting" if client else "an App admin"
    params: list[dict[str, Any]] = [
        {
            "name": "sdkappid",
            "in": "query",
            "required": True,
            "description": "the app's SDKAppID",
            "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"},
        },
        {
            "name": "identifier",
            "in": "query",
            "required": True,
            "description": f"UserID of {who}",
            "schema": _USER,
        },
        {
            "name": "usersig",
            "in": "query",
            "required": True,
            "description": "a UserSig of the identifier, made with the app's key",
            "schema": {"type": "string", "minLength": 1},
        },
        {
            "name": "random",
            "in": "query",
            "required": False,
            "description": "a 32-bit unsigned integer",
            "schema": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        },
        {
            "name": "contenttype",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["json"]},
        },
    ]
    if client:
        params.append(
            {
                "name": "platform",
                "in": "query",
                "required": False,
                "description": "the client's platform, sent as OptPlatform (timhooks extension)",
                "schema": {"type": "string", "enum": [p.value for p in Platform]},
            }
        )
    return params


def build_openapi(commands: Mapping[tuple[str, str], Command]) -> dict[str, Any]:
    """The OpenAPI 3 document of every command in ``commands`` (``ChatService.commands``)."""
    paths: dict[str, Any] = {}
    for (service, name), command in sorted(commands.items()):
        body = BODIES.get((service, name), {"type": "object"})
        who = "admin" if command.admin else "user (client action)"
        paths[f"/v4/{service}/{name}"] = {
            "post": {
                "operationId": f"{service}.{name}",
                "summary": f"{service}/{name} ({who})",
                "parameters": _query(client=not command.admin),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "200": {
                        "description": "Always HTTP 200: the result is the envelope's ErrorCode",
                        "content": {"application/json": {"schema": _ENVELOPE}},
                    }
                },
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "timhooks Chat backend REST API",
            "version": "v4",
            "description": "Tencent Cloud Chat's REST API as timhooks serves it.",
        },
        "paths": paths,
    }


def openapi_endpoint(service: ChatService) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A Starlette endpoint answering the document for ``service``'s commands."""
    document = build_openapi(service.commands)

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return endpoint
