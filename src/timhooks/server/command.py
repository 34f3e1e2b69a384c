"""How a concept module declares its REST commands: a ``CommandTable`` of ``RestCommand``s.

One declaration per command, at its handler::

    commands = CommandTable(bad_param=RestCode.BAD_PARAM)

    @commands.admin("group_open_http_svc", "destroy_group", GroupRef)
    async def destroy_group(svc: ChatService, call: Call, body: GroupRef) -> dict[str, Any]: ...

says the path (``/v4/{service}/{name}``), the handler, its body struct (the check and the
OpenAPI schema: ``timhooks.server.bodies``), the bad-parameter code of its service, and who may
call it: an App admin (``admin``) or any user acting for themselves through the timhooks client
API (``client``: ``/v4/timhooks_client/{name}``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from timhooks.server.bodies import Body, Shapes

if TYPE_CHECKING:
    from timhooks.server.calls import Call
    from timhooks.server.service import ChatService

__all__ = ["CLIENT_SERVICE", "CommandTable", "Handler", "RestCommand", "user_results"]

Handler = Callable[["ChatService", "Call", Any], Awaitable[dict[str, Any]]]
H = TypeVar("H", bound=Handler)

CLIENT_SERVICE = "timhooks_client"
"""The service of client actions: a user acting with their own UserSig (timhooks extension)."""


@dataclass(frozen=True, slots=True)
class RestCommand:
    """One REST command: where it is, what serves it, what its body is, who may call it."""

    service: str
    name: str
    handler: Handler
    body: type[Body] | Shapes
    bad_param: int  # the ErrorCode of a malformed body
    admin: bool = True  # False: a client action

    @property
    def path(self) -> str:
        """``service/name``, as in ``/v4/service/name``."""
        return f"{self.service}/{self.name}"


@dataclass
class CommandTable:
    """The REST commands of one concept module."""

    bad_param: int
    commands: list[RestCommand] = field(default_factory=list)

    def admin(self, service: str, name: str, body: type[Body] | Shapes) -> Callable[[H], H]:
        """Declare the decorated handler as the admin command ``service/name``."""
        return self._add(service, name, body, admin=True)

    def client(self, name: str, body: type[Body] | Shapes) -> Callable[[H], H]:
        """Declare the decorated handler as the client action ``timhooks_client/name``."""
        return self._add(CLIENT_SERVICE, name, body, admin=False)

    def _add(
        self, service: str, name: str, body: type[Body] | Shapes, *, admin: bool
    ) -> Callable[[H], H]:
        def declare(handler: H) -> H:
            self.commands.append(RestCommand(service, name, handler, body, self.bad_param, admin))
            return handler

        return declare


def user_results(results: dict[str, int], key: str) -> list[dict[str, Any]]:
    """Per-user results as Tencent lists them: ``[{key: UserID, "Result": n}]``."""
    return [{key: user, "Result": result} for user, result in results.items()]
