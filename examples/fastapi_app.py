"""Tencent Cloud Chat webhooks in a FastAPI app.

    TIM_SDKAPPID=1400000000 TIM_WEBHOOK_TOKEN=your-token uvicorn fastapi_app:app \
        --http timhooks.hosting:LimitedHttpProtocol

(timhooks' HTTP protocol for uvicorn caps heads, head time and open connections: README,
"Guarantees").

Webhook URL for the Chat console: https://your.host/tencent/callback
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI
from starlette.routing import Route

from timhooks import Decision, Receiver
from timhooks.protocol.events import (
    AfterDeleteSubscriber,
    AfterGroupFull,
    AfterMsgWithDraw,
    AfterOfficialAccountFull,
    BeforeCreateOfficialAccount,
)

log = logging.getLogger("chat-webhooks")

receiver = Receiver(
    app_id=int(os.environ.get("TIM_SDKAPPID", "1400000000")),
    token=os.environ.get("TIM_WEBHOOK_TOKEN"),  # the console's webhook token (None: unsigned)
    inbox=os.environ.get("TIM_INBOX", "timhooks-inbox.db"),  # after-webhooks land here first
)

# Stand-ins for your own database.
full_accounts: set[str] = set()
unsubscribed: set[tuple[str, str]] = set()  # (official account, user)
recalled: set[str] = set()  # MsgKeys to hide from the archive
full_groups: set[str] = set()


@receiver.on(BeforeCreateOfficialAccount)
def vet_account_name(event: BeforeCreateOfficialAccount) -> Decision:
    """Answered inline, within the deadline: allow, deny, or reject with our own code."""
    if "forbidden" in event.name.lower():
        return Decision.deny()  # the REST caller sees error 20006
    if len(event.name) > 32:
        return Decision.reject(120001, "official account names are at most 32 characters")
    return Decision.allow()


# After-webhooks are stored before Tencent gets its 200, then handled here, retried on error.
@receiver.on(AfterOfficialAccountFull)
async def account_full(event: AfterOfficialAccountFull) -> None:
    full_accounts.add(event.official_account)
    log.warning("official account %s reached its subscriber limit", event.official_account)


@receiver.on(AfterDeleteSubscriber)
async def unsubscribe(event: AfterDeleteSubscriber) -> None:
    for item in event.subscribe_account_list:
        unsubscribed.add((event.official_account, item.subscriber_account))


@receiver.on(AfterMsgWithDraw)
async def recall(event: AfterMsgWithDraw) -> None:
    recalled.update(item.msg_key for item in event.withdraw_msg_list)


@receiver.on(AfterGroupFull)
async def group_full(event: AfterGroupFull) -> None:
    full_groups.add(event.group_id)


# A Route rather than app.mount(): a Mount answers /tencent/callback with a redirect to
# /tencent/callback/, and Tencent counts anything but a 200 as a failed webhook.
app = FastAPI(
    lifespan=receiver.lifespan,  # starts and stops the inbox worker
    routes=[Route("/tencent/callback", receiver.asgi)],
)
