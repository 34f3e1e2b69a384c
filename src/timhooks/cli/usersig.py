"""``timhooks usersig``: a UserSig for a user of an app."""

from __future__ import annotations

import argparse
import time
from typing import Any

from timhooks.cli.parser import add_command
from timhooks.protocol.usersig import DEFAULT_EXPIRE, generate_usersig

__all__ = ["add_commands"]


def add_commands(commands: Any) -> None:
    """Register ``usersig``."""
    usersig = add_command(
        commands,
        "usersig",
        summary="print a UserSig for a user of an app",
        example="timhooks usersig --app-id 1400000001 --key my-secret-key --user administrator",
    )
    usersig.add_argument(
        "--app-id", type=int, required=True, metavar="SDKAPPID", help="the app's SDKAppID"
    )
    usersig.add_argument(
        "--key", required=True, help="the app's secret key (timhooks serve prints it)"
    )
    usersig.add_argument("--user", required=True, metavar="ID", help="the UserID to sign for")
    usersig.add_argument(
        "--expire",
        type=int,
        default=DEFAULT_EXPIRE,
        metavar="SECONDS",
        help="seconds of validity",
    )
    usersig.set_defaults(run=run_usersig)


def run_usersig(args: argparse.Namespace) -> int:
    """Print a UserSig."""
    print(
        generate_usersig(args.app_id, args.key, args.user, now=int(time.time()), expire=args.expire)
    )
    return 0
