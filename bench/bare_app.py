"""The yardstick: a bare ASGI app that reads the body and answers Tencent's OK JSON.

It answers the lifespan protocol with nothing to start, so uvicorn runs it with exactly the
options ``timhooks listen`` uses (``--lifespan on``, ``--http
timhooks.hosting:LimitedHttpProtocol``, warning log level, no access log).
"""

from __future__ import annotations

from typing import Any

_OK = b'{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_OK)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with the OK answer after reading its body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _OK})
