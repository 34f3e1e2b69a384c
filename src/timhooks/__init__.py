"""timhooks: Tencent Cloud Chat webhooks for Python.

``timhooks.protocol`` is the sans-IO protocol core, ``timhooks.receiver`` the app-backend side.
The receiver names and ``__version__`` load on first use, so that ``import timhooks.protocol``
stays free of asyncio, sockets and databases.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from timhooks.receiver import Receiver, SyncReceiver, WebhookMeta, WebhookResponse

_LAZY = {
    name: "timhooks.receiver"
    for name in ("Receiver", "SyncReceiver", "WebhookMeta", "WebhookResponse")
}

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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("timhooks")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'timhooks' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
