"""The app-backend side: verify, parse, answer and durably handle Tencent Cloud Chat webhooks."""

from __future__ import annotations

from timhooks.protocol.decisions import Decision
from timhooks.receiver.asgi import ReceiverApp
from timhooks.receiver.core import Handler, Receiver, WebhookMeta, WebhookResponse
from timhooks.receiver.observe import Cause, Notice, NoticeLimiter, Observer, Rejection, Repeat
from timhooks.receiver.sync import SyncReceiver
from timhooks.receiver.threads import HandlerThreads

__all__ = [
    "Cause",
    "Decision",
    "Handler",
    "HandlerThreads",
    "Notice",
    "NoticeLimiter",
    "Observer",
    "Receiver",
    "ReceiverApp",
    "Rejection",
    "Repeat",
    "SyncReceiver",
    "WebhookMeta",
    "WebhookResponse",
]
