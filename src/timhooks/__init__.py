"""timhooks: Tencent Cloud Chat webhooks for Python.

``timhooks.protocol`` is the sans-IO protocol core, ``timhooks.receiver`` the app-backend side.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from timhooks.protocol import (
    COMMANDS,
    Decision,
    Event,
    ProtocolError,
    RestCode,
    TimhooksError,
    compute_sign,
    generate_usersig,
    parse_event,
    verify_sign,
    verify_usersig,
)
from timhooks.receiver import Receiver, SyncReceiver, WebhookMeta, WebhookResponse

try:
    __version__ = version("timhooks")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "COMMANDS",
    "Decision",
    "Event",
    "ProtocolError",
    "Receiver",
    "RestCode",
    "SyncReceiver",
    "TimhooksError",
    "WebhookMeta",
    "WebhookResponse",
    "__version__",
    "compute_sign",
    "generate_usersig",
    "parse_event",
    "verify_sign",
    "verify_usersig",
]
