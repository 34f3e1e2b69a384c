"""The README's table of webhook commands says what ``timhooks.protocol.COMMANDS`` holds: every
command once, with its phase, its model and, for a before-webhook, its deny code."""

from __future__ import annotations

import re
from pathlib import Path

from timhooks.protocol import COMMANDS, Phase

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| *(\w*) *\| `(\w+)` \| (before|after) \| `(\w+)`[^|]* \| (.*)\|$")


def table() -> dict[str, tuple[str, str, str]]:
    """The rows of the "Webhook commands" table by full command name: phase, model, answer."""
    section = README.read_text().split("\n## Webhook commands\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, str]] = {}
    group = ""
    for line in section.splitlines():
        found = ROW.match(line)
        if found is None:
            continue
        group = found.group(1) or group
        name = f"{group}.{found.group(2)}"
        assert name not in rows, f"{name} is in the README's table twice"
        rows[name] = (found.group(3), found.group(4), found.group(5))
    return rows


def test_the_readme_lists_every_command_with_its_phase_and_model() -> None:
    rows = table()
    assert sorted(rows) == sorted(COMMANDS)
    for name, spec in COMMANDS.items():
        phase, model, answer = rows[name]
        assert phase == spec.phase.value, name
        assert model == spec.model.__name__, name
        if spec.phase is Phase.BEFORE and spec.deny_code is not None:
            assert f"deny {int(spec.deny_code)}" in answer, name
