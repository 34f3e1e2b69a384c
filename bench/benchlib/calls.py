"""What the load sends: the benchmark app's identity, webhook bodies and REST request files.

A request file is JSON lines of ``{"target": "/path?query", "body": "...", "tag": "..."}``, the
format bench/loadgen.py and bench/rawclient.py read.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import msgspec

from timhooks.protocol.events import AfterGroupFull
from timhooks.protocol.query import build_query
from timhooks.protocol.signing import compute_sign
from timhooks.protocol.usersig import generate_usersig

APP_ID = 1400000123
KEY = "timhooks-bench-secret-key-0123456789abcdef"
TOKEN = "timhooks-bench-token"  # noqa: S105 (a fixed token of the local benchmark app)
ADMIN = "administrator"

_encoder = msgspec.json.Encoder()


def admin_usersig(app_id: int = APP_ID, key: str = KEY) -> str:
    """A fresh UserSig of the app's admin."""
    return generate_usersig(app_id, key, ADMIN, now=int(time.time()))


def pool_user(i: int) -> str:
    """The i-th user the measured calls add (imported, subscribed to nothing)."""
    return f"u{i}"


def prefilled_user(i: int) -> str:
    """The i-th user already subscribed or already a member before the measured calls."""
    return f"s{i}"


def group_full_body(n: str, now: float) -> bytes:
    """A unique Group.CallbackAfterGroupFull body, encoded from the event model as the server
    encodes the after-webhooks it sends."""
    event = AfterGroupFull(
        callback_command=AfterGroupFull.command,
        event_time=int(now * 1000),
        group_id=f"@TGS#bench{n}",
    )
    return _encoder.encode(event.to_wire())


def signed_after_query(now: int) -> str:
    """The query string of a Group.CallbackAfterGroupFull webhook, signed with the app's token."""
    return build_query(
        sdk_app_id=APP_ID,
        callback_command=AfterGroupFull.command,
        client_ip="127.0.0.1",
        opt_platform="RESTAPI",
        request_time=now,
        sign=compute_sign(TOKEN, now),
    )


def rest_target(path: str, usersig: str, *, nonce: bool = True) -> str:
    """``/v4/<path>?...``: a REST call as the admin (``nonce``: with a ``random`` parameter)."""
    target = f"/v4/{path}?sdkappid={APP_ID}&identifier={ADMIN}&usersig={quote(usersig)}"
    if nonce:
        target += f"&random={random.randrange(2**32)}"
    return target + "&contenttype=json"


def write_lines(path: Path, items: Iterable[dict[str, str]]) -> Path:
    """Write a request file; its path."""
    with open(path, "w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item) + "\n")
    return path


def rest_call(
    path: str, usersig: str, body: object, *, tag: str = "", nonce: bool = True
) -> dict[str, str]:
    """One line of a request file: the REST command at ``path`` with a JSON body."""
    item = {"target": rest_target(path, usersig, nonce=nonce), "body": json.dumps(body)}
    if tag:
        item["tag"] = tag
    return item


def subscriber_calls(
    path: Path, oa: str, sig: str, calls: int, start: int = 0, *, per_call: int = 100
) -> Path:
    """``calls`` add_subscriber calls of ``per_call`` new pool users each (from pool user
    ``start`` on) to Official Account ``oa``."""
    return write_lines(
        path,
        (
            rest_call(
                "official_account_open_http_svc/add_subscriber",
                sig,
                {
                    "Official_Account": oa,
                    "SubscriberList": [
                        {"Subscriber_Account": pool_user(start + k * per_call + i)}
                        for i in range(per_call)
                    ],
                },
            )
            for k in range(calls)
        ),
    )


def group_calls(path: Path, sig: str, calls: int, start: int = 0) -> Path:
    """``calls`` create_group calls, each a Public group owned by a new pool user (from pool
    user ``start`` on), its ID chosen by the server."""
    return write_lines(
        path,
        (
            rest_call(
                "group_open_http_svc/create_group",
                sig,
                {
                    "Type": "Public",
                    "Name": f"bench {start + k}",
                    "Owner_Account": pool_user(start + k),
                },
            )
            for k in range(calls)
        ),
    )


def member_calls(path: Path, groups: list[str], sig: str, calls: int, per_group: int) -> Path:
    """``calls`` add_group_member calls of 100 new pool users each, ``per_group`` calls to each
    group in turn."""
    return write_lines(
        path,
        (
            rest_call(
                "group_open_http_svc/add_group_member",
                sig,
                {
                    "GroupId": groups[k // per_group],
                    "MemberList": [{"Member_Account": pool_user(k * 100 + i)} for i in range(100)],
                },
            )
            for k in range(calls)
        ),
    )
