"""Fixtures: each catalog test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL is expected at 127.0.0.1:5432, database ``test``, trust authentication (user
``postgres``, else ``root``). Each test gets a schema of its own, dropped afterwards, so
tests never see each other's rows. Without a reachable server the PostgreSQL cases are
skipped, except under ``CI=true``, where they fail: CI must exercise both backends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.model import FileSpec

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USERS = ("postgres", "root")

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _find_postgres() -> tuple[str | None, str]:
    """Return (user, "") for the first user that can connect, else (None, why not)."""
    reasons = []
    for user in PG_USERS:
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, dbname=PG_DATABASE, user=user, connect_timeout=3
            ):
                return user, ""
        except psycopg.Error as error:
            reasons.append(f"{user}: {str(error).strip().splitlines()[0]}")
    return None, "; ".join(reasons)


@pytest.fixture(scope="session")
def postgres_user() -> str:
    """The user to reach the test PostgreSQL as (skips, or fails under CI, without one)."""
    user, why = _find_postgres()
    if user is None:
        message = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}/{PG_DATABASE} ({why})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    return user


@pytest.fixture
def postgres_url(postgres_user: str) -> Iterator[str]:
    """A catalog URL on a fresh PostgreSQL schema, dropped after the test."""
    schema = f"skyhaul_test_{uuid.uuid4().hex[:12]}"
    admin = {"host": PG_HOST, "port": PG_PORT, "dbname": PG_DATABASE, "user": postgres_user}
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            f"postgresql+psycopg://{postgres_user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
            f"?options=-csearch_path%3D{schema}"
        )
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A URL for an empty catalog: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/catalog.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def catalog(db_url: str) -> Iterator[Catalog]:
    """An open catalog, closed after the test."""
    opened = open_catalog(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' of a test (clocks are passed in, never read)."""
    return NOW


def make_specs(count: int, *, start: int = 0, sized: bool = True, **fields: Any) -> list[FileSpec]:
    """``count`` specs numbered from ``start``; file ``i`` has size ``i + 1`` when ``sized``."""
    fields.setdefault("source", "test")
    return [
        FileSpec(
            url=f"https://archive.example/data/f{i:06d}.fits",
            path=f"data/f{i:06d}.fits",
            size=i + 1 if sized else None,
            **fields,
        )
        for i in range(start, start + count)
    ]


@pytest.fixture
def specs() -> Callable[..., list[FileSpec]]:
    """The :func:`make_specs` factory."""
    return make_specs


def later(seconds: float) -> datetime:
    """``NOW`` plus ``seconds``."""
    return NOW + timedelta(seconds=seconds)


@pytest.fixture
def at() -> Callable[[float], datetime]:
    """``at(s)``: the test's 'now' plus ``s`` seconds."""
    return later
