"""``timhooks db upgrade|prune``: schemas and retention of the server's and inbox's databases."""

from __future__ import annotations

import argparse
import time
from typing import Any

from timhooks.cli.deliveries import DEFAULT_DB, OUTBOX_LOG
from timhooks.cli.events import DEFAULT_INBOX, INBOX_LOG
from timhooks.cli.logs import Log, open_log
from timhooks.cli.output import print_json, with_store
from timhooks.cli.parser import add_command, show_help
from timhooks.server.schema import SERVER_MIGRATIONS
from timhooks.storage import DatabaseNotFound, describe_url
from timhooks.storage.inbox import INBOX_MIGRATIONS

__all__ = ["add_commands"]


def add_commands(commands: Any) -> None:
    """Register ``db upgrade`` and ``db prune``."""
    db = add_command(
        commands,
        "db",
        summary="database schemas and retention",
        example="timhooks db upgrade --db postgresql://timhooks@db.internal/timhooks\n"
        "timhooks db prune --component inbox --older-than-days 1",
    )
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db.set_defaults(run=show_help(db))
    upgrade = add_command(
        dbsub,
        "upgrade",
        summary="migrate the server and inbox schemas to this version",
        description="Applies the missing migrations of each component. An existing database"
        " only, unless --create.",
        example="timhooks db upgrade --db postgresql://timhooks@db.internal/timhooks --create",
        json_help="a JSON object: the migrations applied, per component",
    )
    upgrade.add_argument(
        "--db",
        metavar="URL",
        help=f"the database (default: {DEFAULT_DB} for the server, {DEFAULT_INBOX} for the inbox)",
    )
    upgrade.add_argument(
        "--component",
        choices=("server", "inbox", "all"),
        default="all",
        help="which schema; all upgrades those present and skips the others",
    )
    upgrade.add_argument(
        "--create",
        action="store_true",
        help="create the database and schemas when missing (default: refuse)",
    )
    upgrade.set_defaults(run=run_db_upgrade)
    prune = add_command(
        dbsub,
        "prune",
        summary="delete finished deliveries or handled events now",
        description="What the hourly retention task does. Failed deliveries and dead inbox"
        " entries are kept until replayed.",
        example="timhooks db prune --older-than-days 1\n"
        "timhooks db prune --component inbox --db timhooks-inbox.db",
        json_help="a JSON object: the component and how many rows went",
    )
    prune.add_argument(
        "--db",
        metavar="URL",
        help=f"the database (default: {DEFAULT_DB} for the server, {DEFAULT_INBOX} for the inbox)",
    )
    prune.add_argument(
        "--older-than-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="delete what finished before this many days ago",
    )
    prune.add_argument(
        "--component",
        choices=("server", "inbox"),
        default="server",
        help="server: the outbox of timhooks serve; inbox: that of a receiver",
    )
    prune.set_defaults(run=run_db_prune)


_COMPONENTS = {
    "server": (SERVER_MIGRATIONS, DEFAULT_DB),
    "inbox": (INBOX_MIGRATIONS, DEFAULT_INBOX),
}


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the schemas of an existing database (or create it, with --create)."""
    from timhooks.storage import open_writer

    names = list(_COMPONENTS) if args.component == "all" else [args.component]
    report: dict[str, list[int] | DatabaseNotFound] = {}
    for name in names:
        migrations, default_db = _COMPONENTS[name]
        db = args.db or default_db
        applied: list[int] = []
        try:
            open_writer(
                db, component=name, migrations=migrations, applied=applied, create=args.create
            ).close()
        except DatabaseNotFound as exc:
            if args.component != "all":
                raise DatabaseNotFound(f"{exc}; --create makes it") from exc
            report[name] = exc
            continue
        report[name] = applied
    if all(isinstance(outcome, DatabaseNotFound) for outcome in report.values()):
        details = "; ".join(str(exc) for exc in report.values())
        raise DatabaseNotFound(f"nothing to upgrade: {details}; --create makes them")
    if args.json:
        print_json({k: v for k, v in report.items() if isinstance(v, list)})
        return 0
    for name, outcome in report.items():
        where = describe_url(args.db or _COMPONENTS[name][1])
        if isinstance(outcome, DatabaseNotFound):
            print(f"{name}: skipped: {outcome}")
        elif outcome:
            print(f"{name}: applied migrations {outcome} to {where}")
        else:
            print(f"{name}: {where} is up to date")
    return 0


def run_db_prune(args: argparse.Namespace) -> int:
    """Delete what retention allows; print how many rows went."""
    before = time.time() - args.older_than_days * 86400
    log: Log[Any, Any] = OUTBOX_LOG if args.component == "server" else INBOX_LOG
    db = args.db or log.default_db
    pruned: int = with_store(lambda: open_log(log, db), lambda s: s.prune(before=before))
    if args.json:
        print_json({"component": args.component, "pruned": pruned})
    else:
        print(f"{args.component}: pruned {pruned} rows older than {args.older_than_days:g} days")
    return 0
