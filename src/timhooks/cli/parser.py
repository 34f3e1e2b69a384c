"""How every ``timhooks`` command is declared: a description, an example, help and a default for
every flag, no abbreviated flags, and the global flags accepted before or after the command."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["HelpFormatter", "Parser", "add_command", "add_global_flags", "show_help"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; each flag's default after its help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or action.nargs == 0
            or default is None
            or default is argparse.SUPPRESS
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An argument parser that takes no abbreviation of a flag (``--callback-ur`` is an
    error, not ``--callback-url``); subcommands get the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def add_global_flags(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v``/``-q`` (and ``--json`` on the top level): on the top-level parser with their
    defaults, on each command without one, so a flag given before the command survives."""
    quiet_default: Any = False if top else argparse.SUPPRESS
    verbose_default: Any = 0 if top else argparse.SUPPRESS
    group = parser.add_argument_group("global flags (before or after the command)")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=verbose_default,
        help="log more: a line per delivery attempt and retry (INFO); -vv for DEBUG",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=quiet_default,
        help="log errors only, and print no notes or progress",
    )
    if top:
        group.add_argument(
            "--json",
            action="store_true",
            default=False,
            help="JSON output for programs, for the commands that have it",
        )


def add_json_flag(parser: argparse.ArgumentParser, help_text: str) -> None:
    """A command's ``--json`` (it also takes the top-level one)."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=help_text)
    parser.set_defaults(takes_json=True)


def add_command(
    sub: Any,
    name: str,
    *,
    summary: str,
    example: str,
    description: str | None = None,
    json_help: str | None = None,
) -> argparse.ArgumentParser:
    """A command with its one-line ``summary`` (in the command list and atop its help), a longer
    ``description`` if any, an ``example`` (lines of shell) and, with ``json_help``, ``--json``."""
    text = summary
    if description is not None:
        # Paragraphs written on one line are wrapped; ones with line breaks are kept as written.
        paragraphs = description.split("\n\n")
        text += "".join(f"\n\n{p if chr(10) in p else textwrap.fill(p, 80)}" for p in paragraphs)
    examples = "\n".join(f"  {line}" for line in example.strip().splitlines())
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=text, epilog=f"example:\n{examples}"
    )
    add_global_flags(parser, top=False)
    if json_help is not None:
        add_json_flag(parser, json_help)
    return parser


def show_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command's run function that prints ``parser``'s help (a group given no action)."""

    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return run
