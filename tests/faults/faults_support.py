"""Real processes on loopback for the fault tests: `timhooks serve`, `timhooks listen`, and a
scriptable app backend (a threaded HTTP server answering what the test tells it to).

Everything is started in a ``with`` block and always reaped: processes are terminated (or found
already killed) and waited for, sockets and files closed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

import loopback
from loopback import HOST, free_port, running, timhooks_argv
from timhooks.protocol import generate_usersig

APP = 1400000077
KEY = "fault-test-key-0123456789abcdef"
ADMIN = "administrator"
ACK = {"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}
AFTER_CREATE_GROUP = "Group.CallbackAfterCreateGroup"
BEFORE_CREATE_GROUP = "Group.CallbackBeforeCreateGroup"


def wait_until(check: Callable[[], Any], within: float = 20.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        time.sleep(every)


# --- timhooks serve ---------------------------------------------------------------------------


@dataclass
class Server:
    """A running `timhooks serve` process and a REST client for its admin."""

    process: subprocess.Popen[bytes]
    port: int
    db: Path
    facts: dict[str, Any]
    http: httpx.Client

    def call(
        self, service: str, command: str, body: dict[str, Any], *, user: str = ADMIN
    ) -> dict[str, Any]:
        """One REST call; the envelope (always HTTP 200)."""
        params = {
            "sdkappid": str(APP),
            "identifier": user,
            "usersig": generate_usersig(APP, KEY, user, now=int(time.time())),
            "random": "1",
            "contenttype": "json",
        }
        r = self.http.post(f"/v4/{service}/{command}", params=params, content=json.dumps(body))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def create_group(self, name: str) -> dict[str, Any]:
        """create_group of a Public group named ``name`` (one AfterCreateGroup when on)."""
        return self.call("group_open_http_svc", "create_group", {"Type": "Public", "Name": name})

    def set_callback(self, **fields: Any) -> None:
        """timhooks_config/set_callback; must succeed."""
        answer = self.call("timhooks_config", "set_callback", fields)
        assert answer["ErrorCode"] == 0, answer


@contextmanager
def serving(
    db: Path, *flags: str, callback_url: str | None = None, port: int | None = None
) -> Iterator[Server]:
    """Run `timhooks serve` on ``db`` until the block ends (or the test kills it)."""
    port = port or free_port()
    argv = timhooks_argv("serve", "--host", HOST, "--port", str(port), "--db", str(db))
    argv += ["--app-id", str(APP), "--key", KEY, "--json", *flags]
    if callback_url is not None:
        argv += ["--callback-url", callback_url]
    out_path = db.parent / f"serve-{port}.out"
    with running(argv, port, out_path, db.parent / f"serve-{port}.err") as process:
        facts = json.loads(out_path.read_text().splitlines()[0])
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as http:
            yield Server(process, port, db, facts, http)


# --- timhooks listen --------------------------------------------------------------------------


@dataclass
class Listener:
    """A running `timhooks listen` process."""

    process: subprocess.Popen[bytes]
    port: int
    db: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/im"


@contextmanager
def listening(db: Path, port: int | None = None, *flags: str) -> Iterator[Listener]:
    """Run `timhooks listen` (app APP, no token) on ``db`` until the block ends."""
    with loopback.listening(db, APP, *flags, port=port) as (process, bound, _):
        yield Listener(process, bound, db)


# --- reading the databases (read-only, as another process would) ------------------------------


def _rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def inbox_group_ids(db: Path, command: str = AFTER_CREATE_GROUP) -> list[str]:
    """GroupId of every stored webhook of ``command``, one per inbox row."""
    rows = _rows(db, "SELECT body FROM inbox WHERE command = ?", (command,))
    return [json.loads(bytes(r["body"]))["GroupId"] for r in rows]


def outbox(db: Path, phase: str = "after") -> list[dict[str, Any]]:
    """The server's outbox rows of ``phase`` with their body decoded."""
    rows = _rows(
        db,
        "SELECT id, command, status, attempts, last_status, last_error, body FROM outbox"
        " WHERE phase = ? ORDER BY id",
        (phase,),
    )
    return [{**dict(r), "body": json.loads(bytes(r["body"]))} for r in rows]


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of a database file."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return result
    finally:
        conn.close()


# --- a scriptable app backend -----------------------------------------------------------------


@dataclass
class Reply:
    """What the fake app backend answers: status, raw body, and a delay before answering."""

    status: int = 200
    body: bytes = json.dumps(ACK).encode()
    delay: float = 0.0


@dataclass
class FakeApp:
    """An HTTP server on loopback that records webhooks and answers ``reply``."""

    server: ThreadingHTTPServer
    reply: Reply = field(default_factory=Reply)
    hits: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hook"

    def commands(self) -> list[str]:
        return [q.get("CallbackCommand", "") for _, q, _ in self.hits]


@contextmanager
def fake_app() -> Iterator[FakeApp]:
    """Serve a FakeApp on a thread until the block ends."""
    app: FakeApp

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            app.hits.append((parts.path, dict(parse_qsl(parts.query)), body))
            reply = app.reply
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the sender gave up waiting and closed the connection

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    app = FakeApp(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
