"""The method of every scenario, as bench/README.md writes it: the one place it is written.

The report copies the README's text into each section, so that bench/RESULTS.md says how its
figures were measured as the README said it on the day of the run.
"""

from __future__ import annotations

from collections.abc import Iterable

from benchlib.procs import BENCH, BenchError

README = BENCH / "README.md"
COMMON = "## How every figure is measured"
PROFILES = "### Profiles"


def _level(line: str) -> int:
    """The level of a Markdown heading line (0 for any other line)."""
    hashes = len(line) - len(line.lstrip("#"))
    return hashes if hashes and line[hashes : hashes + 1] == " " else 0


def readme_part(heading: str, text: str | None = None) -> list[str]:
    """The lines under the README heading that starts with ``heading``, up to the next heading
    of the same or a higher level, without blank lines at either end; [] if there is none."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(heading) and _level(line):
            level = _level(line)
            end = next(
                (j for j in range(i + 1, len(lines)) if 0 < _level(lines[j]) <= level),
                len(lines),
            )
            body = lines[i + 1 : end]
            while body and not body[0].strip():
                body.pop(0)
            while body and not body[-1].strip():
                body.pop()
            return body
    return []


def scenario_heading(key: str) -> str:
    """The README heading of scenario ``key`` (``### a.``)."""
    return f"### {key}."


def check(keys: Iterable[str]) -> None:
    """Raise BenchError unless the README writes the method of every scenario in ``keys``, of
    the profiles and of every figure."""
    text = README.read_text(encoding="utf-8")
    missing = [
        heading
        for heading in (COMMON, PROFILES, *(scenario_heading(k) for k in keys))
        if not readme_part(heading, text)
    ]
    if missing:
        raise BenchError(
            f"{README} has no text under {', '.join(repr(h) for h in missing)}: write there "
            "how the scenario is measured, what it compares and what it checks"
        )
