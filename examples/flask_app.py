"""Tencent Cloud Chat webhooks in a Flask app (any WSGI framework works the same way).

Run it from this directory (pip install flask):

    TIM_SDKAPPID=1400000001 TIM_WEBHOOK_TOKEN=s3cret flask --app flask_app run --port 8080

and point the Chat console, or a local Chat backend, at it with the same token:

    timhooks serve --app-id 1400000001 --callback-token s3cret \
        --callback-url http://127.0.0.1:8080/tencent/callback

Variables: TIM_SDKAPPID (default 1400000001), TIM_WEBHOOK_TOKEN (required: the webhook token
of the Chat console, or serve's --callback-token), TIM_INBOX (default timhooks-inbox.db in the
current directory, where `timhooks events list` looks). Ctrl-C stops it cleanly: the inbox
worker finishes and the database is closed.
"""

from __future__ import annotations

import atexit
import logging
import os
import re

from flask import Flask, Response, request

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


for name in ("werkzeug", "gunicorn.access"):
    logging.getLogger(name).addFilter(HideSign())

token = os.environ.get("TIM_WEBHOOK_TOKEN")
if not token:
    raise SystemExit("set TIM_WEBHOOK_TOKEN to the webhook token (unsigned webhooks are refused)")

receiver = Receiver(
    app_id=int(os.environ.get("TIM_SDKAPPID", "1400000001")),
    token=token,
    inbox=os.environ.get("TIM_INBOX", "timhooks-inbox.db"),
)

full_groups: set[str] = set()  # a stand-in for your own database


@receiver.on(ev.BeforeCreateOfficialAccount)
def vet_account_name(event: ev.BeforeCreateOfficialAccount) -> Decision | None:
    if "forbidden" in event.name.lower():
        return Decision.deny()  # the REST caller gets 20006
    return None  # allow


@receiver.on(ev.AfterGroupFull)
def group_full(event: ev.AfterGroupFull) -> None:
    full_groups.add(event.group_id)


hooks = receiver.sync()  # runs the receiver and its inbox worker on a background thread
atexit.register(hooks.close)  # at exit: finish the worker, close the inbox

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = receiver.max_body


@app.post("/tencent/callback")
def tencent_callback() -> Response:
    answer = hooks.handle("POST", request.query_string, request.get_data())
    return Response(answer.body, status=answer.status, mimetype="application/json")
