"""The webhooks `timhooks serve` sends: one list for every test package that needs it.

Importable as ``served`` from any test (pytest's ``prepend`` import mode puts this directory on
``sys.path``, see ``loopback.py``). ``SENT_BY_SERVE`` is written out by concept, as the README's
"REST commands" and "Client actions" tables give them; ``named_by_the_server()`` reads the same
fact from the code (every webhook model src/timhooks/server/ names), and
tests/server/test_webhook_commands.py holds the two equal. The registry knows all 59 of
Tencent's commands; serve sends these.
"""

from __future__ import annotations

import ast
from pathlib import Path

from timhooks.protocol import COMMANDS
from timhooks.protocol import events as ev

SERVER_SRC = Path(__file__).resolve().parents[1] / "src" / "timhooks" / "server"

_MODELS: tuple[type[ev.Event], ...] = (
    # Official Accounts: official_accounts, subscribers, oa_messages
    ev.BeforeCreateOfficialAccount,
    ev.AfterCreateOfficialAccount,
    ev.AfterOfficialAccountInfoChanged,
    ev.AfterOfficialAccountDestroyed,
    ev.BeforeAddSubscriber,
    ev.AfterAddSubscriber,
    ev.AfterOfficialAccountFull,
    ev.AfterDeleteSubscriber,
    ev.BeforeSendMsg,
    ev.AfterSendMsg,
    ev.AfterMsgWithDraw,
    # group membership: groups, group_members
    ev.BeforeCreateGroup,
    ev.AfterCreateGroup,
    ev.BeforeApplyJoinGroup,
    ev.BeforeInviteJoinGroup,
    ev.AfterNewMemberJoin,
    ev.AfterMemberExit,
    ev.AfterGroupFull,
    # group messages: group_messages
    ev.GroupBeforeSendMsg,
    ev.GroupAfterSendMsg,
    ev.GroupSendMsgException,
    ev.AfterRecallMsg,
    # group life: group_life, member_fields, group_attrs, topics
    ev.AfterGroupDestroyed,
    ev.AfterGroupInfoChanged,
    ev.AfterChangeGroupOwner,
    ev.AfterMemberFieldChanged,
    ev.AfterGroupAttrChanged,
    ev.BeforeCreateTopic,
    ev.AfterCreateTopic,
    ev.AfterTopicDestroyed,
    ev.AfterTopicInfoChanged,
    # one-to-one messages: messages
    ev.C2CBeforeSendMsg,
    ev.C2CAfterSendMsg,
    ev.C2CAfterMsgWithDraw,
    ev.C2CAfterMsgReport,
    # friends and blocklists: friends, friend_actions, blocklist
    ev.PrevFriendAdd,
    ev.PrevFriendResponse,
    ev.FriendAdd,
    ev.FriendDelete,
    ev.BlackListAdd,
    ev.BlackListDelete,
    # profiles and online state: profiles, online
    ev.PortraitSet,
    ev.StateChange,
)

SENT_BY_SERVE = frozenset(model.command for model in _MODELS)
"""The CallbackCommand of every webhook `timhooks serve` can send."""


def named_by_the_server() -> frozenset[str]:
    """The commands whose event model src/timhooks/server/ names (``ev.X``): what it can
    ``emit`` or ``ask``, read from the code rather than from a list."""
    by_model = {spec.model.__name__: name for name, spec in COMMANDS.items()}
    found = set()
    for path in sorted(SERVER_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ev"
                and node.attr in by_model
            ):
                found.add(by_model[node.attr])
    return frozenset(found)
