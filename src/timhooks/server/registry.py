"""Every REST command of the Chat backend, gathered from the concept modules that declare them.

The REST endpoint (``timhooks.server.rest``), the OpenAPI description (``timhooks.server.openapi``)
and the tests read this table. A command is declared in its concept module
(``timhooks.server.command``); a new concept module is added to ``_MODULES`` below.
"""

from __future__ import annotations

from collections.abc import Mapping

from timhooks.server import (
    accounts,
    blocklist,
    callbacks,
    friend_actions,
    friends,
    group_attrs,
    group_life,
    group_members,
    group_messages,
    groups,
    member_fields,
    messages,
    oa_messages,
    official_accounts,
    online,
    profiles,
    subscribers,
    topics,
)
from timhooks.server.command import CommandTable, RestCommand

__all__ = ["COMMANDS", "gather"]

_MODULES = (
    accounts,
    official_accounts,
    subscribers,
    oa_messages,
    groups,
    group_members,
    messages,
    group_messages,
    group_life,
    member_fields,
    group_attrs,
    topics,
    profiles,
    friends,
    friend_actions,
    blocklist,
    online,
    callbacks,
)


def gather(*tables: CommandTable) -> dict[tuple[str, str], RestCommand]:
    """The commands of ``tables`` by (service, name); a path declared twice is a mistake."""
    found: dict[tuple[str, str], RestCommand] = {}
    for table in tables:
        for command in table.commands:
            key = (command.service, command.name)
            if key in found:
                raise ValueError(f"REST command {command.path} is declared twice")
            found[key] = command
    return found


COMMANDS: Mapping[tuple[str, str], RestCommand] = gather(*(m.commands for m in _MODULES))
"""Every REST command by (service, name)."""
