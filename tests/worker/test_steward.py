"""The steward of a job run by Celery workers: a cancel stops the workers, and a steward
that dies is replaced by the manager. Real ``celery worker`` processes (three of two
children), real Redis (db 9), PostgreSQL, the simulator.

Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.conftest import _wait_for
from tests.worker.celery_run import (
    check_files,
    file_states,
    follow_get,
    job,
    needs_redis,
    running_workers,
    start_manager,
    stop,
)

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobState
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

#: This module's Redis database (each worker module has its own: they may run at once).
BROKER = "redis://127.0.0.1:6379/6"

pytestmark = pytest.mark.postgres

FILES = 400
SIZE = 2048


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three workers of two children each on the ``downloads`` queue, ready."""
    needs_redis(BROKER)
    with running_workers(tmp_path_factory.mktemp("workers"), 3, BROKER) as started:
        yield started


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimThread]:
    """400 files of 2 KiB, each answer 200 ms late: a run lasts seconds."""
    spec = ArchiveSpec.exact(FILES, SIZE, seed=17)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=0.2))
        yield running


def _downloaded(postgres_url: str) -> int:
    return file_states(postgres_url).get("DOWNLOADED", 0)


def test_cancelling_a_celery_job_stops_its_workers_and_leaves_it_resumable(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    sim.set_faults(FaultConfig(latency=0.4))  # 14 s: the cancel comes early enough
    follower = follow_get(tmp_path, sim, postgres_url, "--messages", "3", broker=BROKER)
    try:
        _wait_for(lambda: _downloaded(postgres_url) >= 20, 30, "downloads")
        # What ``skyhaul jobs cancel 1`` and the web page's button do.
        with open_catalog(postgres_url, create=False) as catalog:
            assert catalog.request_job_cancel(1, now=datetime.now(UTC))
        _out, err = follower.communicate(timeout=30)
    finally:
        stop(follower)
    assert follower.returncode == 1, err
    assert job(postgres_url).state is JobState.CANCELLED
    # The workers stop within about a second: no file stays in flight, none is fetched.
    _wait_for(lambda: "DOWNLOADING" not in file_states(postgres_url), 10, "files released")
    stopped = sim.stats.snapshot().requests
    states = file_states(postgres_url)
    assert set(states) == {"DOWNLOADED", "DISCOVERED"}, states
    assert states["DISCOVERED"] >= FILES // 4, "cancelled too late to tell"
    with pytest.raises(AssertionError):  # nothing more is asked of the server
        _wait_for(lambda: sim.stats.snapshot().requests > stopped, 2, "a request")
    # Resumable: queued again, the job is adopted by the manager and finished.
    sim.set_faults(FaultConfig())
    with open_catalog(postgres_url, create=False) as catalog:
        assert catalog.requeue_job(1, now=datetime.now(UTC))
    manager = start_manager(postgres_url, BROKER)
    try:
        _wait_for(lambda: job(postgres_url).state is JobState.SUCCEEDED, 60, "the job resumed")
    finally:
        stop(manager)
    assert file_states(postgres_url) == {"DOWNLOADED": FILES}
    check_files(tmp_path, sim)


def test_a_dead_steward_is_replaced_by_the_manager(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    follower = follow_get(tmp_path, sim, postgres_url, "--messages", "3", broker=BROKER)
    manager = None
    try:
        _wait_for(lambda: _downloaded(postgres_url) >= 40, 30, "downloads")
        first = job(postgres_url)
        assert first.state is JobState.RUNNING and first.owner is not None
        assert first.owner.split(":")[1] == str(follower.pid)
        os.killpg(follower.pid, signal.SIGKILL)
        follower.communicate(timeout=10)
        manager = start_manager(postgres_url, BROKER)

        # Its owner changes (the job may even end in the manager's first step).
        _wait_for(lambda: job(postgres_url).owner != first.owner, 30, "the job taken over")
        owner = job(postgres_url).owner
        assert owner is not None and owner.split(":")[1] == str(manager.pid)
        _wait_for(lambda: job(postgres_url).state is JobState.SUCCEEDED, 60, "the job ending")
    finally:
        stop(follower)
        if manager is not None:
            stop(manager)
    record = job(postgres_url)
    assert record.progress is not None and record.progress.files_done == FILES
    assert file_states(postgres_url) == {"DOWNLOADED": FILES}
    check_files(tmp_path, sim)
