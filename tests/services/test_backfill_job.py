"""A backfill as a job, against the simulator's records API: its parameters, its progress
as another catalog connection reads it, how it ends, a cancel from the jobs table, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.backfill import DayStatus
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.errors import InterruptedRun, UsageError
from skyhaul.services.backfill import BackfillRequest
from skyhaul.services.backfill_job import prepare_backfill, resume_backfill
from skyhaul.sim.thread import SimThread

from .conftest import RECORDS, set_records, settings_for

D1 = date(2024, 1, 1)
D3 = D1 + timedelta(days=2)
DEADLINE_S = 30.0
#: Publishes ten times a second, so that a test sees progress without days that take seconds.
PUBLISH_EVERY_S = 0.1


@pytest.fixture
def reader(tmp_path: Path, catalog: Catalog) -> Iterator[Catalog]:
    """A second connection to the test's catalog, as another process would hold it."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}") as other:
        yield other


def request_for(out: Path, **options: object) -> BackfillRequest:
    request = BackfillRequest(first=D1, last=D3, output_dir=out.resolve())
    return replace(request, **options)  # type: ignore[arg-type]


def job_of(catalog: Catalog, job_id: int) -> JobRecord:
    record = catalog.get_job(job_id)
    assert record is not None
    return record


async def poll(condition: Callable[[], bool], what: str) -> None:
    """Await until ``condition()`` holds (it runs off the loop: it reads the catalog)."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not await asyncio.to_thread(condition):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_backfill_job_records_its_params_and_ends_succeeded_with_its_summary(
    records_sim: SimThread, catalog: Catalog, reader: Catalog, tmp_path: Path
) -> None:
    config = tmp_path / "skyhaul.toml"
    request = request_for(tmp_path / "out", limit_days=2, output_format="json")
    job = prepare_backfill(catalog, settings_for(records_sim), request, config=config)
    queued = job_of(reader, job.job_id)
    assert (queued.kind, queued.state) == (JobKind.BACKFILL, JobState.QUEUED)
    assert queued.params == {
        "source": "reach",
        "config": str(config.resolve()),
        "first": "2024-01-01",
        "last": "2024-01-03",
        "retry_failed": False,
        "limit_days": 2,
        "output_dir": str((tmp_path / "out").resolve()),
        "format": "json",
    }
    summary = await job.run(catalog, cancel=asyncio.Event())
    assert (summary.downloaded, summary.job_id) == (2, job.job_id)
    ended = job_of(reader, job.job_id)
    assert ended.state is JobState.SUCCEEDED
    assert ended.summary == summary.as_json() and ended.summary["job"] == job.job_id
    progress = ended.progress
    assert progress is not None
    assert (progress.files_done, progress.files_total, progress.files_failed) == (2, 2, 0)
    assert progress.bytes_done == sum(r.size or 0 for r in summary.outcomes) > 0
    assert progress.bytes_total is None and progress.speed > 0
    assert (progress.eta, progress.in_flight) == (0.0, ())


async def test_progress_is_published_while_the_days_are_fetched(
    records_sim: SimThread, catalog: Catalog, reader: Catalog, tmp_path: Path
) -> None:
    # Each answer 0.2 s late: a day of 24 chunks (rounds of at most 8) is in flight over
    # several publishes, one every 0.1 s.
    records_sim.set_faults(replace(records_sim.faults, latency=0.2, faults_on_api=True))
    job = prepare_backfill(
        catalog, settings_for(records_sim), request_for(tmp_path / "out"), config=None
    )
    running = asyncio.ensure_future(
        job.run(catalog, cancel=asyncio.Event(), publish_every=PUBLISH_EVERY_S)
    )
    seen: list[JobProgress] = []

    def day_two_in_flight() -> bool:
        progress = job_of(reader, job.job_id).progress
        if progress is not None:
            seen.append(progress)
        if progress is None or progress.files_done != 1 or not progress.in_flight:
            return False
        return progress.in_flight[0].bytes_done > 0

    await poll(day_two_in_flight, "progress with day 2 in flight, some of it received")
    progress = seen[-1]
    (day,) = progress.in_flight
    assert (day.name, day.source, day.bytes_total) == ("reach_2024-01-02.csv", "http", None)
    assert day.bytes_done > 0 and day.speed > 0, "the answers received for the day so far"
    assert progress.files_total == 3 and progress.bytes_done > 0 and progress.eta is not None
    assert job_of(reader, job.job_id).state is JobState.RUNNING
    await asyncio.wait_for(running, DEADLINE_S)
    assert job_of(reader, job.job_id).state is JobState.SUCCEEDED


async def test_a_failed_day_ends_the_job_failed(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    set_records(records_sim, replace(RECORDS, malformed_days=(D1 + timedelta(days=1),)))
    job = prepare_backfill(
        catalog, settings_for(records_sim), request_for(tmp_path / "out"), config=None
    )
    summary = await job.run(catalog, cancel=asyncio.Event())
    assert (summary.downloaded, summary.failed) == (2, 1)
    ended = job_of(catalog, job.job_id)
    assert ended.state is JobState.FAILED
    assert ended.summary is not None and ended.summary["failures"][0]["day"] == "2024-01-02"
    assert ended.progress is not None
    assert (ended.progress.files_done, ended.progress.files_failed) == (2, 1)


async def test_a_cancel_in_the_jobs_table_stops_it_and_the_day_stays_pending(
    records_sim: SimThread, catalog: Catalog, reader: Catalog, tmp_path: Path
) -> None:
    set_records(records_sim, replace(RECORDS, rate=6.0, burst=0))  # 4 s a day
    out = tmp_path / "out"
    job = prepare_backfill(catalog, settings_for(records_sim), request_for(out), config=None)
    cancel = asyncio.Event()
    running = asyncio.ensure_future(job.run(catalog, cancel=cancel))
    await poll(lambda: job_of(reader, job.job_id).state is JobState.RUNNING, "the job to run")
    asked = datetime.now(UTC)
    assert reader.request_job_cancel(job.job_id, now=asked)
    began = asyncio.get_running_loop().time()
    with pytest.raises(InterruptedRun):
        await asyncio.wait_for(running, DEADLINE_S)
    assert asyncio.get_running_loop().time() - began < 2.0
    assert cancel.is_set(), "the run's own cancel event, as Ctrl-C sets it"
    ended = job_of(reader, job.job_id)
    assert ended.state is JobState.CANCELLED
    assert ended.summary is not None and ended.summary["downloaded"] == 0
    assert catalog.latest_day_runs("reach", D1, D3)[D1].status is DayStatus.PENDING
    assert not list(out.glob("reach_*"))


async def test_resume_runs_the_job_again_from_its_parameters(
    records_sim: SimThread, catalog: Catalog, tmp_path: Path
) -> None:
    config = tmp_path / "skyhaul.toml"
    config.write_text(
        f"""
[sources.reach]
type = "records-api"
url = "{records_sim.base_url}api/records"
query = "?sensor={{sensor}}&obTime={{start}}..{{end}}"
params = {{ sensor = "ALL" }}
chunk = "1h"
expected_per_day = "2 * 2 * 1440"
"""
    )
    request = request_for(tmp_path / "out", retry_failed=True, output_format="json")
    first = prepare_backfill(catalog, settings_for(records_sim), request, config=config)
    cancel = asyncio.Event()
    cancel.set()  # as if Ctrl-C came before the first day
    with pytest.raises(InterruptedRun):
        await first.run(catalog, cancel=cancel)
    assert job_of(catalog, first.job_id).state is JobState.CANCELLED

    assert catalog.requeue_job(first.job_id, now=datetime.now(UTC))
    again = resume_backfill(catalog, first.job_id)
    assert again.job_id == first.job_id and again.request == request
    assert (again.settings.name, again.settings.url) == ("reach", settings_for(records_sim).url)
    summary = await again.run(catalog, cancel=asyncio.Event())
    assert summary.downloaded == 3
    assert job_of(catalog, first.job_id).state is JobState.SUCCEEDED


def test_resume_refuses_what_is_not_a_backfill(catalog: Catalog) -> None:
    other = catalog.create_job(JobKind.GET, {}, now=datetime.now(UTC))
    with pytest.raises(UsageError, match="is a get job, not a backfill"):
        resume_backfill(catalog, other)
    broken = catalog.create_job(JobKind.BACKFILL, {"source": "reach"}, now=datetime.now(UTC))
    with pytest.raises(UsageError, match="do not describe a backfill"):
        resume_backfill(catalog, broken)
    with pytest.raises(UsageError, match="no job 99"):
        resume_backfill(catalog, 99)


def test_a_dry_run_is_not_a_job(records_sim: SimThread, catalog: Catalog, tmp_path: Path) -> None:
    request = request_for(tmp_path / "out", dry_run=True)
    with pytest.raises(UsageError, match="dry run"):
        prepare_backfill(catalog, settings_for(records_sim), request, config=None)
    assert catalog.list_jobs() == []
