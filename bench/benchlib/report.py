"""bench/RESULTS.md: the machine, the method, every scenario's figures and ratios, the profiles.

The method is bench/README.md's, copied (benchlib/method.py); the report adds what only the run
knows: its sizes, its figures, and what the figures say bounds each result.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

from benchlib import method
from benchlib.cpu import CpuWindow
from benchlib.machine import Conditions, machine
from benchlib.profiles import ProfileRun
from benchlib.profiles import markdown as profile_markdown
from benchlib.results import Section
from benchlib.settings import Settings


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
        "## Summary: the bars",
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
    lines += ["", "## Method", "", *method.readme_part(method.COMMON)]
    for sec in sections:
        lines += ["", f"## {sec.key}. {sec.title}", ""]
        lines += method.readme_part(method.scenario_heading(sec.key))
        if sec.sizes:
            lines.append(f"- This run: {sec.sizes}.")
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
        lines += method.readme_part(method.PROFILES)
        for run in profiles:
            lines += ["", f"### {run.title}", "", f"This run: {run.sizes}", ""]
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
