"""Opening catalogs: schema migrations, and every failure as one clear line."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.migrate import HEAD, alembic_config, current_version, ensure_schema
from skyhaul.adapters.catalog.schema import metadata
from skyhaul.errors import CatalogUnavailableError, SkyhaulError


def test_head_names_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_migrations_build_exactly_the_schema(catalog: Catalog) -> None:
    engine = create_catalog_engine(catalog.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert current_version(connection) == HEAD
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {"files", "segments", "attempts", "state_totals", "slots"} <= tables


def test_opening_again_does_not_migrate(db_url: str, specs, now) -> None:
    with open_catalog(db_url) as first:
        first.register(specs(3), "/d", now=now)
    engine = create_catalog_engine(db_url)
    try:
        assert ensure_schema(engine) is False
    finally:
        engine.dispose()
    with open_catalog(db_url) as again:
        assert again.count_files() == 3


def test_concurrent_first_opens_migrate_once(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def open_and_close() -> None:
        barrier.wait()
        try:
            open_catalog(db_url).close()
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=open_and_close) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _assert_one_clean_line(error: SkyhaulError, *, starts: str) -> None:
    message = str(error)
    assert message.startswith(starts), message
    assert "\n" not in message
    assert "sqlalchemy" not in message.lower() and "sqlalche.me" not in message
    assert type(error).__module__ == "skyhaul.errors"
    assert error.exit_code == 2


def test_unreachable_postgres_is_one_line_without_password() -> None:
    url = "postgresql://astro:s3cret@127.0.0.1:1/sky"
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(url)
    _assert_one_clean_line(
        caught.value,
        starts="cannot open catalog postgresql+psycopg://astro:REDACTED@127.0.0.1:1/sky: ",
    )
    assert "s3cret" not in str(caught.value)
    assert "refused" in str(caught.value).lower()


def test_sqlite_under_a_file_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    url = f"sqlite:///{blocker}/catalog.db"
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(url)
    _assert_one_clean_line(caught.value, starts=f"cannot open catalog {url}: ")


def test_sqlite_in_an_unwritable_place_is_unavailable() -> None:
    url = "sqlite:////proc/skyhaul-test/catalog.db"  # not writable, even for root
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(url)
    _assert_one_clean_line(caught.value, starts=f"cannot open catalog {url}: ")


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(str(path))
    _assert_one_clean_line(caught.value, starts=f"cannot open catalog sqlite:///{path}: ")
    assert "not a database" in str(caught.value)


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(str(tmp_path))
    _assert_one_clean_line(caught.value, starts="cannot open catalog sqlite:///")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u:pw@db/sky", "unsupported database 'mysql'"),
        ("postgresql+nosuchdriver://u@db/sky", "unknown database driver"),
        ("postgresql+psycopg2://u:pw@db/sky", "psycopg2"),
        ("sqlite+pysqlite:// :bad", "not a database URL"),
        ("://nothing", "not a database URL"),
    ],
)
def test_bad_urls_are_unavailable(url: str, reason: str) -> None:
    with pytest.raises(CatalogUnavailableError) as caught:
        open_catalog(url)
    _assert_one_clean_line(caught.value, starts="cannot open catalog ")
    assert reason in str(caught.value)
    assert "pw" not in str(caught.value)


def test_in_memory_catalog_works_across_threads(specs, now) -> None:
    with open_catalog("sqlite://") as catalog:
        catalog.register(specs(50), "/d", now=now)
        got: list[int] = []

        def claim() -> None:
            got.extend(r.id for r in catalog.claim_batch("w", 10, now=now, lease_seconds=9))

        threads = [threading.Thread(target=claim) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(got) == list(range(1, 51))


def test_opening_a_current_catalog_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/catalog.db"
    open_catalog(url).close()
    probe = (
        "import sys\n"
        "from skyhaul.adapters.catalog import open_catalog\n"
        f"open_catalog({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
