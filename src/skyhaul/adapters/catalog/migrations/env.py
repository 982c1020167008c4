"""Alembic environment of the catalog.

skyhaul hands over an open connection (``config.attributes["connection"]``) already in a
transaction; migrations run on it and the caller commits. Run from the ``alembic``
command line (developers), the database is ``sqlalchemy.url`` or ``$SKYHAUL_CATALOG``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog import jobs_schema  # noqa: F401  (its tables join metadata)
from skyhaul.adapters.catalog.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    from skyhaul.adapters.catalog.urls import catalog_url

    if context.is_offline_mode():
        context.configure(
            url=catalog_url(context.config.get_main_option("sqlalchemy.url")),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from skyhaul.adapters.catalog.database import create_catalog_engine

    engine = create_catalog_engine(catalog_url(context.config.get_main_option("sqlalchemy.url")))
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
