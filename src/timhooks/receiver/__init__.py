"""The app-backend side: verify, parse, answer and durably handle Tencent Cloud Chat webhooks."""

from __future__ import annotations

from timhooks.protocol.decisions import Decision
from timhooks.receiver.asgi import ReceiverApp
from timhooks.receiver.core import Handler, Receiver, WebhookMeta, WebhookResponse
from timhooks.receiver.sync import SyncReceiver

__all__ = [
    "Decision",
    "Handler",
    "Receiver",
    "ReceiverApp",
    "SyncReceiver",
    "WebhookMeta",
    "WebhookResponse",
]
