"""Sampling profiles with py-spy, summarized: where the samples of a busy process went.

``py-spy record -f raw --threads --nonblocking --full-filenames`` writes one line per distinct
stack, the thread first and the innermost frame last, then the sample count. C code (SQLite,
sockets, JSON) has no frame of its own: its time is the calling Python line's, which is why the
hottest *lines* are listed with their source. py-spy counts some waits as busy (an asyncio loop
in select, a writer thread blocked on its queue): those are set apart as waiting.

A ``Recorder`` attaches two recordings to one process at once (every busy thread, and only the
thread holding the GIL) and fills a ``ProfileRun``, which the report prints.
"""

from __future__ import annotations

import linecache
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.procs import BenchError

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_THREAD = re.compile(r"^thread \([^)]*\): ?(?P<name>.*)$")


def pyspy_path() -> str | None:
    """The py-spy executable (next to this Python first, then on PATH), or None."""
    sibling = Path(sys.executable).parent / "py-spy"
    if sibling.exists():
        return str(sibling)
    return shutil.which("py-spy")


class Recording:
    """py-spy attached to a running process until ``stop()``."""

    def __init__(self, pid: int, out: Path, *, rate: int = 100, gil: bool = False) -> None:
        exe = pyspy_path()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self.out = out
        self.log = out.with_suffix(".log")
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(
                [
                    exe,
                    "record",
                    "-p",
                    str(pid),
                    "-f",
                    "raw",
                    "-o",
                    str(out),
                    "--threads",
                    "--nonblocking",
                    "--full-filenames",
                    "-r",
                    str(rate),
                    *(["--gil"] if gil else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self) -> Path:
        """Stop sampling (py-spy writes its file on SIGINT); the raw profile's path."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.out

    def profile(self, title: str) -> Profile:
        """Stop sampling and summarize what was sampled."""
        path = self.stop()
        if not path.exists():
            raise BenchError(
                f"py-spy wrote no profile: {self.log.read_text(errors='replace')[-500:]}"
            )
        return summarize(title, path.read_text())


_SHORTEN = (
    re.compile(r"^.*/site-packages/"),
    re.compile(r"^.*/src/(?=timhooks/)"),
    re.compile(r"^.*/lib/python3\.\d+/"),
    re.compile(r"^.*/bench/"),
)
# Innermost lines that wait rather than work, though py-spy samples them as busy.
_WAITS = re.compile(r"(\b_?queue\.get\(|\bselector\.poll\(|\._selector\.poll\(|waiter\.acquire\()")


def shorten(path: str) -> str:
    """``.../site-packages/uvicorn/server.py`` as ``uvicorn/server.py``, our files as
    ``timhooks/...``, the standard library from its package."""
    for pattern in _SHORTEN:
        short = pattern.sub("", path)
        if short != path:
            return short
    return path


@dataclass
class Frame:
    """One parsed stack frame (``path`` as py-spy gave it, ``file`` shortened)."""

    func: str
    path: str
    line: int

    @property
    def file(self) -> str:
        """The shortened path."""
        return shorten(self.path)

    @property
    def source(self) -> str:
        """The frame's source line, when the file is readable."""
        return linecache.getline(self.path, self.line).strip() if self.line else ""

    @property
    def waiting(self) -> bool:
        """True for an innermost frame that waits (select, a queue) rather than computes."""
        return bool(_WAITS.search(self.source))

    @property
    def module(self) -> str:
        """timhooks.<package> for our code, else the top-level package or file."""
        path = self.file
        if path.startswith("<"):
            return "python (import/runpy)"
        parts = path.split("/")
        if parts[0] == "timhooks" and len(parts) > 1:
            return "timhooks." + parts[1].removesuffix(".py")
        return parts[0].removesuffix(".py")

    @property
    def where(self) -> str:
        """``func (file:line)``."""
        return f"{self.func} ({self.file}:{self.line})"

    @property
    def function(self) -> str:
        """``func (file)``."""
        return f"{self.func} ({self.file})"


def parse_frame(text: str) -> Frame:
    """A py-spy frame ``func (file:line)``; anything else becomes a frame with no file."""
    match = _FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip() or "?", "?", 0)
    return Frame(match["func"], match["file"], int(match["line"] or 0))


@dataclass
class Profile:
    """A summarized profile."""

    name: str
    samples: int = 0
    waiting: int = 0
    threads: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)
    modules: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    frames: dict[str, Frame] = field(default_factory=dict)

    @property
    def busy(self) -> int:
        """Samples that were not waits."""
        return self.samples - self.waiting

    def share(self, count: int) -> float:
        """``count`` as a fraction of the busy samples."""
        return count / self.busy if self.busy else 0.0


def _thread_name(text: str) -> str:
    match = _THREAD.match(text)
    name = match["name"] if match else text
    # Worker threads are numbered per process; the number says nothing across runs.
    return re.sub(r"[-_:]\d+$", "", name) or "thread"


def summarize(name: str, raw: str) -> Profile:
    """Summarize py-spy's raw output."""
    prof = Profile(name)
    for row in raw.splitlines():
        stack, _, count_text = row.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread = "?"
        if parts and parts[0].startswith("thread ("):
            thread = _thread_name(parts.pop(0))
        frames = [parse_frame(p) for p in parts if p]
        if not frames:
            continue
        prof.samples += count
        leaf = frames[-1]
        if leaf.waiting:
            prof.waiting += count
            continue
        prof.threads[thread] += count
        prof.lines[leaf.where] += count
        prof.functions[leaf.function] += count
        prof.modules[leaf.module] += count
        prof.frames.setdefault(leaf.where, leaf)
        for function in {f.function for f in frames if f.file.startswith("timhooks/")}:
            prof.inclusive[function] += count
    return prof


def markdown(prof: Profile, *, top: int = 12, seconds: float | None = None) -> list[str]:
    """The profile as Markdown: threads, modules, hottest lines, our functions inclusive."""
    if not prof.samples:
        return ["No samples were recorded."]
    pct = prof.share
    held = f" (the GIL was held in {prof.samples / (100 * seconds):.0%} of them)" if seconds else ""
    out = [
        f"{prof.samples:,} samples{held}; {prof.waiting:,} "
        f"({prof.waiting / prof.samples:.0%}) were waits py-spy counted as busy (an event loop "
        "in select, the SQLite writer blocked on its queue) and are left out: the percentages "
        f"below are of the other {prof.busy:,}.",
        "",
        "Threads: " + ", ".join(f"{name} {pct(n):.0%}" for name, n in prof.threads.most_common()),
        "",
        "Self time by module (where the innermost Python frame is): "
        + ", ".join(f"{m} {pct(n):.1%}" for m, n in prof.modules.most_common(10)),
        "",
        "| self | hottest lines (C calls count to the line that makes them) | source |",
        "|---:|---|---|",
    ]
    for where, n in prof.lines.most_common(top):
        frame = prof.frames[where]
        code = frame.source.replace("|", "\\|")
        code = code if len(code) <= 70 else code[:67] + "..."
        out.append(
            f"| {pct(n):.1%} | `{where}` | `{code}` |"
            if code
            else f"| {pct(n):.1%} | `{where}` | |"
        )
    out += ["", "| inclusive | timhooks function (samples with it on the stack) |", "|---:|---|"]
    for function, n in prof.inclusive.most_common(top):
        out.append(f"| {pct(n):.1%} | `{function}` |")
    return out


@dataclass
class ProfileRun:
    """Profiles of one process under one scenario's load: every busy thread, and the GIL."""

    title: str
    sizes: str  # what this run sampled: the load, its sizes, how long
    profile: Profile | None = None  # every busy thread
    gil: Profile | None = None  # only the thread holding the GIL
    seconds: float = 0.0
    error: str | None = None


class Recorder:
    """Two py-spy recordings of one process at once: all busy threads, and the GIL holder."""

    def __init__(self, pid: int, directory: Path, name: str) -> None:
        self.all = Recording(pid, directory / f"{name}.txt")
        self.gil = Recording(pid, directory / f"{name}-gil.txt", gil=True)
        self.started = time.perf_counter()

    def finish(self, run: ProfileRun) -> None:
        """Stop both recordings and put their summaries in ``run``."""
        run.seconds = time.perf_counter() - self.started
        run.profile = self.all.profile(run.title)
        run.gil = self.gil.profile(run.title)
