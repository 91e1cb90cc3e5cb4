"""Is the database's schema the one this release's code needs?

Alembic records the revision a database was migrated to in its
alembic_version table; the code knows the head revision(s) of its
migration scripts. Readiness (GET /health/ready) and the CLI compare the
two, so an unmigrated database is reported as such, naming the fix,
instead of failing every request with a generic 77.
"""
from __future__ import annotations

import enum
import functools

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.extensions import db
from config import ROOT

MIGRATIONS_DIR = ROOT / "migrations"
UPGRADE_HINT = "flask --app wsgi db upgrade"


class SchemaState(enum.Enum):
    CURRENT = "current"    # at the head revision(s)
    NEWER = "newer"        # a revision this code does not know: a later release migrated it
    OUTDATED = "outdated"  # behind the head, or never migrated


@functools.cache
def migration_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(the head revisions, every revision) of the migration scripts: read
    once a process (the scripts do not change while it runs)."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    every = frozenset(script.revision for script in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), every


def schema_state() -> SchemaState:
    """The state of the database's schema: one query of alembic_version.

    A database error other than a missing alembic_version table (the
    database down, a timeout) is raised for the caller to report; a missing
    table means the database was never migrated.
    """
    try:
        rows = db.session.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError as error:
        if not _missing_table(error):
            raise
        db.session.rollback()  # PostgreSQL: the failed statement ended the transaction
        return SchemaState.OUTDATED
    versions = frozenset(row[0] for row in rows)
    heads, every = migration_revisions()
    if versions == heads:
        return SchemaState.CURRENT
    if versions and not versions & every:
        # migrated by a later release (during a rolling deploy, its
        # migrations come first): its schema is taken as usable here
        return SchemaState.NEWER
    return SchemaState.OUTDATED


def _missing_table(error: SQLAlchemyError) -> bool:
    """A missing table: sqlite3's "no such table", PostgreSQL's
    UndefinedTable (SQLSTATE 42P01)."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) == "42P01":
        return True
    return "no such table" in str(orig).lower()


def schema_problem(error: SQLAlchemyError) -> str | None:
    """One line naming the fix when `error` comes from a missing or older
    schema (a table or column the code needs is not there), else None. The
    database URL is shown without its password."""
    orig = getattr(error, "orig", None)
    message = str(orig).lower()
    where = db.engine.url.render_as_string(hide_password=True)
    if _missing_table(error):
        return f"the database has no schema at {where}: run `{UPGRADE_HINT}`"
    if getattr(orig, "sqlstate", None) == "42703" or "no such column" in message:
        return (f"the database schema at {where} is older than this release: "
                f"run `{UPGRADE_HINT}`")
    return None
