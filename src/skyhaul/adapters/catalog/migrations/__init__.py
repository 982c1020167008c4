"""Alembic migrations of the catalog schema (run by :mod:`skyhaul.adapters.catalog.migrate`)."""
