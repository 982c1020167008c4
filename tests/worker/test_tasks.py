"""Celery workers over Redis download one job together: real ``celery worker`` processes,
real Redis (db 9), a fresh PostgreSQL schema per test, the simulator. The follower is the
job's steward: the job shows RUNNING with progress, then SUCCEEDED, like any job.

Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import _wait_for
from tests.worker.celery_run import (
    BROKER,
    check_files,
    file_states,
    follow_get,
    job,
    needs_redis,
    running_workers,
    shares,
    start_manager,
    stop,
    worker_log,
)

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobState
from skyhaul.services.job_view import job_document
from skyhaul.services.live_jobs import LiveJobs
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.worker.app import make_app, publish_download

pytestmark = pytest.mark.postgres

#: The issue's number of files for three workers.
MANY = 3000
SIZE = 2048


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three workers of two children each on the ``downloads`` queue, ready."""
    needs_redis()
    with running_workers(tmp_path_factory.mktemp("workers"), 3) as started:
        yield started


@contextmanager
def _sim(tmp_path: Path, files: int, latency: float) -> Iterator[SimThread]:
    spec = ArchiveSpec.exact(files, SIZE, seed=17)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=latency))
        yield running


def _viewed(postgres_url: str) -> dict[str, object] | None:
    """Job 1 as the web API shows it (None: not created yet)."""
    catalog = open_catalog(postgres_url, create=False)
    try:
        return job_document(catalog, LiveJobs(), 1)
    finally:
        catalog.close()


def test_three_workers_download_3000_files_once_and_the_job_shows_its_progress(
    workers: list[subprocess.Popen[bytes]], tmp_path: Path, postgres_url: str
) -> None:
    with _sim(tmp_path, MANY, 0.0) as sim:
        follower = follow_get(tmp_path, sim, postgres_url, "--messages", "3")
        try:
            # While it runs, the web view shows it RUNNING with progress its steward
            # published from the catalog.
            seen: list[dict[str, object]] = []

            def running_with_progress() -> bool:
                document = _viewed(postgres_url)
                progress = None if document is None else document.get("progress")
                if (
                    document is not None
                    and document["state"] == "running"
                    and isinstance(progress, dict)
                ):
                    seen.append(document)
                    return 0 < progress["files_done"] < MANY
                return False

            _wait_for(running_with_progress, 60, "the job running with progress")
            # A duplicate while the workers run finds every file claimed or done.
            publish_download(make_app(BROKER), 1, postgres_url, copies=2)
            out, err = follower.communicate(timeout=90)
        finally:
            stop(follower)
        served = sim.stats.snapshot().bytes_by_path
        check_files(tmp_path, sim)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": MANY}}
    progress = JobProgress.from_json(seen[-1]["progress"])  # type: ignore[arg-type]
    assert progress.files_total == MANY and progress.bytes_total == MANY * SIZE
    assert 0 < progress.bytes_done < MANY * SIZE
    assert len(served) == MANY and set(served.values()) == {SIZE}, "a file fetched twice"
    record = job(postgres_url)
    assert record.state is JobState.SUCCEEDED
    assert record.progress is not None and record.progress.files_done == MANY
    assert record.summary == {"files": {"downloaded": MANY}}

    # The workers shared the job (three messages, two children each): the counts they
    # logged add up to every file, from more than one worker.
    # A task logs its count after its last file settles: the job may end first.
    def counted() -> list[list[int]]:
        return [shares(worker_log(worker)) for worker in workers]

    _wait_for(lambda: sum(map(sum, counted())) >= MANY, 30, "every task's count logged")
    assert sum(map(sum, counted())) == MANY
    assert sum(1 for share in counted() if sum(share)) >= 2, counted()


def test_a_killed_worker_leaves_the_job_to_the_others(
    workers: list[subprocess.Popen[bytes]], tmp_path: Path, postgres_url: str
) -> None:
    with _sim(tmp_path, 600, 0.02) as sim:
        follower = follow_get(tmp_path, sim, postgres_url, "--messages", "3", "--lease", "2s")
        manager = start_manager(postgres_url)
        try:
            downloaded = lambda: file_states(postgres_url).get("DOWNLOADED", 0)  # noqa: E731
            _wait_for(lambda: downloaded() >= 100, 30, "downloads")
            os.killpg(workers[0].pid, signal.SIGKILL)
            workers[0].wait(10)
            out, err = follower.communicate(timeout=60)
        finally:
            stop(manager)
            stop(follower)
        check_files(tmp_path, sim)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": 600}}
    assert file_states(postgres_url) == {"DOWNLOADED": 600}
