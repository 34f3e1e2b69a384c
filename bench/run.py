"""Run timhooks' benchmarks and write bench/RESULTS.md.

    python bench/run.py            # the full run: 3 runs of every scenario, then profiles
    python bench/run.py --quick    # a seconds-long smoke run (1 run, small sizes, no profiles)

Scenarios (bench/README.md says what each measures): a receiver vs bare ASGI app; b
before-webhooks at 1,000 requests/s; c dispatcher vs plain client loops, and end to end;
d REST add_subscriber / add_group_member on empty vs large targets; e before-webhook overhead
on create_official_account; f peak memory; g mixed adds and removes from 32 clients on SQLite
and PostgreSQL (``--pg URL``, or TEST_POSTGRES_URL). Everything runs on 127.0.0.1 in a fresh
temporary directory, every process is started and stopped by the harness, and every step is
bounded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchlib import method
from benchlib.harness import Bench
from benchlib.machine import Conditions, commit_latency, git_state, python_command, src_digest
from benchlib.procs import BENCH, BenchError, Procs
from benchlib.profiles import ProfileRun, pyspy_path
from benchlib.report import render
from benchlib.results import Section
from benchlib.scenarios import PROFILES, SCENARIOS
from benchlib.settings import Settings

REPO = BENCH.parent


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3; 1 with --quick)")
    parser.add_argument(
        "--only", default="".join(SCENARIOS), help="scenario letters to run, e.g. ac"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("TEST_POSTGRES_URL"),
        help="a PostgreSQL database for scenarios c and g (default: $TEST_POSTGRES_URL); each run "
        "uses a fresh schema in it",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md", help="report path")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile with py-spy after measuring (default: on, off with --quick)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--note", default="", help="a line about the conditions, for the report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios and write the report; 1 if a scenario failed."""
    args = parse_args(argv)
    settings = Settings.quick_run() if args.quick else Settings()
    if args.runs:
        settings = replace(settings, runs=args.runs)
    if args.profile is not None:
        settings = replace(settings, profile=args.profile)
    settings = replace(settings, pg_url=args.pg or None)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenario(s): {''.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        method.check(args.only)
    except BenchError as exc:
        print(exc, file=sys.stderr)
        return 2

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="timhooks-bench-"))
    conditions = Conditions(note=args.note, src_start=src_digest(REPO), git_start=git_state(REPO))
    sections: list[Section] = []
    profiles: list[ProfileRun] = []
    started = time.perf_counter()
    complete = False

    def write() -> None:
        conditions.finish(REPO)
        conditions.commit_latency = ", ".join(
            f"{p50:.2f} / {p99:.2f} ms" for p50, p99 in probes
        ) + (" (at the start, at the end)" if len(probes) > 1 else " (at the start)")
        text = render(
            settings,
            sections,
            profiles,
            conditions,
            repo=REPO,
            workdir=root,
            command=python_command(),
            total_seconds=time.perf_counter() - started,
            complete=complete,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")

    say(f"timhooks benchmarks: working in {root}")
    probes = [commit_latency(root)]
    procs = Procs(root)
    try:
        with procs.running():
            bench = Bench(settings, root, procs, say)
            for key in SCENARIOS:
                if key in args.only:
                    sections.append(SCENARIOS[key](bench))
                    procs.stop_all()
                    write()
            if settings.profile:
                if pyspy_path() is None:
                    say("py-spy is not installed (pip install py-spy): no profiles")
                else:
                    for profile in PROFILES:
                        run = profile(bench)
                        say(
                            f"[profile] {run.title}"
                            + (f": FAILED {run.error}" if run.error else "")
                        )
                        profiles.append(run)
                        procs.stop_all()
        probes.append(commit_latency(root))
        complete = True
    except KeyboardInterrupt:
        say("interrupted: writing what was measured")
    finally:
        write()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    say(f"wrote {args.out}")
    failed = [s.key for s in sections if s.error] + [p.title for p in profiles if p.error]
    return 1 if failed or not complete else 0


if __name__ == "__main__":
    sys.exit(main())
