"""The backfill ledger (append-only, latest row per day) and per-day file counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from tests.adapters.catalog.old_rows import insert_files
from tests.adapters.catalog.statements import statements

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.migrate import HEAD, current_version, upgrade
from skyhaul.adapters.catalog.schema import metadata
from skyhaul.core.backfill import DayRun, DayStatus, day_window
from skyhaul.core.lifecycle import FileEvent
from skyhaul.core.model import Completion, FileSpec, Selection

D1 = date(2024, 3, 1)


def run(
    day: date,
    status: DayStatus = DayStatus.PENDING,
    *,
    run_id: str = "r1",
    source: str = "reach",
    **fields: Any,
) -> DayRun:
    start, end = day_window(day)
    return DayRun(
        run_id=run_id,
        source=source,
        day=day,
        status=status,
        window_start=start,
        window_end=end,
        started_at=start + timedelta(days=1),
        **fields,
    )


def full(day: date) -> DayRun:
    """A DOWNLOADED row with every optional field set."""
    started = datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)
    return run(
        day,
        DayStatus.DOWNLOADED,
        finished_at=started + timedelta(seconds=12.5),
        records=86_399,
        expected_records=86_400,
        availability=99.99884259259258,
        seconds=12.5,
        size=5_000_000_000,
        path="/data/reach/2024-03-01.parquet",
        sha256="ab" * 32,
        output_format="parquet",
        error_type=None,
        error_message=None,
        requests=24,
        throttled=3,
    )


# --- the ledger ---------------------------------------------------------------------------


def test_a_row_round_trips(catalog: Catalog) -> None:
    row = full(D1)
    catalog.append_day_run(row)
    assert catalog.day_runs() == [row]
    got = catalog.latest_day_runs("reach", D1, D1)[D1]
    assert got == row
    assert got.status is DayStatus.DOWNLOADED
    assert got.started_at.tzinfo is UTC and got.window_start.tzinfo is UTC
    assert type(got.day) is date


def test_times_in_other_zones_come_back_in_utc(catalog: Catalog) -> None:
    cet = timezone(timedelta(hours=1))
    started = datetime(2024, 3, 2, 0, 30, tzinfo=cet)  # 23:30 UTC the day before
    catalog.append_day_run(dataclasses.replace(run(D1), started_at=started))
    (got,) = catalog.day_runs()
    assert got.started_at == started
    assert got.started_at.tzinfo is UTC and got.started_at.hour == 23


def test_naive_times_are_refused(catalog: Catalog) -> None:
    naive = dataclasses.replace(run(D1), started_at=datetime(2024, 3, 2))
    with pytest.raises(ValueError, match="naive"):
        catalog.append_day_run(naive)
    assert catalog.day_runs() == []


def test_latest_is_the_last_row_of_each_day(catalog: Catalog) -> None:
    d2, d3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
    rows = [
        run(D1, run_id="r1"),
        run(d2, run_id="r1"),
        run(D1, DayStatus.FAILED, run_id="r1", error_type="HTTPError", error_message="503"),
        run(d2, DayStatus.DOWNLOADED, run_id="r1", path="/x/2"),
        # a second backfill retries the failed day; it fails again, then succeeds
        run(D1, run_id="r2"),
        run(D1, DayStatus.FAILED, run_id="r2", error_type="HTTPError"),
        run(D1, run_id="r3"),
        run(D1, DayStatus.DOWNLOADED, run_id="r3", path="/x/1"),
        run(d3, run_id="r3"),  # interrupted: PENDING stays the latest
    ]
    for row in rows:
        catalog.append_day_run(row)
    latest = catalog.latest_day_runs("reach", D1, d3)
    assert latest == {D1: rows[7], d2: rows[3], d3: rows[8]}
    assert list(latest) == [D1, d2, d3]


def test_a_later_row_wins_even_with_an_earlier_start_time(catalog: Catalog) -> None:
    first = dataclasses.replace(
        run(D1, DayStatus.FAILED), started_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    second = run(D1, DayStatus.DOWNLOADED)  # written later: the id decides, not the clock
    catalog.append_day_run(first)
    catalog.append_day_run(second)
    assert catalog.latest_day_runs("reach", D1, D1) == {D1: second}


def test_latest_range_is_inclusive_and_other_sources_ignored(catalog: Catalog) -> None:
    days = [D1 + timedelta(days=i) for i in range(-1, 4)]  # Feb 29 .. Mar 4 (leap year)
    for day in days:
        catalog.append_day_run(run(day))
        catalog.append_day_run(run(day, DayStatus.DOWNLOADED, source="other"))
    catalog.append_day_run(run(D1, DayStatus.FAILED, source="reach-2"))
    first, last = days[1], days[3]
    latest = catalog.latest_day_runs("reach", first, last)
    assert sorted(latest) == [days[1], days[2], days[3]]
    assert {r.source for r in latest.values()} == {"reach"}
    assert {r.status for r in latest.values()} == {DayStatus.PENDING}
    assert catalog.latest_day_runs("reach", D1, D1) == {D1: run(D1)}
    assert catalog.latest_day_runs("nobody", days[0], days[-1]) == {}
    assert catalog.latest_day_runs("reach", days[3], days[1]) == {}  # an empty range


def test_days_sort_as_dates_across_years(catalog: Catalog) -> None:
    days = [date(2023, 12, 31), date(2024, 1, 1), date(2024, 10, 1), date(999, 1, 1)]
    for day in days:
        catalog.append_day_run(run(day))
    latest = catalog.latest_day_runs("reach", date(2023, 12, 31), date(2024, 9, 30))
    assert sorted(latest) == [date(2023, 12, 31), date(2024, 1, 1)]
    got = catalog.day_runs(first=date(2024, 1, 1))
    assert [r.day for r in got] == [date(2024, 1, 1), date(2024, 10, 1)]


def test_rows_are_only_ever_inserted(catalog: Catalog) -> None:
    rows = [run(D1), run(D1, DayStatus.FAILED, error_type="E"), run(D1, DayStatus.DOWNLOADED)]
    with statements(catalog) as seen:
        for row in rows:
            catalog.append_day_run(row)
        catalog.latest_day_runs("reach", D1, D1)
        catalog.day_runs()
    writes = [s for s in seen if "day_runs" in s and not s.lstrip().upper().startswith("SELECT")]
    assert writes and all(s.lstrip().upper().startswith("INSERT") for s in writes), writes
    assert catalog.day_runs() == rows  # the earlier rows are untouched


def test_day_runs_in_write_order_with_filters(catalog: Catalog) -> None:
    d0, d2 = D1 - timedelta(days=1), D1 + timedelta(days=1)
    rows = [
        run(d2, source="a"),
        run(D1, source="b"),
        run(d0, source="a"),
        run(D1, DayStatus.DOWNLOADED, source="a"),
        run(d2, DayStatus.FAILED, source="a", run_id="r2"),
    ]
    for row in rows:
        catalog.append_day_run(row)
    assert catalog.day_runs() == rows
    assert catalog.day_runs("a") == [rows[0], rows[2], rows[3], rows[4]]
    assert catalog.day_runs("a", D1) == [rows[0], rows[3], rows[4]]
    assert catalog.day_runs("a", last=D1) == [rows[2], rows[3]]
    assert catalog.day_runs("a", D1, D1) == [rows[3]]
    assert catalog.day_runs(first=D1, last=D1) == [rows[1], rows[3]]
    assert catalog.day_runs("c") == []


def test_defaults_of_a_minimal_row(catalog: Catalog) -> None:
    catalog.append_day_run(run(D1))
    (got,) = catalog.day_runs()
    assert (got.requests, got.throttled, got.output_format) == (0, 0, "csv")
    assert got.finished_at is None and got.records is None and got.availability is None


# --- files per day ------------------------------------------------------------------------


def _spec(name: str, obs_start: datetime | None, source: str = "sdo") -> FileSpec:
    return FileSpec(
        url=f"https://arch.example/{source}/{name}",
        path=f"{source}/{name}",
        size=1,
        source=source,
        obs_start=obs_start,
    )


def _at(day: date, hours: float) -> datetime:
    return day_window(day)[0] + timedelta(hours=hours)


def test_files_per_day(catalog: Catalog, now: datetime) -> None:
    d0, d2, d3 = (D1 + timedelta(days=i) for i in (-1, 1, 2))
    catalog.register(
        [
            _spec("before", _at(d0, 23.99)),  # outside the range
            _spec("a1", _at(D1, 0)),  # midnight opens the day
            _spec("a2", _at(D1, 12)),
            _spec("a3", _at(D1, 23.5)),
            _spec("ignored", _at(D1, 13)),
            _spec("c1", datetime(2024, 3, 3, 0, 30, tzinfo=timezone(timedelta(hours=2)))),  # d2
            _spec("late", _at(d3, 0)),  # last + 1 at midnight: outside
            _spec("other", _at(D1, 1), source="goes"),
        ],
        "/d",
        now=now,
    )
    by_name = {r.path.rsplit("/", 1)[1]: r.id for r in catalog.list_files()}
    done = catalog.claim_batch(
        "w", 10, now=now, lease_seconds=60, selection=Selection(ids=(by_name["a1"], by_name["a3"]))
    )
    catalog.complete_many([Completion(r.id, 1, "s") for r in done], "w", now=now)
    catalog.apply_event(FileEvent.IGNORE, Selection(ids=(by_name["ignored"],)), now=now)

    assert catalog.files_per_day("sdo", D1, d2) == {D1: (3, 2), d2: (1, 0)}
    assert catalog.files_per_day("sdo", D1, D1) == {D1: (3, 2)}
    assert catalog.files_per_day("goes", d0, d3) == {D1: (1, 0)}
    assert catalog.files_per_day("sdo", d3 + timedelta(days=1), d3 + timedelta(days=9)) == {}
    assert catalog.files_per_day("nobody", d0, d3) == {}


def test_files_without_obs_start_count_on_their_creation_day(catalog: Catalog) -> None:
    d2 = D1 + timedelta(days=1)
    catalog.register([_spec("dated", _at(d2, 5))], "/d", now=_at(D1, 3))
    catalog.register([_spec("u1", None), _spec("u2", None)], "/d", now=_at(d2, 23))
    catalog.register([_spec("u3", None)], "/d", now=_at(D1, 0))
    catalog.register([_spec("u4", None)], "/d", now=_at(d2 + timedelta(days=1), 0))  # outside
    done = catalog.claim_batch("w", 1, now=_at(d2, 23), lease_seconds=60)
    catalog.complete_many([Completion(r.id, 1, "s") for r in done], "w", now=_at(d2, 23))
    assert catalog.files_per_day("sdo", D1, d2) == {D1: (1, 0), d2: (3, 1)}


def test_files_per_day_up_to_the_calendars_last_day(catalog: Catalog, now: datetime) -> None:
    # The day after the last one cannot be held: the range ends with the calendar.
    last = date.max
    catalog.register(
        [
            _spec("eve", datetime(9999, 12, 30, 23, tzinfo=UTC)),
            _spec("end", datetime.max.replace(tzinfo=UTC)),
        ],
        "/d",
        now=now,
    )
    before = last - timedelta(days=1)
    assert catalog.files_per_day("sdo", before, before) == {before: (1, 0)}
    assert catalog.files_per_day("sdo", before, last) == {before: (1, 0), last: (1, 0)}
    assert catalog.files_per_day("sdo", last, last) == {last: (1, 0)}
    assert catalog.files_per_day("sdo", date.min, date.min) == {}


# --- the schema ---------------------------------------------------------------------------


def test_a_0002_catalog_upgrades(db_url: str, now: datetime) -> None:
    engine = create_catalog_engine(db_url)
    try:
        upgrade(engine, "0002")
        rows = [
            {"url": "https://arch.example/sdo/old", "path": "sdo/old", "source": "sdo"},
            {
                "url": "https://arch.example/sdo/dated",
                "path": "sdo/dated",
                "source": "sdo",
                "obs_start": _at(D1, 1),
            },
        ]
        insert_files(engine, rows, now=_at(D1, 2))
        with open_catalog(db_url) as catalog:
            catalog.append_day_run(run(D1))
            assert catalog.latest_day_runs("reach", D1, D1) == {D1: run(D1)}
            assert catalog.files_per_day("sdo", D1, D1) == {D1: (2, 0)}
        with engine.connect() as connection:
            assert current_version(connection) == HEAD
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_the_0003_migration_downgrades(db_url: str) -> None:
    from alembic import command

    from skyhaul.adapters.catalog.migrate import alembic_config

    open_catalog(db_url).close()
    engine = create_catalog_engine(db_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        with engine.connect() as connection:
            assert current_version(connection) == "0002"
    finally:
        engine.dispose()
    with open_catalog(db_url) as catalog:  # and up again
        catalog.append_day_run(run(D1))


# --- plans (SQLite: no statistics, so the plan follows the indices) -----------------------


def _plans(catalog: Catalog, action: Any) -> list[str]:
    seen: list[tuple[str, Any]] = []

    def collect(_c: Any, _k: Any, statement: str, parameters: Any, _x: Any, _m: bool) -> None:
        seen.append((statement, parameters))

    engine = catalog._db.engine
    event.listen(engine, "before_cursor_execute", collect)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", collect)
    lines = []
    with engine.connect() as connection:
        for statement, parameters in seen:
            if statement.lstrip().upper().startswith("SELECT"):
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                lines += [str(row[-1]) for row in plan]
    return lines


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = open_catalog(f"sqlite:///{tmp_path}/plans.db")
    try:
        yield catalog
    finally:
        catalog.close()


def test_latest_reads_the_index_not_the_ledger(sqlite_catalog: Catalog) -> None:
    for i in range(20):
        sqlite_catalog.append_day_run(run(D1 + timedelta(days=i % 5), source=f"s{i % 2}"))
    lines = _plans(
        sqlite_catalog, lambda: sqlite_catalog.latest_day_runs("s1", D1, D1 + timedelta(days=3))
    )
    assert not [line for line in lines if line.startswith("SCAN")], lines
    assert any("COVERING INDEX ix_day_runs_latest" in line for line in lines), lines
    assert any("INTEGER PRIMARY KEY" in line for line in lines), lines


def test_files_per_day_reads_the_indices_not_the_files(sqlite_catalog: Catalog, now) -> None:
    sqlite_catalog.register(
        [_spec(f"f{i}", None if i % 3 == 0 else _at(D1, i / 10)) for i in range(30)], "/d", now=now
    )
    lines = _plans(sqlite_catalog, lambda: sqlite_catalog.files_per_day("sdo", D1, D1))
    assert not [line for line in lines if line.startswith("SCAN")], lines
    assert any("ix_files_obs" in line for line in lines), lines
    assert any("ix_files_undated" in line for line in lines), lines


def test_ledger_sources_are_the_names_with_rows(catalog: Catalog) -> None:
    assert catalog.ledger_sources() == []
    for source in ("reach", "alpha", "reach"):
        catalog.append_day_run(run(D1, source=source))
    assert catalog.ledger_sources() == ["alpha", "reach"]
