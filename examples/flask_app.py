"""Tencent Cloud Chat webhooks in a Flask app (any WSGI framework works the same way).

    TIM_SDKAPPID=1400000000 TIM_WEBHOOK_TOKEN=your-token flask --app flask_app run

Webhook URL for the Chat console: https://your.host/tencent/callback
"""

from __future__ import annotations

import atexit
import os

from flask import Flask, Response, request

from timhooks import Decision, Receiver
from timhooks.protocol.events import AfterGroupFull, BeforeCreateOfficialAccount

receiver = Receiver(
    app_id=int(os.environ.get("TIM_SDKAPPID", "1400000000")),
    token=os.environ.get("TIM_WEBHOOK_TOKEN"),
    inbox=os.environ.get("TIM_INBOX", "timhooks-inbox.db"),
)

full_groups: set[str] = set()  # a stand-in for your own database


@receiver.on(BeforeCreateOfficialAccount)
def vet_account_name(event: BeforeCreateOfficialAccount) -> Decision | None:
    if "forbidden" in event.name.lower():
        return Decision.deny()  # the REST caller sees error 20006
    return None  # allow


@receiver.on(AfterGroupFull)
def group_full(event: AfterGroupFull) -> None:
    full_groups.add(event.group_id)


hooks = receiver.sync()  # runs the receiver and its inbox worker on a background thread
atexit.register(hooks.close)

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = receiver.max_body


@app.post("/tencent/callback")
def tencent_callback() -> Response:
    answer = hooks.handle("POST", request.query_string, request.get_data())
    return Response(answer.body, status=answer.status, mimetype="application/json")
