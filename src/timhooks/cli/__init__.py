"""The ``timhooks`` command: thin, it maps flags onto the library and prints results.

Every listing takes ``--json`` for programs; the default output is for people.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from timhooks.cli import events, serve
from timhooks.protocol.errors import TimhooksError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="timhooks",
        description="Tencent Cloud Chat webhooks: a Chat backend that sends them, a receiver "
        "that takes them.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every delivery attempt and retry"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_commands(commands)
    events.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        status: int = args.run(args)
    except TimhooksError as exc:
        print(f"timhooks: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
