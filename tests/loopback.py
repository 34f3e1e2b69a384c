"""Loopback plumbing shared by the tests: free ports, waiting for a port, and ``python -m
timhooks ...`` subprocesses that are always reaped.

Importable as ``loopback`` from any test: pytest's default ``prepend`` import mode puts this
directory (that of the root ``conftest.py``) on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1 (not listening yet)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP; without it every keep-alive response stalls ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def _ephemeral_low() -> int:
    """The first port the kernel hands out to bind(0) and connect() (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_candidates() -> Iterator[int]:
    """Ports for this test process to try, in a range of its own.

    They lie below the kernel's ephemeral range, so no connection or bind(0) anywhere on the
    machine is given one while a subprocess is about to bind it; and each pytest-xdist worker
    has its own slice, so two workers never pick the same port.
    """
    high = _ephemeral_low()
    low = max(10000, high - 12000)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(name[2:]) if name[2:].isdigit() else 0
    span = (high - low) // max(workers, 1)
    first = low + index * span
    start = os.getpid() % span
    return itertools.cycle([first + (start + i) % span for i in range(span)])


_CANDIDATES = _port_candidates()


def free_port() -> int:
    """A loopback port for a subprocess to bind itself: free now, and in a range that nothing
    else on the machine is handed meanwhile (see ``_port_candidates``)."""
    for _ in range(2000):
        port = next(_CANDIDATES)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue  # in use (a service, or a subprocess of this worker)
        return port
    raise AssertionError("no free loopback port in this test process's range")


def wait_port(
    port: int, process: subprocess.Popen[bytes], *, within: float = 30.0, log: Path | None = None
) -> None:
    """Wait until something accepts connections on ``port``; fail if ``process`` exits first
    (quoting the tail of ``log``) or nothing listens within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            tail = log.read_text()[-2000:] if log is not None else ""
            raise AssertionError(f"process exited early: {process.args}\n{tail}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port} within {within} s") from None
            time.sleep(0.05)


def timhooks_argv(*args: str) -> list[str]:
    """The command line of ``python -m timhooks ARGS`` with this interpreter."""
    return [sys.executable, "-m", "timhooks", *args]


def timhooks(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one ``python -m timhooks`` command to completion; its output captured as text."""
    return subprocess.run(
        timhooks_argv(*args), capture_output=True, text=True, timeout=timeout, check=False
    )


def reap(*processes: subprocess.Popen[bytes], within: float = 15.0) -> None:
    """Terminate the processes still running, wait for all; kill one that does not exit."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(argv: list[str], port: int, out: Path, err: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` (stdout to ``out``, stderr to ``err``), wait until it listens on ``port``,
    and reap it when the block ends."""
    with open(out, "wb") as out_file, open(err, "wb") as err_file:
        process = subprocess.Popen(argv, stdout=out_file, stderr=err_file)
        try:
            wait_port(port, process, log=err)
            yield process
        finally:
            reap(process)


@contextlib.contextmanager
def listening(
    db: Path, app_id: int, *flags: str, port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """Run ``timhooks listen --json`` for ``app_id`` on ``db`` until the block ends; yield the
    process, its port and the file its stdout goes to."""
    port = port or free_port()
    argv = timhooks_argv("listen", "--app-id", str(app_id), "--host", HOST, "--port", str(port))
    argv += ["--db", str(db), "--json", *flags]
    out = db.parent / f"listen-{port}.out"
    with running(argv, port, out, db.parent / f"listen-{port}.err") as process:
        yield process, port, out
