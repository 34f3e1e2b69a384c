"""Processes under test: start on 127.0.0.1, wait until they listen, measure, always stop.

Every child runs in its own session (a Ctrl-C reaches only the harness, which then stops them in
order) and gets SIGTERM if the harness itself dies (Linux parent-death signal), so nothing
outlives a run.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

HOST = "127.0.0.1"
PYTHON = sys.executable
BENCH = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")
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


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a live process has used."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    parts = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    guest = sum(values[8:10]) if len(values) > 9 else 0  # already counted in user and nice
    return (sum(values) - idle - guest) / _TICK


def pressure(resource_name: str) -> float:
    """Seconds some task has stalled waiting for ``cpu`` or ``io`` (Linux PSI), or NaN."""
    try:
        line = Path(f"/proc/pressure/{resource_name}").read_text().splitlines()[0]
    except (OSError, IndexError):
        return float("nan")
    return int(line.rsplit("total=", 1)[1]) / 1e6


def children_cpu() -> float:
    """CPU seconds used by finished children (load generators) of this process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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

    def cpu(self) -> float:
        """CPU seconds used so far."""
        return proc_cpu(self.pid)

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
    ) -> Proc:
        """Start ``argv`` and wait until it accepts connections on ``port``; with no port (a
        worker), wait a second and check that it still runs."""
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
                )
            finally:
                if not isinstance(out, int):
                    out.close()
        proc = Proc(name, popen, port or 0, log)
        self.started.append(proc)
        if port is None:
            time.sleep(1.0)
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


@dataclass
class CpuWindow:
    """CPU used during a window: by our servers, our load generators, and everything else.

    Every window is also kept in ``CpuWindow.history`` for the report's conditions.
    """

    history: ClassVar[list[CpuWindow]] = []

    servers: Sequence[Proc]
    wall: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)
    load_cpu: float = 0.0
    harness_cpu: float = 0.0
    machine: float = 0.0
    cpu_pressure: float = 0.0  # share of the time some runnable task waited for a CPU
    io_pressure: float = 0.0  # share of the time some task waited for I/O

    def __enter__(self) -> CpuWindow:
        self._t = time.perf_counter()
        self._servers = {p.name: p.cpu() for p in self.servers}
        self._children = children_cpu()
        self._self = time.process_time()
        self._machine = machine_busy()
        self._psi = (pressure("cpu"), pressure("io"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.server_cpu = {p.name: p.cpu() - self._servers[p.name] for p in self.servers}
        self.load_cpu = children_cpu() - self._children
        self.harness_cpu = time.process_time() - self._self
        self.machine = machine_busy() - self._machine
        self.cpu_pressure = (pressure("cpu") - self._psi[0]) / self.wall if self.wall else 0.0
        self.io_pressure = (pressure("io") - self._psi[1]) / self.wall if self.wall else 0.0
        CpuWindow.history.append(self)

    def cores(self, name: str) -> float:
        """Cores a server used on average (1.0 = one core busy all the time)."""
        return self.server_cpu.get(name, 0.0) / self.wall if self.wall else 0.0

    @property
    def load_cores(self) -> float:
        """Cores the load generator used, start-up included."""
        return self.load_cpu / self.wall if self.wall else 0.0

    @property
    def other_cores(self) -> float:
        """Cores used by everything else on the machine (other users' work, the kernel)."""
        ours = sum(self.server_cpu.values()) + self.load_cpu + self.harness_cpu
        return max(self.machine - ours, 0.0) / self.wall if self.wall else 0.0
