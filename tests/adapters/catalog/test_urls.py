"""Which catalog URL is used: argument, environment, default; paths become SQLite URLs."""

from __future__ import annotations

import pytest

from skyhaul.adapters.catalog import DEFAULT_URL, ENV_VAR, catalog_url


def test_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert catalog_url(None) == DEFAULT_URL == "sqlite:///skyhaul.db"
    monkeypatch.setenv(ENV_VAR, "postgresql://u@db/sky")
    assert catalog_url(None) == "postgresql+psycopg://u@db/sky"
    assert catalog_url("sqlite:///given.db") == "sqlite:///given.db"
    monkeypatch.setenv(ENV_VAR, "  ")
    assert catalog_url(None) == DEFAULT_URL


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("catalog.db", "sqlite:///catalog.db"),
        ("data/sky.db", "sqlite:///data/sky.db"),
        ("/var/lib/sky.db", "sqlite:////var/lib/sky.db"),
        ("postgres://u:p@h:5433/db", "postgresql+psycopg://u:p@h:5433/db"),
        ("postgresql://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_urls_and_paths(given: str, expected: str) -> None:
    assert catalog_url(given) == expected


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/astro")
    assert catalog_url("~/sky.db") == "sqlite:////home/astro/sky.db"
