"""Jobs in the catalog: compare-and-set states, the progress heartbeat, cancel, leases.

Each test runs on SQLite and PostgreSQL (see conftest). Times are passed in, never read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tests.adapters.catalog.old_rows import insert_files

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.adapters.catalog.database import create_catalog_engine
from skyhaul.adapters.catalog.migrate import HEAD, alembic_config, current_version, upgrade
from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.errors import IllegalTransitionError, UsageError

At = Callable[[float], datetime]
PARAMS = {"selection": {"instrument": "EUI", "obs_start": "2024-03-01T00:00:00+00:00"}, "j": 16}


def progress(done: int = 1) -> JobProgress:
    rows = tuple(
        InFlightFile(f"data/f{i:06d}.fits", i * 1000, 10_000 if i % 3 else None, 512.5, "http")
        for i in range(16)
    )
    return JobProgress(done, 2000, 0, done * 10_000, 20_000_000, 1_048_576.0, 18.9, rows)


def running(catalog: Catalog, now: datetime, owner: str = "host:1", lease: float = 30) -> int:
    job_id = catalog.create_job(JobKind.DOWNLOAD, PARAMS, now=now)
    assert catalog.start_job(job_id, owner, now=now, lease_seconds=lease)
    return job_id


def test_a_new_job_is_queued_with_its_params(catalog: Catalog, now: datetime) -> None:
    job_id = catalog.create_job(JobKind.GET, PARAMS, now=now)
    job = catalog.get_job(job_id)
    assert job is not None
    assert (job.id, job.kind, job.state) == (job_id, JobKind.GET, JobState.QUEUED)
    assert job.params == PARAMS
    assert job.created_at == now == job.updated_at
    assert (job.started_at, job.owner, job.progress, job.summary) == (None, None, None, None)
    assert job.cancel_requested is False
    assert catalog.get_job(job_id + 1) is None


def test_start_publish_finish(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = running(catalog, now, lease=30)
    job = catalog.get_job(job_id)
    assert job is not None
    assert (job.state, job.owner, job.started_at) == (JobState.RUNNING, "host:1", now)
    assert job.lease_expires_at == at(30)

    flag = catalog.publish_job_progress(job_id, "host:1", progress(5), now=at(1), lease_seconds=30)
    assert flag is False, "held, and nobody asked it to stop"
    job = catalog.get_job(job_id)
    assert job is not None
    assert job.progress == progress(5)
    assert (job.progress_at, job.lease_expires_at) == (at(1), at(31))

    summary = {"downloaded": 2000, "failed": 0, "bytes": 20_000_000}
    assert catalog.finish_job(job_id, "host:1", JobState.SUCCEEDED, now=at(2), summary=summary)
    job = catalog.get_job(job_id)
    assert job is not None
    assert (job.state, job.finished_at, job.summary) == (JobState.SUCCEEDED, at(2), summary)
    assert job.progress == progress(5), "the last progress stays: the job's totals"
    assert job.lease_expires_at is None
    # Once finished, nothing more is accepted from the owner.
    assert (
        catalog.publish_job_progress(job_id, "host:1", progress(), now=at(3), lease_seconds=30)
        is None
    )
    assert not catalog.finish_job(job_id, "host:1", JobState.FAILED, now=at(3), summary=None)
    assert not catalog.start_job(job_id, "host:1", now=at(3), lease_seconds=30)


def test_only_the_owner_publishes_or_finishes(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = running(catalog, now)
    assert (
        catalog.publish_job_progress(job_id, "other:2", progress(), now=at(1), lease_seconds=30)
        is None
    )
    assert not catalog.finish_job(job_id, "other:2", JobState.SUCCEEDED, now=at(1), summary={})
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.RUNNING and job.progress is None
    queued = catalog.create_job(JobKind.GET, {}, now=now)
    assert (
        catalog.publish_job_progress(queued, "host:1", progress(), now=at(1), lease_seconds=30)
        is None
    )


def test_finishing_in_a_state_no_run_ends_in_raises(catalog: Catalog, now: datetime) -> None:
    job_id = running(catalog, now)
    for state in (JobState.QUEUED, JobState.RUNNING):
        with pytest.raises(IllegalTransitionError):
            catalog.finish_job(job_id, "host:1", state, now=now, summary=None)


def test_failed_job_keeps_its_error(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = running(catalog, now)
    assert catalog.finish_job(
        job_id, "host:1", JobState.FAILED, now=at(1), summary={"failed": 3}, error="disk full"
    )
    job = catalog.get_job(job_id)
    assert job is not None and (job.state, job.error) == (JobState.FAILED, "disk full")


def _race_to_start(catalogs: dict[str, Catalog], job_id: int, now: datetime) -> dict[str, bool]:
    """Start ``job_id`` from each catalog at the same moment; return who got it."""
    barrier = threading.Barrier(len(catalogs))
    won: dict[str, bool] = {}

    def start(owner: str, catalog: Catalog) -> None:
        barrier.wait()
        won[owner] = catalog.start_job(job_id, owner, now=now, lease_seconds=30)

    threads = [threading.Thread(target=start, args=item) for item in catalogs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_two_owners_start_the_same_job_and_one_wins(db_url: str, now: datetime) -> None:
    first, second = open_catalog(db_url), open_catalog(db_url)
    try:
        for _ in range(8):
            job_id = first.create_job(JobKind.DOWNLOAD, {}, now=now)
            won = _race_to_start({"a": first, "b": second}, job_id, now)
            assert sorted(won.values()) == [False, True], won
            job = first.get_job(job_id)
            assert job is not None and won[str(job.owner)] is True
    finally:
        first.close()
        second.close()


def test_cancel_is_seen_by_the_next_publish(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = running(catalog, now)
    assert (
        catalog.publish_job_progress(job_id, "host:1", progress(), now=at(1), lease_seconds=30)
        is False
    )
    assert catalog.request_job_cancel(job_id, now=at(2))
    job = catalog.get_job(job_id)
    assert job is not None and job.cancel_requested and job.state is JobState.RUNNING
    assert (
        catalog.publish_job_progress(job_id, "host:1", progress(), now=at(3), lease_seconds=30)
        is True
    )
    assert catalog.finish_job(job_id, "host:1", JobState.CANCELLED, now=at(4), summary={})
    job = catalog.get_job(job_id)
    assert job is not None and (job.state, job.finished_at) == (JobState.CANCELLED, at(4))
    assert not catalog.request_job_cancel(job_id, now=at(5)), "a finished job cannot be cancelled"


def test_a_queued_job_is_cancelled_at_once(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = catalog.create_job(JobKind.BACKFILL, {}, now=now)
    assert catalog.request_job_cancel(job_id, now=at(1))
    job = catalog.get_job(job_id)
    assert job is not None and (job.state, job.finished_at) == (JobState.CANCELLED, at(1))
    assert not catalog.start_job(job_id, "host:1", now=at(2), lease_seconds=30)
    assert not catalog.request_job_cancel(job_id + 1, now=at(1)), "no such job"


def test_expired_lease_makes_a_running_job_interrupted(
    catalog: Catalog, now: datetime, at: At
) -> None:
    dead = running(catalog, now, owner="host:dead", lease=10)
    alive = running(catalog, now, owner="host:alive", lease=10)
    assert (
        catalog.publish_job_progress(alive, "host:alive", progress(), now=at(9), lease_seconds=10)
        is False
    )
    assert catalog.recover_interrupted_jobs(now=at(10)) == 0, "a lease ending now is not expired"
    assert catalog.recover_interrupted_jobs(now=at(11)) == 1
    assert catalog.recover_interrupted_jobs(now=at(11)) == 0
    job = catalog.get_job(dead)
    assert job is not None
    assert (job.state, job.finished_at, job.lease_expires_at) == (
        JobState.INTERRUPTED,
        at(11),
        None,
    )
    assert job.error == "lease expired; held by host:dead"
    other = catalog.get_job(alive)
    assert other is not None and other.state is JobState.RUNNING
    # The dead owner (had it only hung) learns it lost the job, and cannot finish it.
    assert (
        catalog.publish_job_progress(dead, "host:dead", progress(), now=at(12), lease_seconds=10)
        is None
    )
    assert not catalog.finish_job(dead, "host:dead", JobState.SUCCEEDED, now=at(12), summary={})


def test_a_late_publish_before_recovery_keeps_the_job(
    catalog: Catalog, now: datetime, at: At
) -> None:
    job_id = running(catalog, now, lease=10)
    assert (
        catalog.publish_job_progress(job_id, "host:1", progress(), now=at(20), lease_seconds=10)
        is False
    )
    assert catalog.recover_interrupted_jobs(now=at(25)) == 0


def test_requeue(catalog: Catalog, now: datetime, at: At) -> None:
    job_id = running(catalog, now, lease=10)
    assert catalog.request_job_cancel(job_id, now=at(1))
    assert not catalog.requeue_job(job_id, now=at(2)), "a running job is not requeued"
    assert catalog.recover_interrupted_jobs(now=at(11)) == 1
    assert catalog.requeue_job(job_id, now=at(12))
    job = catalog.get_job(job_id)
    assert job is not None
    assert (job.state, job.owner, job.cancel_requested) == (JobState.QUEUED, None, False)
    assert (job.finished_at, job.error, job.updated_at) == (None, None, at(12))
    assert not catalog.requeue_job(job_id, now=at(13)), "already queued"
    # The old owner cannot finish the requeued job; a new one starts it afresh.
    assert not catalog.finish_job(job_id, "host:1", JobState.CANCELLED, now=at(13), summary={})
    assert catalog.start_job(job_id, "host:2", now=at(14), lease_seconds=10)
    job = catalog.get_job(job_id)
    assert job is not None and (job.owner, job.started_at, job.progress) == ("host:2", at(14), None)


@pytest.mark.parametrize("final", [JobState.FAILED, JobState.CANCELLED, JobState.SUCCEEDED])
def test_requeue_from_each_final_state(catalog: Catalog, now: datetime, final: JobState) -> None:
    job_id = running(catalog, now)
    assert catalog.finish_job(job_id, "host:1", final, now=now, summary={})
    assert catalog.requeue_job(job_id, now=now) is (final is not JobState.SUCCEEDED)


def test_link_job_files_is_idempotent(catalog: Catalog, now: datetime, specs: Any) -> None:
    catalog.register(specs(4100), "/d", now=now)
    first = catalog.create_job(JobKind.GET, {}, now=now)
    second = catalog.create_job(JobKind.GET, {}, now=now)
    assert catalog.link_job_files(first, [1, 2, 3]) == 3
    assert catalog.link_job_files(first, [3, 2, 4, 4]) == 1
    assert catalog.link_job_files(first, []) == 0
    assert catalog.job_file_ids(first) == [1, 2, 3, 4]
    everything = list(range(4100, 0, -1))  # more than one chunk
    assert catalog.link_job_files(second, everything) == 4100
    assert catalog.link_job_files(second, everything) == 0
    assert catalog.job_file_ids(second) == sorted(everything)
    assert catalog.job_file_ids(first) == [1, 2, 3, 4], "a second job does not take the files"
    with pytest.raises(UsageError):
        catalog.link_job_files(second + 1, [1])
    with pytest.raises(UsageError):
        catalog.link_job_files(first, [9999])


def test_list_newest_first_by_state(catalog: Catalog, now: datetime, at: At) -> None:
    ids = [catalog.create_job(JobKind.DOWNLOAD, {"n": n}, now=at(n)) for n in range(5)]
    assert catalog.start_job(ids[1], "h", now=now, lease_seconds=30)
    assert catalog.start_job(ids[3], "h", now=now, lease_seconds=30)
    assert catalog.finish_job(ids[3], "h", JobState.SUCCEEDED, now=now, summary={})
    assert [j.id for j in catalog.list_jobs()] == ids[::-1]
    assert [j.id for j in catalog.list_jobs(limit=2)] == [ids[4], ids[3]]
    assert [j.id for j in catalog.list_jobs(states=[JobState.QUEUED])] == [ids[4], ids[2], ids[0]]
    both = catalog.list_jobs(states=[JobState.RUNNING, JobState.SUCCEEDED])
    assert [(j.id, j.state) for j in both] == [
        (ids[3], JobState.SUCCEEDED),
        (ids[1], JobState.RUNNING),
    ]
    assert catalog.list_jobs(states=[]) == []
    assert [j.params for j in catalog.list_jobs(states=[JobState.QUEUED], limit=1)] == [{"n": 4}]


# --- the schema ---------------------------------------------------------------------------


def test_a_0003_catalog_with_files_upgrades(db_url: str, now: datetime, specs: Any) -> None:
    engine = create_catalog_engine(db_url)
    try:
        upgrade(engine, "0003")
        rows = [{"url": f"https://a.example/{i}", "path": f"{i}.fits"} for i in range(1, 4)]
        insert_files(engine, rows, now=now)
        with open_catalog(db_url) as catalog:
            catalog.rebuild_totals()  # the rows above went in beside the totals
            assert catalog.count_files() == 3
            assert [f.id for f in catalog.list_files()] == [1, 2, 3]
            job_id = catalog.create_job(JobKind.GET, {}, now=now)
            assert catalog.link_job_files(job_id, [1, 2, 3]) == 3
        with engine.connect() as connection:
            assert current_version(connection) == HEAD
    finally:
        engine.dispose()


def test_the_0004_migration_downgrades(db_url: str, now: datetime) -> None:
    from alembic import command

    open_catalog(db_url).close()
    engine = create_catalog_engine(db_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        with engine.connect() as connection:
            assert current_version(connection) == "0003"
    finally:
        engine.dispose()
    with open_catalog(db_url) as catalog:  # and up again
        assert catalog.create_job(JobKind.GET, {}, now=now) == 1


# --- plans (SQLite: no statistics, so the plan follows the indices) -----------------------


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = open_catalog(f"sqlite:///{tmp_path}/plans.db")
    try:
        yield catalog
    finally:
        catalog.close()


def _plans(catalog: Catalog, action: Callable[[], object]) -> list[str]:
    seen: list[tuple[str, Any]] = []

    def collect(_c: Any, _k: Any, statement: str, parameters: Any, _x: Any, _m: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
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
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            lines += [str(row[-1]) for row in plan]
    return lines


def test_recovery_and_listing_by_state_use_their_indices(
    sqlite_catalog: Catalog, now: datetime, at: At
) -> None:
    for n in range(30):
        job_id = sqlite_catalog.create_job(JobKind.WATCH_CYCLE, {}, now=now)
        if n % 3 == 0:
            sqlite_catalog.start_job(job_id, "h", now=now, lease_seconds=n)
    recover = _plans(sqlite_catalog, lambda: sqlite_catalog.recover_interrupted_jobs(now=at(10)))
    assert any("ix_jobs_lease" in line for line in recover), recover
    assert not [line for line in recover if line.startswith("SCAN")], recover
    listing = _plans(sqlite_catalog, lambda: sqlite_catalog.list_jobs(states=[JobState.QUEUED]))
    assert any("ix_jobs_state" in line for line in listing), listing
    assert not [line for line in listing if line.startswith(("SCAN", "USE TEMP"))], listing
