"""An OpenAPI 3 description of the REST API, served at ``GET /openapi.json``.

One operation per command of ``timhooks.server.registry``: ``POST /v4/{service}/{command}`` with
the query parameters every call carries (``sdkappid``, ``identifier``, ``usersig``, ``random``,
``contenttype``: Tencent's REST API conventions, https://trtc.io/document/34620; ``platform`` on
the timhooks client API), the command's body struct as its JSON body schema
(``msgspec.json.schema_components``: the same declaration that checks the body), and the
envelope every answer is (HTTP 200 with ``ActionStatus``, ``ErrorInfo``, ``ErrorCode``,
``RequestId``; failures are envelopes too, never HTTP errors).

A body the schema refuses is still answered with an envelope naming the bad field (6017, 10004 or
70402), which is what fuzzing checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse

from timhooks.protocol.query import Platform
from timhooks.server.bodies import Body, Shapes
from timhooks.server.command import RestCommand

__all__ = ["build_openapi", "openapi_endpoint"]

_USER = {"type": "string", "minLength": 1, "maxLength": 32}
_REF = "#/components/schemas/{name}"

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
    """The query parameters of every call; client actions add ``platform``."""
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


def _structs(body: type[Body] | Shapes) -> tuple[type[Body], ...]:
    return body.structs if isinstance(body, Shapes) else (body,)


def build_openapi(commands: Mapping[tuple[str, str], RestCommand]) -> dict[str, Any]:
    """The OpenAPI 3 document of every command in ``commands``."""
    structs = sorted(
        {s for c in commands.values() for s in _structs(c.body)}, key=lambda s: s.__name__
    )
    refs, components = msgspec.json.schema_components(structs, ref_template=_REF)
    ref_of = dict(zip(structs, refs, strict=True))
    paths: dict[str, Any] = {}
    for (service, name), command in sorted(commands.items()):
        shapes = [ref_of[s] for s in _structs(command.body)]
        body = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}
        who = "admin" if command.admin else "user (client action)"
        paths[f"/v4/{service}/{name}"] = {
            "post": {
                "operationId": f"{service}.{name}",
                "summary": f"{service}/{name} ({who})",
                "description": command.handler.__doc__ or "",
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
        "components": {"schemas": components},
    }


def openapi_endpoint(
    commands: Mapping[tuple[str, str], RestCommand],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A Starlette endpoint answering the document of ``commands``."""
    document = build_openapi(commands)

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return endpoint
