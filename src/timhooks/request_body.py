"""Reading an HTTP request's body within a size limit and a deadline, for both ASGI endpoints.

The receiver (``receiver/asgi.py``) and the REST API (``server/rest.py``) read bodies the same
way: a declared Content-Length over the limit is refused before anything is read, a streamed body
is cut off as soon as it passes the limit, and the whole body must arrive within the deadline.
Tencent gives up on a webhook after 2 s ("Webhook Overview", https://trtc.io/document/34354), so a
body still arriving after 10 s is not Tencent's: a slow or endless body (slowloris) must not hold
a connection and a task for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, ClassVar

from timhooks.protocol.errors import ProtocolError

__all__ = [
    "BODY_DEADLINE",
    "MAX_BODY",
    "BadContentLength",
    "BodyError",
    "BodyTooLarge",
    "BodyTooSlow",
    "read_body",
]

MAX_BODY = 1024 * 1024
"""Bytes a request body may have (1 MiB) unless the endpoint is given another limit."""
BODY_DEADLINE = 10.0
"""Seconds a request body may take to arrive once the headers are in."""

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class BodyError(ProtocolError):
    """A request body that cannot be taken; ``status`` is the HTTP status that says why."""

    status: ClassVar[int] = 400


class BodyTooLarge(BodyError):
    """The body (declared or as it streams in) is larger than the limit: 413."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


class BodyTooSlow(BodyError):
    """The body did not arrive within the deadline: 408."""

    status = 408

    def __init__(self, deadline: float) -> None:
        super().__init__(f"the body did not arrive within {deadline:g} s")
        self.deadline = deadline


class BadContentLength(BodyError):
    """The Content-Length header is not a number: 400."""


async def read_body(
    headers: Iterable[tuple[bytes, bytes]],
    receive: Receive,
    *,
    limit: int = MAX_BODY,
    deadline: float = BODY_DEADLINE,
) -> bytes | None:
    """The whole body of an ASGI HTTP request (its scope's ``headers`` and its ``receive``);
    None when the client disconnected before sending it all.

    Raises BodyTooLarge, BodyTooSlow or BadContentLength.
    """
    for name, value in headers:
        if name == b"content-length":
            if not (value.isascii() and value.isdigit()):
                raise BadContentLength("Content-Length is not a number")
            if int(value) > limit:
                raise BodyTooLarge(limit)
            break
    chunks: list[bytes] = []
    size = 0
    more = True
    try:
        async with asyncio.timeout(deadline):
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
                more = message.get("more_body", False)
    except TimeoutError as exc:
        raise BodyTooSlow(deadline) from exc
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
