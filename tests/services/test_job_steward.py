"""The steward of a job run by workers: it takes the job (compare-and-set), publishes
its progress from the catalog, ends it when settled or cancelled, and a manager takes
over a job whose steward stopped publishing for a lease. SQLite catalog, injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.core.jobs import JobState
from skyhaul.core.model import Completion, FileSpec, TransferOptions
from skyhaul.services.clock import Clock
from skyhaul.services.job_steward import JobSteward, Stewards, follow_job
from skyhaul.services.queued import queue_get

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LEASE = 30.0


class _Time:
    """A wall clock and a monotonic clock that move only when told."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def clock(self) -> Clock:
        return Clock(
            now=lambda: START + timedelta(seconds=self.seconds), monotonic=lambda: self.seconds
        )


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    yield opened
    opened.close()


def _job(catalog: Catalog, files: int = 4) -> int:
    specs = [
        FileSpec(url=f"http://example.invalid/{n}", path=f"f{n}", size=100) for n in range(files)
    ]
    options = TransferOptions(lease_seconds=LEASE)
    job_id, _ = queue_get(catalog, specs, "/tmp/dest", options, params={"executor": "celery"})
    return job_id


def _download(catalog: Catalog, job_id: int, count: int, at: datetime) -> None:
    claimed = catalog.claim_batch("worker", count, now=at, lease_seconds=600, job_id=job_id)
    done = [Completion(file_id=f.id, size=100, sha256="0" * 64) for f in claimed]
    assert len(catalog.complete_many(done, "worker", now=at)) == count


def test_the_steward_publishes_progress_and_ends_the_job_when_settled(
    catalog: Catalog,
) -> None:
    time = _Time()
    job_id = _job(catalog)
    steward = JobSteward(catalog, job_id, time.clock())
    assert steward.take()
    assert not JobSteward(catalog, job_id, time.clock()).take(), "two stewards"
    assert steward.step() is JobState.RUNNING
    _download(catalog, job_id, 2, START)
    time.seconds = 2.0
    assert steward.step() is JobState.RUNNING
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.RUNNING and job.progress is not None
    assert (job.progress.files_done, job.progress.files_total) == (2, 4)
    assert (job.progress.bytes_done, job.progress.bytes_total) == (200, 400)
    assert job.progress.speed == 100.0 and job.progress.eta == 2.0
    assert job.lease_expires_at == START + timedelta(seconds=2 + LEASE)
    _download(catalog, job_id, 2, START)
    time.seconds = 3.0
    assert follow_job(steward, sleep=lambda _: None) is JobState.SUCCEEDED
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED
    assert job.summary == {"files": {"downloaded": 4}}
    assert job.progress is not None and job.progress.files_done == 4


def test_a_cancel_ends_the_job_cancelled(catalog: Catalog) -> None:
    time = _Time()
    job_id = _job(catalog)
    steward = JobSteward(catalog, job_id, time.clock())
    assert steward.take()
    assert catalog.request_job_cancel(job_id, now=START)
    assert steward.step() is JobState.CANCELLED
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.CANCELLED


def test_a_manager_takes_over_a_job_whose_steward_stopped(catalog: Catalog) -> None:
    time = _Time()
    job_id = _job(catalog)
    first = JobSteward(catalog, job_id, time.clock())
    assert first.take()
    manager = Stewards(catalog, "celery", time.clock())
    assert manager.adopt() == {}, "a live steward's job is left to it"
    time.seconds = LEASE + 1  # the first steward published nothing for a lease
    assert list(manager.adopt()) == [job_id]
    job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.RUNNING and job.owner == manager.owner
    assert first.step() is JobState.INTERRUPTED, "the old steward lets go"
    _download(catalog, job_id, 4, START)
    assert manager.step() == {job_id: JobState.SUCCEEDED}


def test_a_manager_adopts_a_detached_job_but_not_other_executors(catalog: Catalog) -> None:
    time = _Time()
    job_id = _job(catalog)
    assert Stewards(catalog, "elsewhere", time.clock()).adopt() == {}
    assert list(Stewards(catalog, "celery", time.clock()).adopt()) == [job_id]
