"""Tencent Cloud Chat webhooks in a FastAPI app.

Run it from this directory (pip install fastapi; uvicorn comes with timhooks):

    TIM_SDKAPPID=1400000001 TIM_WEBHOOK_TOKEN=s3cret uvicorn fastapi_app:app --port 8080 \
        --http timhooks.hosting:LimitedHttpProtocol

and point the Chat console, or a local Chat backend, at it with the same token:

    timhooks serve --app-id 1400000001 --callback-token s3cret \
        --callback-url http://127.0.0.1:8080/tencent/callback

Variables: TIM_SDKAPPID (default 1400000001), TIM_WEBHOOK_TOKEN (required: the webhook token
of the Chat console, or serve's --callback-token), TIM_INBOX (default timhooks-inbox.db in the
current directory, where `timhooks events list` looks). timhooks' HTTP protocol for uvicorn
caps heads, head time and open connections (README, "Guarantees").
"""

from __future__ import annotations

import logging
import os
import re

from fastapi import FastAPI
from starlette.routing import Route

from timhooks.protocol import events as ev
from timhooks.receiver import Decision, Receiver


class HideSign(logging.Filter):
    """Blank the Sign of webhook URLs in log lines: access logs print query strings."""

    SIGN = re.compile(r"([?&]sign=)[^&\s\"]*", re.IGNORECASE)

    def hide(self, value: object) -> object:
        return self.SIGN.sub(r"\1(hidden)", value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        # The URL is in the arguments (uvicorn's formatter reads them one by one) or the text.
        record.msg = self.hide(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.hide(arg) for arg in record.args)
        return True


for name in ("uvicorn.access", "gunicorn.access"):
    logging.getLogger(name).addFilter(HideSign())

log = logging.getLogger("chat-webhooks")

token = os.environ.get("TIM_WEBHOOK_TOKEN")
if not token:
    raise SystemExit("set TIM_WEBHOOK_TOKEN to the webhook token (unsigned webhooks are refused)")

receiver = Receiver(
    app_id=int(os.environ.get("TIM_SDKAPPID", "1400000001")),
    token=token,  # Sign and RequestTime are checked on every webhook
    inbox=os.environ.get("TIM_INBOX", "timhooks-inbox.db"),  # after-webhooks land here first
)

# Stand-ins for your own database.
full_accounts: set[str] = set()
unsubscribed: set[tuple[str, str]] = set()  # (official account, user)
recalled: set[str] = set()  # MsgKeys to hide from the archive
full_groups: set[str] = set()


@receiver.on(ev.BeforeCreateOfficialAccount)
def vet_account_name(event: ev.BeforeCreateOfficialAccount) -> Decision:
    """Answered inline, within the deadline: allow, deny, or reject with our own code."""
    if "forbidden" in event.name.lower():
        return Decision.deny()  # the REST caller gets 20006
    if len(event.name) > 32:
        return Decision.reject(120001, "official account names are at most 32 characters")
    return Decision.allow()


# After-webhooks are stored before Tencent gets its 200, then handled here, retried on error.
@receiver.on(ev.AfterOfficialAccountFull)
async def account_full(event: ev.AfterOfficialAccountFull) -> None:
    full_accounts.add(event.official_account)
    log.warning("%s reached its subscriber limit", event.official_account)


@receiver.on(ev.AfterDeleteSubscriber)
async def unsubscribe(event: ev.AfterDeleteSubscriber) -> None:
    for item in event.subscribe_account_list:
        unsubscribed.add((event.official_account, item.subscriber_account))


@receiver.on(ev.AfterMsgWithDraw)
async def recall(event: ev.AfterMsgWithDraw) -> None:
    recalled.update(item.msg_key for item in event.withdraw_msg_list)


@receiver.on(ev.AfterGroupFull)
def group_full(event: ev.AfterGroupFull) -> None:  # plain functions run in a thread
    full_groups.add(event.group_id)


@receiver.on(ev.C2CBeforeSendMsg)
def moderate(event: ev.C2CBeforeSendMsg) -> Decision:
    text = ev.message_text(event.msg_body)  # "hello [image]"
    if "spam" in text:
        return event.deny()  # the sender gets 20006
    if "red packet" in text:
        return event.reject(120001, "no red packets here")  # a code in [120001, 130000]
    if "darn" in text:
        return event.rewrite(msg_body=[ev.MsgElement.text(text.replace("darn", "****"))])
    return event.allow()


@receiver.on(ev.PrevFriendAdd)
def friend_requests(event: ev.PrevFriendAdd) -> Decision:
    # One ResultCode per recipient: 0 lets the request through, [38000, 39000] refuses it.
    return event.per_recipient({a: 38001 for a in event.recipients() if a.startswith("vip_")})


# A Route, not app.mount(): a Mount answers /tencent/callback with a redirect to
# /tencent/callback/, and Tencent counts anything but a 200 as a failed webhook.
app = FastAPI(
    lifespan=receiver.lifespan,  # starts and stops the inbox worker
    routes=[Route("/tencent/callback", receiver.asgi)],
)
