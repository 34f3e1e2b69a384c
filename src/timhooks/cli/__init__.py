"""The ``timhooks`` command: thin, it maps flags onto the library and prints results.

Every listing takes ``--json`` for programs; the default output is for people. ``-v``, ``-q``
and ``--json`` work before or after the command.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from timhooks.cli import check, completion, db, deliveries, events, serve, trigger, usersig
from timhooks.cli.parser import Parser, add_global_flags, show_help
from timhooks.protocol.errors import TimhooksError

__all__ = ["build_parser", "main"]

_LEVELS = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from timhooks import __version__

    parser = Parser(
        prog="timhooks",
        description="Tencent Cloud Chat webhooks: a Chat backend that sends them, a receiver "
        "that takes them.",
        epilog="example:\n  timhooks serve --callback-url http://127.0.0.1:8080/im\n"
        "  timhooks listen --app-id 1400000001 --port 8080\n\n"
        "`timhooks COMMAND --help` describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"timhooks {__version__}")
    add_global_flags(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_commands(commands)
    events.add_commands(commands)
    deliveries.add_commands(commands)
    db.add_commands(commands)
    usersig.add_commands(commands)
    trigger.add_commands(commands)
    check.add_commands(commands)
    completion.add_commands(commands, root=parser)
    parser.set_defaults(run=show_help(parser))
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """-q: errors only; default: warnings; -v: INFO (every delivery attempt); -vv: DEBUG."""
    verbosity = -1 if args.quiet else args.verbose
    level = _LEVELS.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Also where logging was set up before (an embedding program, a test run).
    logging.getLogger("timhooks").setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet and args.verbose:
        parser.error("-q and -v contradict each other: give one")
    if args.json and args.command and not getattr(args, "takes_json", False):
        name = " ".join(
            getattr(args, key)
            for key in ("command", "events_command", "deliveries_command", "db_command")
            if getattr(args, key, None)
        )
        parser.error(f"--json does not apply to `timhooks {name}`")
    _configure_logging(args)
    try:
        status: int = args.run(args)
    except TimhooksError as exc:
        print(f"timhooks: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`timhooks events list | head`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return status
