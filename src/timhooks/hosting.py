"""Running timhooks' ASGI apps with connection limits.

uvicorn's httptools protocol bounds neither the size of a request's head nor the time it takes
to arrive, and takes connections until the process runs out of file descriptors, when accepting
fails for everyone, real webhooks included. Tencent does not retry after-webhooks by default
("Webhook Overview", https://trtc.io/document/34354), so a webhook refused that way is lost.

``LimitedHttpProtocol`` is uvicorn's httptools protocol with the missing limits, plugged in at
uvicorn's documented seam for HTTP protocols (``uvicorn.Config(http=...)``, ``uvicorn --http
timhooks.hosting:LimitedHttpProtocol``):

- A request's head (request line and headers) over ``max_head_bytes`` (64 KiB) is answered 431
  and its connection closed; nothing more of it is kept.
- A head must be complete within ``head_deadline`` (10 s) of the connection opening, and the
  next one within the keep-alive timeout plus that (15 s) of a response. A late head is
  answered 408; a connection that sent nothing is closed (an idle one after a response by
  uvicorn's keep-alive timeout, 5 s).
- The body has the app's own deadline (``ReceiverApp.body_deadline``, the REST API's); an answer
  sent before the whole body arrived (413, 408, a route that reads no body) closes the
  connection, so the rest of a dribbling body cannot hold it.
- At most ``max_connections`` (1024) connections are open. At the cap a new connection closes
  the one that has waited longest for a request (one that never finished a request first, then
  an idle keep-alive one); when every connection is in a request, the new one is answered 503 at
  once and closed.
- The open-files soft limit is raised to the hard limit, and the cap kept below it.

``bind`` binds the socket before anything else starts, so that a bad or busy port is one clear
``ConfigError`` and the real port of ``--port 0`` is known for the start-up banner.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from timhooks.protocol.errors import ConfigError

__all__ = [
    "DEFAULT_HEAD_DEADLINE",
    "DEFAULT_KEEP_ALIVE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_HEAD_BYTES",
    "ConnectionLimits",
    "LimitedHttpProtocol",
    "bind",
    "connection_cap",
    "raise_open_files_limit",
    "url_of",
    "uvicorn_config",
]

log = logging.getLogger("timhooks.hosting")

DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
# Tencent gives up on a webhook after 2 s ("Webhook Overview", https://trtc.io/document/34354),
# so a head still arriving after 10 s is not Tencent's.
DEFAULT_HEAD_DEADLINE = 10.0
# Seconds an idle keep-alive connection stays open. Clients close idle connections on their own
# schedule (httpx after 5 s, aiohttp 15 s); a server that closes one just as its client reuses
# it fails that request, and a POST is not sent again. Closing later than common clients do
# avoids the race (nginx's default is the same 75 s); idle connections stay bounded by the
# connection cap, which closes the longest-waiting one first.
DEFAULT_KEEP_ALIVE = 75.0

_RESERVED_FILES = 256  # descriptors kept free for databases, webhooks out, logs and refusals
_MAX_REFUSING = 64  # over-limit connections being answered 503 at once; beyond, closed at once
_LINGER = 1.0  # seconds a refused connection is still read (and dropped) after its answer
_WARN_EVERY = 10.0  # seconds between warnings about refused connections


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one client may hold of a server: connections, head size and head time."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    head_deadline: float = DEFAULT_HEAD_DEADLINE

    def __post_init__(self) -> None:
        if self.max_connections < 1 or self.max_head_bytes < 1 or not self.head_deadline > 0:
            raise ConfigError(
                "max_connections, max_head_bytes and head_deadline must be positive, got "
                f"{self.max_connections}, {self.max_head_bytes} and {self.head_deadline}"
            )


def raise_open_files_limit() -> int | None:
    """Raise this process's soft limit on open files to its hard limit; return the soft limit
    now in force (None where there is no such limit or it is unlimited)."""
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and soft != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def connection_cap(limits: ConnectionLimits, open_files: int | None) -> int:
    """The connections a server may hold: ``max_connections``, kept below the open-files limit
    with room for everything else the process opens."""
    if open_files is None:
        return limits.max_connections
    usable = open_files - min(_RESERVED_FILES, open_files // 2)
    return max(1, min(limits.max_connections, usable))


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0: any free port), made before anything else
    starts; ConfigError for a port out of range, an unknown host or a busy address.

    It listens only once uvicorn serves on it: until then connections are refused, so a client
    that finds the port open finds the server ready (and its start-up line printed). Binding
    already fails when another socket listens on the address, SO_REUSEADDR or not.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range: 1 to 65535, or 0 for any free port")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot listen on {host}: {exc}") from exc
    # The protocol from getaddrinfo is IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted
    # connections only when the listening socket says TCP (tests/loopback.py).
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    """``http://host:port`` of a bound socket, with the port it really has."""
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(
    app: Any,
    *,
    limits: ConnectionLimits | None = None,
    lifespan: Literal["on", "off"],
    keep_alive: float = DEFAULT_KEEP_ALIVE,
) -> uvicorn.Config:
    """The uvicorn settings timhooks serves its apps with: ``LimitedHttpProtocol`` with
    ``limits``, no WebSockets, warnings only, no access log."""
    protocol = LimitedHttpProtocol.with_limits(limits or ConnectionLimits())
    return uvicorn.Config(
        app,
        http=protocol,
        ws="none",
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        # uvicorn's annotation says int; it only hands the value to loop.call_later.
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
    )


class _Ledger:
    """The connections of one uvicorn server: how many are admitted, which wait for a request
    (oldest first), how many are being refused."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.admitted = 0
        self.refusing = 0
        # Waiting for a request, oldest first: ``fresh`` never finished one, ``idle`` did.
        self.fresh: dict[LimitedHttpProtocol, None] = {}
        self.idle: dict[LimitedHttpProtocol, None] = {}
        self._warned = 0.0

    def admit(self, conn: LimitedHttpProtocol) -> bool:
        """Count ``conn`` in, closing the longest-waiting connection at the cap; False when
        every connection is in a request."""
        if self.admitted >= self.cap:
            waiting = self.fresh or self.idle
            if not waiting:
                return False
            victim = next(iter(waiting))
            self.release(victim)
            victim.transport.close()
        self.admitted += 1
        conn.admitted = True
        self.fresh[conn] = None
        return True

    def refuse(self) -> bool:
        """Whether one more over-limit connection may be answered (rather than just closed)."""
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.warning("%d connections open, all in a request: refusing new ones", self.cap)
        if self.refusing >= _MAX_REFUSING:
            return False
        self.refusing += 1
        return True

    def busy(self, conn: LimitedHttpProtocol) -> None:
        """``conn`` is in a request: not to be closed for room."""
        self.fresh.pop(conn, None)
        self.idle.pop(conn, None)

    def release(self, conn: LimitedHttpProtocol) -> None:
        """``conn`` is closing: its place is free."""
        self.busy(conn)
        if conn.admitted:
            conn.admitted = False
            self.admitted -= 1
        if conn.refusing:
            conn.refusing = False
            self.refusing -= 1


_LEDGERS: weakref.WeakKeyDictionary[ServerState, _Ledger] = weakref.WeakKeyDictionary()


def _ledger_for(state: ServerState, limits: ConnectionLimits) -> _Ledger:
    ledger = _LEDGERS.get(state)
    if ledger is None:
        cap = connection_cap(limits, raise_open_files_limit())
        if cap < limits.max_connections:
            log.warning("at most %d connections: the open-files limit allows no more", cap)
        ledger = _LEDGERS[state] = _Ledger(cap)
    return ledger


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with a head size cap, a head deadline and a cap on
    open connections (``limits``; ``with_limits`` makes a class with others)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    @classmethod
    def with_limits(cls, limits: ConnectionLimits) -> type[LimitedHttpProtocol]:
        """A subclass with ``limits`` (for ``uvicorn.Config(http=...)``)."""
        return type(cls.__name__, (cls,), {"limits": limits, "__module__": cls.__module__})

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.ledger = _ledger_for(server_state, self.limits)
        self.admitted = False
        self.refusing = False
        self._head_bytes = 0
        self._heads_done = 0
        # When the head being read must be complete (None: a request is in hand). The timer is
        # armed once and re-armed when it finds the due time moved, not per request.
        self._head_due: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False  # answered and closing: what still arrives is dropped
        self._linger: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        """Admit the connection (or refuse it at the cap) and start its head deadline."""
        super().connection_made(transport)
        if self.ledger.admit(self):
            self._head_is_due(self.limits.head_deadline)
        elif self.ledger.refuse():
            self.refusing = True
            self._refuse(503, "too many connections; try again")
        else:
            transport.close()

    def data_received(self, data: bytes) -> None:
        """Feed the parser, counting the bytes of a head against ``max_head_bytes``."""
        if self._refused:
            return
        cycle = self.cycle
        if cycle is not None and cycle.more_body:  # a body is arriving, not a head
            HttpToolsProtocol.data_received(self, data)
            return
        room = self.limits.max_head_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            HttpToolsProtocol.data_received(self, data)
            return
        done = self._heads_done
        if room > 0:
            self._head_bytes += room
            super().data_received(data[:room])
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
        if self._heads_done == done:
            self._refuse(431, f"the request head is over {self.limits.max_head_bytes} bytes")
            return
        self.data_received(data[room:])  # the head ended within the cap: the rest goes on

    def connection_lost(self, exc: Exception | None) -> None:
        """Free the connection's place and stop its timers."""
        self._cancel_head_deadline()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self.ledger.release(self)
        super().connection_lost(exc)

    # --- httptools parser callbacks ---------------------------------------------------------

    def on_headers_complete(self) -> None:
        """The head is in: the request runs, with no head deadline and not to be closed for
        room; the next head is counted from zero."""
        self._heads_done += 1
        self._head_bytes = 0
        self._head_due = None
        ledger = self.ledger
        ledger.fresh.pop(self, None)
        ledger.idle.pop(self, None)
        HttpToolsProtocol.on_headers_complete(self)

    # --- uvicorn's request cycle ------------------------------------------------------------

    def on_response_complete(self) -> None:
        """After a response: close if the request's body is still arriving, else wait for the
        next request under the keep-alive timeout and the head deadline."""
        pipelined = bool(self.pipeline)
        unread = not pipelined and self.cycle is not None and self.cycle.more_body
        HttpToolsProtocol.on_response_complete(self)
        if self.transport.is_closing():
            return
        if unread:
            # The app answered before the body arrived (413, 408, a route that reads none):
            # the rest of that body is all this connection can carry, so it ends here.
            self.transport.close()
            return
        if not pipelined:
            if self.admitted:
                self.ledger.idle[self] = None  # waits for the next request
            self._head_is_due(self.timeout_keep_alive + self.limits.head_deadline)

    def handle_websocket_upgrade(self) -> None:
        """A WebSocket takes the connection over; it leaves this protocol's accounting."""
        self._cancel_head_deadline()
        self.ledger.release(self)
        super().handle_websocket_upgrade()

    # --- limits -----------------------------------------------------------------------------

    def _head_is_due(self, seconds: float) -> None:
        """The head being read must be complete ``seconds`` from now."""
        self._head_due = due = self.loop.time() + seconds
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(due, self._head_check)

    def _cancel_head_deadline(self) -> None:
        self._head_due = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_check(self) -> None:
        self._head_timer = None
        due = self._head_due
        if due is None or self.transport.is_closing():
            return
        if self.loop.time() < due:
            self._head_timer = self.loop.call_at(due, self._head_check)
            return
        # A head is due only while no request is in hand (none between its head and response).
        self._head_due = None
        if self._head_bytes:
            self._refuse(408, "the request head took too long to arrive")
        else:
            self.transport.close()

    def _refuse(self, status: int, reason: str) -> None:
        """Answer ``status`` with ``reason`` and close; what still arrives is read and dropped
        for a moment, so that the client reads the answer rather than a reset."""
        self._refused = True
        self._cancel_head_deadline()
        self._unset_keepalive_if_required()
        self.ledger.busy(self)
        body = reason.encode()
        out = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            out += [name, b": ", value, b"\r\n"]
        out += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(out))
        if self.transport.can_write_eof():
            self.flow.resume_reading()
            self.transport.write_eof()
            self._linger = self.loop.call_later(_LINGER, self.transport.close)
        else:
            self.transport.close()
