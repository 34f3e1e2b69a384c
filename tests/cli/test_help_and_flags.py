"""Help, version, global flags and the usual argparse expectations of every command."""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from log_support import Row, seed_inbox, timhooks

import timhooks.cli.serve as serve_cli
from timhooks.cli import build_parser
from timhooks.protocol.errors import ConfigError
from timhooks.server.config import SETTINGS


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the tree with its command path (the program itself first)."""
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, (*path, name))
    return found


COMMANDS = commands(build_parser())


def test_no_command_prints_the_command_list(capsys: pytest.CaptureFixture[str]) -> None:
    """`timhooks` alone prints every command with its summary and exits 0."""
    run = timhooks(capsys)
    assert run.code == 0
    for name in ("serve", "worker", "listen", "events", "deliveries", "db", "usersig"):
        assert f"\n    {name} " in run.out
    assert "required" not in run.err


def test_a_group_without_action_prints_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    """`timhooks events` lists list, show and replay instead of an error."""
    run = timhooks(capsys, "events")
    assert run.code == 0
    assert all(f"    {action} " in run.out for action in ("list", "show", "replay"))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the installed version."""
    run = timhooks(capsys, "--version")
    assert (run.code, run.out.strip()) == (0, f"timhooks {version('timhooks')}")


@pytest.mark.parametrize(
    ("path", "parser"), COMMANDS[1:], ids=[" ".join(p) for p, _ in COMMANDS[1:]]
)
def test_every_command_has_a_description_and_an_example(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """Each command's help starts with a one-line description and ends with an example that
    runs that very command."""
    assert parser.description
    assert "\n" not in parser.description.split("\n\n")[0]
    assert parser.epilog is not None
    assert parser.epilog.startswith("example:\n")
    assert f"timhooks {' '.join(path)}" in parser.epilog


@pytest.mark.parametrize(
    ("path", "parser"), COMMANDS, ids=[" ".join(p) or "timhooks" for p, _ in COMMANDS]
)
def test_every_flag_has_help_and_a_default(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """Every flag says what it does, and every flag that takes a value shows its default."""
    text = parser.format_help()
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, (path, action.option_strings)
        if action.nargs != 0 and not action.required:
            help_line = parser._get_formatter()._expand_help(action)
            assert "default" in help_line, (path, action.option_strings)
    assert "%(" not in text


def test_no_parser_accepts_abbreviated_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --callback-ur URL` is an error, not --callback-url, on every parser."""
    assert all(not parser.allow_abbrev for _, parser in COMMANDS)
    run = timhooks(capsys, "serve", "--callback-ur", "http://127.0.0.1:8080/im")
    assert run.code == 2
    assert "unrecognized arguments: --callback-ur" in run.err


def test_serve_help_names_its_variables_and_config() -> None:
    """serve --help names --config, the real order of sources, and every TIMHOOKS_ variable."""
    [serve] = [parser for path, parser in COMMANDS if path == ("serve",)]
    text = serve.format_help()
    assert "--config FILE" in text
    assert "A flag beats its variable, which beats the file" in text
    for name in SETTINGS:
        assert f"TIMHOOKS_{name.upper()}" in text


def test_serve_has_a_flag_for_every_setting() -> None:
    """Every declared setting is a serve flag whose help shows its default and its variable."""
    [serve] = [parser for path, parser in COMMANDS if path == ("serve",)]
    flags = {a.option_strings[0]: a for a in serve._actions if a.option_strings}
    for setting in SETTINGS.values():
        action = flags[setting.flag]
        assert action.dest == setting.name
        assert "(default: " in (action.help or "")
        assert f"[env: {setting.env}]" in (action.help or "")


def test_worker_shares_the_delivery_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`worker --refuse-private-targets --reload-interval 5` reach its configuration, and a
    worker always dispatches, whatever TIMHOOKS_DISPATCH says (that variable is serve's)."""
    seen: dict[str, Any] = {}

    def load_config(*, file: Any = None, flags: Any = None) -> Any:
        seen.update(flags)
        raise ConfigError("stop here")

    monkeypatch.setattr(serve_cli, "load_config", load_config)
    monkeypatch.setenv("TIMHOOKS_DISPATCH", "false")
    argv = ("worker", "--db", "w.db", "--refuse-private-targets", "--reload-interval", "5")
    run = timhooks(capsys, *argv)
    assert run.code == 2
    assert seen["allow_private_targets"] is False
    assert (seen["reload_interval"], seen["dispatch"], seen["db"]) == (5.0, True, "w.db")


def test_serve_takes_concurrency(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --concurrency 4` reaches the configuration, as worker's does."""
    seen: dict[str, Any] = {}

    def load_config(*, file: Any = None, flags: Any = None) -> Any:
        seen.update(flags)
        raise ConfigError("stop here")

    monkeypatch.setattr(serve_cli, "load_config", load_config)
    run = timhooks(capsys, "serve", "--concurrency", "4", "--rotate-key")
    assert run.code == 2
    assert (seen["concurrency"], seen["rotate_key"]) == (4, True)


@pytest.mark.parametrize(
    "argv",
    [("-v", "events", "list"), ("events", "list", "-v"), ("events", "-v", "list")],
    ids=" ".join,
)
def test_verbose_before_or_after_the_command_logs_every_attempt(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-v anywhere turns on INFO for timhooks, the level of a line per delivery attempt."""
    seed_inbox(tmp_path / "in.db", [])
    run = timhooks(capsys, *argv, "--db", str(tmp_path / "in.db"))
    assert run.code == 0, run.err
    assert logging.getLogger("timhooks.delivery.dispatcher").getEffectiveLevel() == logging.INFO


@pytest.mark.parametrize("position", ["before", "after"])
def test_quiet_before_or_after_the_command_logs_errors_only(
    position: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-q keeps warnings and notes out; errors still show."""
    seed_inbox(tmp_path / "in.db", [])
    argv = ["events", "list", "--db", str(tmp_path / "in.db")]
    run = timhooks(capsys, *(["-q", *argv] if position == "before" else [*argv, "-q"]))
    assert (run.code, run.out, run.err) == (0, "", "")
    logger = logging.getLogger("timhooks.delivery.dispatcher")
    assert not logger.isEnabledFor(logging.WARNING)
    assert logger.isEnabledFor(logging.ERROR)


def test_quiet_and_verbose_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """-q -v contradict each other: an error, not a guess."""
    assert timhooks(capsys, "-q", "events", "list", "-v").code == 2


def test_json_before_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`timhooks --json events list` prints the same JSON as `events list --json`."""
    db = str(tmp_path / "in.db")
    seed_inbox(db, [Row("Group.CallbackAfterGroupFull", "done")])
    before = timhooks(capsys, "--json", "events", "list", "--db", db)
    after = timhooks(capsys, "events", "list", "--db", db, "--json")
    assert before.code == 0
    assert before.json() == after.json()
    assert len(before.json()) == 1


def test_json_where_it_does_not_apply_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`timhooks --json usersig ...` says --json does not apply rather than ignoring it."""
    run = timhooks(capsys, "--json", "usersig", "--app-id", "1", "--key", "k", "--user", "u")
    assert run.code == 2
    assert "--json does not apply to `timhooks usersig`" in run.err
