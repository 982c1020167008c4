"""The hot queries use indices, never a scan of the files table (SQLite, no statistics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import Completion, FileSpec, Selection


@pytest.fixture
def big(tmp_path: Path, now) -> Iterator[Catalog]:
    """A SQLite catalog with a few thousand files in several states and instruments."""
    catalog = open_catalog(f"sqlite:///{tmp_path}/plans.db")
    job = catalog.create_job(JobKind.GET, {}, now=now)
    catalog.register(
        [
            FileSpec(
                url=f"https://a.example/{i}",
                path=f"{i}",
                size=i,
                instrument=f"I{i % 4}",
                obs_start=now + timedelta(seconds=i),
                downlink_time=now + timedelta(seconds=i),
            )
            for i in range(3_000)
        ],
        "/d",
        now=now,
        job_id=job,
    )
    done = catalog.claim_batch("w", 1_500, now=now, lease_seconds=60)
    catalog.complete_many([Completion(r.id, 1, "s") for r in done], "w", now=now)
    try:
        yield catalog
    finally:
        catalog.close()


@contextmanager
def statements(catalog: Catalog) -> Iterator[list[tuple[str, Any]]]:
    """Collect the statements (and parameters) the catalog sends."""
    seen: list[tuple[str, Any]] = []

    def collect(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        # An executemany is planned once: explain it with its first row of parameters.
        seen.append((statement, parameters[0] if many else parameters))

    engine = catalog._db.engine
    event.listen(engine, "before_cursor_execute", collect)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", collect)


def plans_on_files(catalog: Catalog, seen: list[tuple[str, Any]]) -> list[str]:
    """The query plan lines about the files table, for every SELECT/UPDATE seen."""
    lines = []
    with catalog._db.engine.connect() as connection:
        for statement, parameters in seen:
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                lines += [row[-1] for row in plan if " files" in f" {row[-1]}"]
    return lines


ACTIONS: dict[str, Callable[[Catalog, Any], object]] = {
    "claim": lambda c, now: c.claim_batch("x", 100, now=now, lease_seconds=5),
    "claim by job": lambda c, now: c.claim_batch("x", 100, now=now, lease_seconds=5, job_id=1),
    "recover stale": lambda c, now: c.recover_stale(now=now + timedelta(days=1)),
    "renew": lambda c, now: c.renew_leases("w", list(range(1, 200)), now=now, lease_seconds=5),
    "release": lambda c, now: c.release(list(range(1, 200)), "w", now=now),
    "complete many": lambda c, now: c.complete_many(
        [Completion(i, 1, "s") for i in range(1, 200)], "w", now=now
    ),
    "status": lambda c, now: c.status_summary(),
    "expected by job": lambda c, now: c.expected_totals(job_id=1),
    "next due": lambda c, now: c.next_attempt_due(),
    "observation window": lambda c, now: c.list_files(
        Selection(instrument="I1", obs_start=now, obs_end=now + timedelta(seconds=50))
    ),
    "downlink window": lambda c, now: c.count_files(
        Selection(instrument="I1", downlink_start=now, downlink_end=now + timedelta(seconds=50))
    ),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_no_scan_of_files(big: Catalog, action: str, now) -> None:
    with statements(big) as seen:
        ACTIONS[action](big, now)
    for line in plans_on_files(big, seen):
        assert line.startswith("SEARCH"), f"{action}: {line}"
        # A list of ids is looked up by id, not by walking every file in a state.
        assert "(state=?)" not in line, f"{action}: {line}"


def test_plans_are_seen(big: Catalog, now) -> None:
    with statements(big) as seen:
        ACTIONS["claim"](big, now)
    plans = plans_on_files(big, seen)
    assert any("ix_files_claim" in line for line in plans), plans
    assert any("INTEGER PRIMARY KEY" in line for line in plans), plans
