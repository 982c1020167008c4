"""Opening catalogs: schema migrations, and every failure as one clear line."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from skyhaul.adapters.catalog import migrate, open_catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.facts import LONGEST_OBSERVATION
from skyhaul.adapters.catalog.migrate import (
    HEAD,
    alembic_config,
    current_version,
    ensure_schema,
    upgrade,
)
from skyhaul.adapters.catalog.schema import catalog_facts, metadata
from skyhaul.errors import CatalogUnavailableError, NoCatalogError, SkyhaulError

#: Tables every catalog at head has.
TABLES = {"files", "segments", "attempts", "state_totals", "slots", "day_runs", "jobs", "job_files"}


def test_head_names_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def _schema_against_metadata(url: str) -> tuple[list[Any], str | None, set[str]]:
    engine = create_catalog_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return (
                compare_metadata(context, metadata),
                current_version(connection),
                set(inspect(connection).get_table_names()),
            )
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_schema(db_url: str) -> None:
    engine = create_catalog_engine(db_url)
    try:
        upgrade(engine)  # every migration from an empty database, as an old catalog had
    finally:
        engine.dispose()
    differences, version, tables = _schema_against_metadata(db_url)
    assert differences == []
    assert version == HEAD
    assert tables >= TABLES


def test_a_new_catalog_is_built_at_head_without_alembic(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_alembic(*args: object, **kwargs: object) -> None:
        raise AssertionError("a new catalog must not need the migrations")

    monkeypatch.setattr(migrate, "upgrade", no_alembic)
    open_catalog(db_url).close()
    differences, version, tables = _schema_against_metadata(db_url)
    assert differences == []
    assert version == HEAD
    assert tables >= TABLES
    engine = create_catalog_engine(db_url)
    try:
        with engine.connect() as connection:
            query = select(catalog_facts.c.name, catalog_facts.c.value)
            facts = {name: value for name, value in connection.execute(query)}
            where = [_index(ix) for ix in inspect(connection).get_indexes("files")]
    finally:
        engine.dispose()
    assert facts == {LONGEST_OBSERVATION: 0}
    assert any("IS NOT NULL" in index for index in where), "partial indices keep their WHERE"


def _index(index: Any) -> str:
    """An index as text, its WHERE clause included (a clause object has no equality)."""
    options = {k: str(v) for k, v in index.get("dialect_options", {}).items()}
    return f"{index['name']} {index['column_names']} {bool(index['unique'])} {options}"


def _shape(url: str) -> dict[str, Any]:
    """Tables, columns, keys, indices (with their WHERE) and seeded rows of a catalog."""
    engine = create_catalog_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            shape: dict[str, Any] = {}
            for table in sorted(inspector.get_table_names()):
                shape[table] = {
                    "columns": {
                        c["name"]: (str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in inspector.get_columns(table)
                    },
                    "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                    "fks": sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
                    "unique": sorted(str(u) for u in inspector.get_unique_constraints(table)),
                    "indexes": sorted(_index(ix) for ix in inspector.get_indexes(table)),
                    "checks": sorted(str(c) for c in inspector.get_check_constraints(table)),
                }
            shape["facts"] = sorted(connection.execute(select(catalog_facts)).all())
            shape["version"] = current_version(connection)
            return shape
    finally:
        engine.dispose()


def test_a_new_catalog_has_exactly_the_shape_the_migrations_give(tmp_path: Path) -> None:
    migrated, created = f"sqlite:///{tmp_path}/migrated.db", f"sqlite:///{tmp_path}/new.db"
    engine = create_catalog_engine(migrated)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    open_catalog(created).close()
    assert _shape(created) == _shape(migrated)


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


def test_a_reader_finds_no_catalog_and_creates_none(db_url: str) -> None:
    with pytest.raises(NoCatalogError, match=r"^no catalog at "):
        open_catalog(db_url, create=False)
    if db_url.startswith("sqlite:///"):
        assert not Path(db_url.removeprefix("sqlite:///")).exists()
    else:
        engine = create_catalog_engine(db_url)
        try:
            with engine.connect() as connection:
                assert inspect(connection).get_table_names() == []
        finally:
            engine.dispose()
    open_catalog(db_url).close()  # a writer creates it; then a reader opens it
    open_catalog(db_url, create=False).close()


def test_a_new_sqlite_catalog_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "new" / "catalog.db"
    with open_catalog(f"sqlite:///{path}") as catalog:
        catalog.status_summary()
        assert path.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "new" / "catalog.db-wal").stat().st_mode & 0o777 == 0o600
