"""Processes under test: start them on 127.0.0.1, wait until they listen, always stop them.

Every child runs in its own session (a Ctrl-C reaches only the harness, which then stops them in
order) and gets SIGTERM if the harness itself dies (Linux parent-death signal), so nothing
outlives a run.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
PYTHON = sys.executable
BENCH = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1


class BenchError(RuntimeError):
    """A benchmark step failed (a process died, a check did not hold, a step ran too long)."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM, VmRSS (kB) and Threads from /proc/PID/status."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    return out


@dataclass
class Proc:
    """A started process: a server on ``port``, or a worker (port 0) that listens nowhere."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{HOST}:{self.port}"

    def memory(self) -> dict[str, int]:
        """VmHWM, VmRSS and Threads now."""
        return proc_status(self.pid)

    def check_alive(self) -> None:
        """Raise BenchError if the process has exited."""
        if self.popen.poll() is not None:
            raise BenchError(f"{self.name} exited with {self.popen.returncode}: {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        """The end of its log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGINT (uvicorn's graceful stop), then SIGKILL after ``timeout`` seconds."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


@dataclass
class Procs:
    """Starts processes and stops every one of them when the block ends."""

    workdir: Path
    started: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int | None,
        stdout: Path | None = None,
        timeout: float = 30.0,
        settle: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> Proc:
        """Start ``argv`` (``env``: added to the environment) and wait until it accepts
        connections on ``port``; with no port (a worker), wait ``settle`` seconds and check that
        it still runs."""
        log = self.workdir / f"{name}-{port or 'worker'}.log"
        out: IO[bytes] | int
        with open(log, "wb") as err:
            out = open(stdout, "wb") if stdout is not None else subprocess.DEVNULL  # noqa: SIM115
            try:
                popen = subprocess.Popen(
                    list(argv),
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,  # the harness starts no threads
                    cwd=self.workdir,
                    env={**os.environ, **env} if env else None,
                )
            finally:
                if not isinstance(out, int):
                    out.close()
        proc = Proc(name, popen, port or 0, log)
        self.started.append(proc)
        if port is None:
            time.sleep(settle)
            proc.check_alive()
            return proc
        deadline = time.monotonic() + timeout
        while True:
            proc.check_alive()
            try:
                socket.create_connection((HOST, port), timeout=0.5).close()
                return proc
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{name} did not listen on {port} in {timeout} s") from None
                time.sleep(0.05)

    def stop(self, proc: Proc) -> None:
        """Stop one process now."""
        proc.stop()
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self) -> None:
        """Stop every process still running, newest first."""
        while self.started:
            self.started.pop().stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[Procs]:
        """``with procs.running():`` stops everything at the end, whatever happened."""
        try:
            yield self
        finally:
            self.stop_all()


def run_json(argv: Sequence[str], *, timeout: float, cwd: Path) -> dict[str, Any]:
    """Run a load generator to completion; return the JSON object it printed."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # the harness starts no threads
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"{Path(argv[1]).name} ran longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise BenchError(
            f"{Path(argv[1]).name} failed ({done.returncode}): "
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )
    lines = done.stdout.decode().strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    return result
