"""`timhooks completion bash|zsh`: scripts generated from the parser that complete it all."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from log_support import timhooks

from timhooks.cli import build_parser
from timhooks.cli.completion import Node, command_tree


def every_node(node: Node) -> list[Node]:
    return [node, *(n for child in node.commands.values() for n in every_node(child))]


TREE = command_tree(build_parser())


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_script_names_every_command_and_flag(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The generated script mentions every subcommand, every flag and every choice."""
    run = timhooks(capsys, "completion", shell)
    assert run.code == 0
    script = run.out
    nodes = every_node(TREE)
    assert len(nodes) > 15  # the tree was walked, not just the top
    for node in nodes:
        for name in node.commands:
            assert name in script, name
        for flag in node.flags:
            for option in flag.names:
                assert option in script, (node.path, option)
            for choice in flag.choices:
                assert choice in script, (node.path, choice)


def complete(script: Path, line: str) -> list[str]:
    """What bash offers for the last word of ``line`` (a trailing space: a new word)."""
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_timhooks\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=script.parent,
    )
    assert done.stderr == ""
    return [w for w in done.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_flags_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In bash: commands, then actions, then a command's flags (global ones too), the choices
    of --status, file names for --db, and nothing made up for a free value."""
    script = tmp_path / "timhooks.bash"
    script.write_text(timhooks(capsys, "completion", "bash").out)
    (tmp_path / "inbox.db").touch()
    assert complete(script, "timhooks ev") == ["events"]
    assert complete(script, "timhooks events ") == ["list", "show", "replay"]
    assert complete(script, "timhooks -v events re") == ["replay"]
    assert set(complete(script, "timhooks events list --")) >= {
        "--status", "--since", "--until", "--app-id", "--follow", "--json", "--verbose", "--db"
    }  # fmt: skip
    assert complete(script, "timhooks deliveries replay --status f") == ["failed", "fallback"]
    assert complete(script, "timhooks events list --db inb") == ["inbox.db"]
    assert complete(script, "timhooks events list --app-id ") == []
    assert complete(script, "timhooks events list --app-id 1 --st") == ["--status"]
    assert complete(script, "timhooks completion ") == ["bash", "zsh"]
    assert complete(script, "timhooks serve --callback-failure-policy ") == ["proceed", "deny"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_script_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The zsh script parses, and registers itself for timhooks when sourced after compinit."""
    script = tmp_path / "_timhooks"
    script.write_text(timhooks(capsys, "completion", "zsh").out)
    program = (
        f"autoload -Uz compinit && compinit -u -D && source {script} && "
        'print -r -- "$_comps[timhooks]"'
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_timhooks"
    syntax = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
