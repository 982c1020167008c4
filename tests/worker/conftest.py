"""Fixtures of the worker tests: the PostgreSQL catalog fixtures of the catalog tests
(a fresh schema per test; skipped without PostgreSQL, failed under ``CI=true``)."""

from __future__ import annotations

from tests.adapters.catalog.conftest import postgres_url, postgres_user

__all__ = ["postgres_url", "postgres_user"]
