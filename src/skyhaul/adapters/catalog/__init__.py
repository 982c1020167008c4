"""The file catalog on SQLite (embedded default) or PostgreSQL (scale-out).

SQLAlchemy Core for the queries, Alembic for the schema. Open one with
:func:`open_catalog`; everything else goes through :class:`Catalog`.
"""

from __future__ import annotations

from skyhaul.adapters.catalog.register import RegisterResult
from skyhaul.adapters.catalog.store import Catalog, open_catalog
from skyhaul.adapters.catalog.urls import DEFAULT_URL, ENV_VAR, catalog_url

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "Catalog",
    "RegisterResult",
    "catalog_url",
    "open_catalog",
]
