"""bench/RESULTS.md: the machine, the method, every scenario's figures and ratios, the profiles."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from benchlib.procs import CpuWindow
from benchlib.profiles import markdown as profile_markdown
from benchlib.results import Section
from benchlib.scenarios import ProfileRun, Settings

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
    import hashlib

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


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _series_table(rows: list[tuple[str, str, tuple[str, str, str]]], n: int) -> list[str]:
    head = "median" if n > 1 else "value"
    out = [f"| figure | {head} | min | max | unit |", "|---|---:|---:|---:|---|"]
    for label, unit, (med, lo, hi) in rows:
        out.append(f"| {label} | {med} | {lo} | {hi} | {unit} |")
    return out


def render(
    settings: Settings,
    sections: list[Section],
    profiles: list[ProfileRun],
    conditions: Conditions,
    *,
    repo: Path,
    workdir: Path,
    command: str,
    total_seconds: float,
    complete: bool,
) -> str:
    """The whole RESULTS.md."""
    n = settings.runs
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(conditions.started))
    mode = "quick smoke run" if settings.quick else "full run"
    lines = [
        "# timhooks benchmark results",
        "",
        f"Written by `{command}` ({mode}, {n} run{'s' if n > 1 else ''} per figure) on "
        f"{when}, in {_fmt_seconds(total_seconds)}."
        + ("" if complete else " **The run was interrupted: some scenarios are missing.**"),
        "Do not edit by hand: run the command again. bench/README.md says what each "
        "scenario measures.",
        "",
        "## Summary: the bars of issue 5",
        "",
        "| bar | median | min | max | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for sec in sections:
        for bar in sec.bars:
            med, lo, hi = bar.series.cells()
            met = {True: "yes", False: "**no**", None: "-"}[bar.met]
            lines.append(
                f"| {sec.key}. {bar.what} | {med} | {lo} | {hi} | {bar.target_text} | {met} |"
            )
    for sec in sections:
        for bar in sec.bars:
            if bar.met is False and sec.notes:
                lines += [
                    "",
                    f"Not met, {sec.key}. {bar.what}: see the notes of scenario "
                    f"{sec.key} for what limits it, measured.",
                ]
    lines += [
        "",
        "## Machine and conditions",
        "",
        *machine(repo, workdir, conditions.git_start),
        f"- Load average (1, 5, 15 min) at the start: {conditions.load_start}; at the end: "
        f"{conditions.load_end}",
        "- Other work on the machine: each measurement reports the CPU used by everything "
        'but the processes under test and the load generator ("other processes\' CPU", in '
        "cores), from /proc/stat. This is a shared machine: other engineers' test suites may "
        "run at the same time, which is why every comparison is measured side by side in the "
        "same run and reported as a ratio.",
    ]
    windows = CpuWindow.history
    if windows:

        def spread(values: list[float], pct: bool = False) -> str:
            clean = sorted(v for v in values if not math.isnan(v))
            if not clean:
                return "n/a"
            med, top = statistics.median(clean), clean[-1]
            return f"{med:.0%} (max {top:.0%})" if pct else f"{med:.2f} (max {top:.2f})"

        lines.append(
            f"- During the {len(windows)} measurements: other processes used "
            f"{spread([w.other_cores for w in windows])} cores; some task waited for a CPU "
            f"{spread([w.cpu_pressure for w in windows], True)} of the time and for I/O "
            f"{spread([w.io_pressure for w in windows], True)} (Linux pressure stall "
            "information, machine-wide: it includes the processes under test)."
        )
    if conditions.src_start:
        same = conditions.src_start == conditions.src_end
        lines.append(
            f"- Digest of src/*.py: {conditions.src_start} at the start"
            + (
                ", unchanged at the end."
                if same
                else f", **{conditions.src_end} at the end: the code changed during the run** "
                "(other engineers edit this checkout), so scenarios may have measured "
                "different code."
            )
        )
    if conditions.commit_latency:
        lines.append(
            f"- SQLite commit latency (WAL, synchronous=FULL, one row) in the temporary "
            f"directory, p50 / p99: {conditions.commit_latency}"
        )
    if conditions.note:
        lines.append(f"- Note: {conditions.note}")
    lines += [
        "",
        "## Method",
        "",
        "- Every process under test is started by the harness as a subprocess on 127.0.0.1 "
        "(a fresh port, a fresh temporary directory and database) and stopped by it "
        "(SIGINT, then SIGKILL after 20 s); nothing outlives the run.",
        "- Load comes from a separate process: bench/loadgen.py (keep-alive HTTP/1.1 on raw "
        "asyncio streams with uvloop; closed loop with N connections, or open loop at a fixed "
        "rate with latency from the scheduled send time), or bench/rawclient.py (an httpx "
        "loop) where the yardstick is a client.",
        f"- Every figure is measured {n} time{'s' if n > 1 else ''} (each time with fresh "
        "processes); tables give the median, min and max over the runs. A ratio is computed "
        "within each run from its two sides, measured back to back (their order alternating "
        "between runs), then summarized the same way.",
        "- CPU figures are cores busy on average over the measurement (1.00 = one core all "
        "the time), from /proc/PID/stat for servers and from the harness's rusage for the "
        "load generator.",
        "- Latencies are in milliseconds; p50 and p99 are over all requests of a run.",
        "- Every scenario checks its effect (rows stored, delivered, subscribed) so that a "
        "fast figure cannot come from failing requests.",
    ]
    for sec in sections:
        lines += ["", f"## {sec.key}. {sec.title}", ""]
        lines += [f"- {m}" for m in sec.method]
        lines.append(f"- Took {_fmt_seconds(sec.seconds)}.")
        if sec.error:
            lines += ["", f"**FAILED:** {sec.error}"]
        if sec.figures:
            rows = [(f.label, f.unit, f.cells()) for f in sec.figures]
            lines += ["", *_series_table(rows, n)]
        if sec.ratios:
            rows = [(r.label, r.unit, r.cells()) for r in sec.ratios]
            lines += ["", "Ratios (each run's two sides, measured back to back):", ""]
            lines += _series_table(rows, n)
        if sec.notes:
            lines += ["", *[f"- {note}" for note in sec.notes]]
    lines += ["", "## Profiles", ""]
    if not profiles:
        lines.append(
            "Not profiled in this run (`--quick` or `--no-profile`, or py-spy is not installed: "
            "`pip install py-spy`)."
        )
    else:
        lines += [
            "py-spy (`record --threads --nonblocking --full-filenames -f raw`, 100 samples/s) "
            "attached to the process under test while bench/loadgen.py loads it, in a separate, "
            "unmeasured run (sampling slows the process a little). Self time is the innermost "
            "Python frame: time in C (SQLite and its fsync, sockets, hashing, zlib, JSON) counts "
            "to the Python line that calls it. `Runner.run (asyncio/runners.py)` as the innermost "
            "frame is time inside uvloop's C event loop (socket reads and writes, callbacks "
            "without Python frames). Inclusive time counts a function once per sample that has "
            "it on the stack.",
        ]
        for run in profiles:
            lines += ["", f"### {run.title}", "", run.method, ""]
            if run.error:
                lines.append(f"**FAILED:** {run.error}")
            else:
                if run.gil is not None:
                    lines += [
                        "**Where the GIL went** (py-spy `--gil`: only the thread holding the "
                        "GIL is sampled; for a process near one core this is the serial "
                        "bottleneck: Python code, and C code that keeps the GIL):",
                        "",
                        *profile_markdown(run.gil, seconds=run.seconds),
                    ]
                if run.profile is not None:
                    lines += [
                        "",
                        "**Every busy thread** (including time blocked in system calls with "
                        "the GIL released: SQLite's fsync at COMMIT, socket writes):",
                        "",
                        *profile_markdown(run.profile, top=8),
                    ]
    lines.append("")
    return "\n".join(lines)


def python_command() -> str:
    """How this harness was invoked, for the report."""
    return shlex.join(["python", "bench/run.py", *sys.argv[1:]])
