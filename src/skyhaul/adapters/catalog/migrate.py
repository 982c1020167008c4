"""Schema versions: bring a catalog database to the code's schema, fast when it already is.

Rules:
- ``HEAD`` names the newest migration; a test checks it against ``migrations/versions``.
- Opening a catalog reads the version table first and only starts Alembic (slow to
  import and to scan its scripts) when the database is behind.
- Migrations run in one transaction on the connection we hand to Alembic (no
  ``alembic.ini`` at run time). On PostgreSQL an advisory lock makes concurrent openers
  take turns; on SQLite ``BEGIN IMMEDIATE`` does. Whoever comes second finds the schema
  at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from skyhaul.adapters.catalog.database import READONLY

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0003"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
#: Key of the PostgreSQL advisory lock held while migrating ("skyhaul" in ASCII, truncated).
_MIGRATION_LOCK = 0x736B7968_61756C


def current_version(connection: Connection) -> str | None:
    """Return the schema version recorded in the database (None: not a catalog yet)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    version = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return None if version is None else str(version)


def ensure_schema(engine: Engine) -> bool:
    """Migrate the database to ``HEAD`` unless it is there; return True if it migrated."""
    with engine.connect() as connection:
        connection.execution_options(**{READONLY: True})
        with connection.begin():
            if current_version(connection) == HEAD:
                return False
    upgrade(engine)
    return True


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision`` in one transaction."""
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def alembic_config() -> Config:
    """Return an Alembic configuration for the catalog migrations, built in code."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
