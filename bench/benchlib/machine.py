"""The machine a run measured on and what it was doing: hardware, versions, the code measured,
load, and how long a durable SQLite commit takes in the run's directory."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "timhooks",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "msgspec",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "sniffio",
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_total() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _filesystem(path: Path) -> str:
    best = ("", "unknown", "")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if str(path).startswith(mount) and len(mount) >= len(best[0]):
                best = (mount, fstype, device)
    return f"{best[1]} on {best[2]} (mounted at {best[0]})"


def _git(repo: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    if changed:
        return f"commit {head}, with {len(changed)} uncommitted change(s) under src/"
    return f"commit {head}, src/ clean"


def src_digest(repo: Path) -> str:
    """A short digest of every file under src/: equal digests, same code measured."""
    h = hashlib.sha256()
    for path in sorted((repo / "src").rglob("*.py")):
        h.update(str(path.relative_to(repo)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


@dataclass
class Conditions:
    """What the machine was doing around the run."""

    started: float = field(default_factory=time.time)
    load_start: str = field(default_factory=lambda: _loadavg())
    load_end: str = ""
    note: str = ""
    commit_latency: str = ""
    src_start: str = ""
    src_end: str = ""
    git_start: str = ""

    def finish(self, repo: Path) -> None:
        """Record the load average and the source digest at the end."""
        self.load_end = _loadavg()
        self.src_end = src_digest(repo)


def git_state(repo: Path) -> str:
    """The checkout's commit and whether src/ has uncommitted changes."""
    return _git(repo)


def machine(repo: Path, workdir: Path, git_start: str = "") -> list[str]:
    """The machine section's bullet lines."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(f"{p} {_version(p)}" for p in PACKAGES)
    return [
        f"- CPU: {_cpu_model()}, {cores} cores available to the run "
        f"({os.cpu_count()} online); memory {_memory_total()}",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {platform.python_implementation()} {platform.python_version()}; "
        f"SQLite library {sqlite3.sqlite_version}",
        f"- Packages: {versions}",
        f"- timhooks source: {git_start or _git(repo)} at the start; {_git(repo)} at the end",
        f"- Temporary databases on: {_filesystem(workdir)}",
    ]


def commit_latency(directory: Path, commits: int = 100) -> tuple[float, float]:
    """p50 and p99 (ms) of one-row commits in WAL mode with synchronous=FULL, as the stores
    commit: what every durable write on this filesystem waits for at least."""
    path = directory / "commit-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        times = []
        for i in range(commits):
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    times.sort()
    return times[len(times) // 2] * 1000, times[min(len(times) - 1, int(0.99 * len(times)))] * 1000


def python_command() -> str:
    """How this harness was invoked, for the report."""
    return shlex.join(["python", "bench/run.py", *sys.argv[1:]])
