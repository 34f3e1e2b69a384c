"""Versioned schema migrations, one list per component ("server", "inbox"), both backends.

A migration is a list of statements written once in portable DDL with SQLite's type names; the
connection's ``Dialect`` gives them its own (``Dialect.ddl``), and a migration that differs by
backend gives that backend's statements itself. ``timhooks_schema`` records the version of each
component; an upgrade applies the missing migrations in one transaction, which the dialect
makes exclusive (SQLite's write lock, a PostgreSQL advisory lock) so that processes starting
together do not race.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from timhooks.storage.connection import Connection
from timhooks.storage.dialect import Dialect
from timhooks.storage.errors import DatabaseNotFound, SchemaMismatch
from timhooks.storage.sqltext import split_script

__all__ = ["DatabaseNotFound", "Migration", "SchemaMismatch", "migrate", "schema_version"]

_LOCK_KEY = 0x71B700C5  # the key of timhooks migrations' lock (Dialect.migration_lock)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step of a component.

    ``statements``: portable DDL and DML, one statement each (a single string is read as a
    script and split where a ``;`` in code ends a statement). ``by_dialect``: the statements
    that replace them on one backend, by ``Dialect.name``, taken as written.
    """

    version: int
    description: str
    statements: Sequence[str] | str
    by_dialect: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def statements_for(self, dialect: Dialect) -> list[str]:
        """The migration's statements as ``dialect`` runs them."""
        own = self.by_dialect.get(dialect.name)
        if own is not None:
            return list(own)
        steps = self.statements
        if isinstance(steps, str):
            steps = split_script(steps)
        return [dialect.ddl(s) for s in steps]


_VERSIONS = """
CREATE TABLE IF NOT EXISTS timhooks_schema (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


def _has_versions(conn: Connection) -> bool:
    """True if the database has timhooks' version table (without creating it)."""
    return conn.execute(conn.dialect.table_exists, ("timhooks_schema",)).fetchone() is not None


def schema_version(conn: Connection, component: str, *, create: bool = True) -> int:
    """The component's schema version in this database (0: none yet).

    ``create=False`` leaves a database without timhooks' version table as it is.
    """
    if not create and not _has_versions(conn):
        return 0
    conn.execute(conn.dialect.ddl(_VERSIONS))
    row = conn.execute(
        "SELECT version FROM timhooks_schema WHERE component = ?", (component,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def migrate(
    conn: Connection,
    component: str,
    migrations: Sequence[Migration],
    *,
    allowed: bool = True,
    create: bool = True,
    where: str = "the database",
) -> list[int]:
    """Bring ``component`` to the latest version; return the versions applied.

    With ``allowed=False`` an outdated schema is ``SchemaMismatch``, saying how to upgrade; with
    ``create=False`` a component whose schema was never created is ``DatabaseNotFound`` (naming
    ``where``), and nothing is created.
    """
    dialect = conn.dialect
    latest = max(m.version for m in migrations)
    conn.execute(dialect.begin)
    try:
        if dialect.migration_lock is not None:
            conn.execute(dialect.migration_lock, (_LOCK_KEY,))
        current = schema_version(conn, component, create=create)
        if current == 0 and not create:
            raise DatabaseNotFound(
                f"{where} has no timhooks {component} schema: it was never created there"
            )
        if current > latest:
            raise SchemaMismatch(
                f"the {component} schema is at version {current}, newer than this timhooks"
                f" knows ({latest}); upgrade timhooks"
            )
        pending = [m for m in sorted(migrations, key=lambda m: m.version) if m.version > current]
        if pending and not allowed:
            raise SchemaMismatch(
                f"the {component} schema is at version {current}, this timhooks needs {latest}:"
                " run `timhooks db upgrade`"
            )
        for migration in pending:
            for statement in migration.statements_for(dialect):
                conn.execute(statement)
        if pending:
            conn.execute(
                dialect.upsert("timhooks_schema", ("component", "version"), ("component",)),
                (component, latest),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [m.version for m in pending]
