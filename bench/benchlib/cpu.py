"""CPU and pressure, read from /proc: what a process, the load generators and the rest of the
machine used while something was measured."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

_TICK = os.sysconf("SC_CLK_TCK")


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


class Measured(Protocol):
    """A process whose CPU a window measures (``benchlib.procs.Proc``)."""

    @property
    def name(self) -> str:
        """Its name in the figures."""
        ...

    @property
    def pid(self) -> int:
        """Its process id."""
        ...


@dataclass
class CpuWindow:
    """CPU used during a window: by our servers, our load generators, and everything else.

    Every window is also kept in ``CpuWindow.history`` for the report's conditions.
    """

    history: ClassVar[list[CpuWindow]] = []

    servers: Sequence[Measured]
    wall: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)
    load_cpu: float = 0.0
    harness_cpu: float = 0.0
    machine: float = 0.0
    cpu_pressure: float = 0.0  # share of the time some runnable task waited for a CPU
    io_pressure: float = 0.0  # share of the time some task waited for I/O

    def __enter__(self) -> CpuWindow:
        self._t = time.perf_counter()
        self._servers = {p.name: proc_cpu(p.pid) for p in self.servers}
        self._children = children_cpu()
        self._self = time.process_time()
        self._machine = machine_busy()
        self._psi = (pressure("cpu"), pressure("io"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.server_cpu = {p.name: proc_cpu(p.pid) - self._servers[p.name] for p in self.servers}
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
