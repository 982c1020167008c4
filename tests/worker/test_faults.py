"""Faults of jobs run by Celery workers: a killed worker child, a message redelivered
while its first task still runs. Real ``celery worker``
processes (three of two children), real Redis (db 9), PostgreSQL, the simulator.

Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import _wait_for
from tests.worker.celery_run import (
    VISIBILITY,
    check_files,
    children,
    file_states,
    follow_get,
    kill_a_busy_child,
    needs_redis,
    received,
    running_workers,
    stop,
    worker_log,
)

from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

#: This module's Redis database (each worker module has its own: they may run at once).
BROKER = "redis://127.0.0.1:6379/11"

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


def test_a_killed_worker_child_leaves_its_files_to_the_others(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    follower = follow_get(tmp_path, sim, postgres_url, "--messages", "3", broker=BROKER)
    try:
        _wait_for(lambda: _downloaded(postgres_url) >= 40, 30, "downloads")
        # A child process running a task (its pid is in the lease owner of the files
        # it holds), not its worker: the worker sees it lost and rejects the message.
        victim, its_files = kill_a_busy_child(postgres_url, workers)
        out, err = follower.communicate(timeout=60)
    finally:
        stop(follower)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": FILES}}
    assert file_states(postgres_url) == {"DOWNLOADED": FILES}
    assert all(worker.poll() is None for worker in workers), "the workers live on"
    assert victim not in {kid for worker in workers for kid in children(worker.pid)}
    check_files(tmp_path, sim)
    served = sim.stats.snapshot().bytes_by_path
    assert len(served) == FILES and min(served.values()) >= SIZE
    # Only files the killed child held (in flight, or fetched but not yet recorded) are
    # fetched again, once.
    again = {path for path, n in served.items() if n > SIZE}
    assert again <= its_files and max(served.values()) <= 2 * SIZE, again - its_files


def test_a_message_redelivered_during_its_task_transfers_nothing_twice(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    # One message, one engine of 4 at a time: 400 files at 60 ms take 6 s, longer
    # than the 3 s visibility timeout, so Redis hands the message to another worker.
    sim.set_faults(FaultConfig(latency=0.06))
    logs = [worker_log(w) for w in workers]
    before = Counter(task for log in logs for task in received(log))
    follower = follow_get(tmp_path, sim, postgres_url, "--messages", "1", broker=BROKER)
    try:
        out, err = follower.communicate(timeout=60)
    finally:
        stop(follower)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": FILES}}
    after = Counter(task for log in logs for task in received(log)) - before
    assert max(after.values()) >= 2, f"no redelivery within {VISIBILITY} s: {after}"
    served = sim.stats.snapshot().bytes_by_path
    assert len(served) == FILES and set(served.values()) == {SIZE}, "a file fetched twice"
    check_files(tmp_path, sim)
