"""Redis restarted in the middle of a run: the workers reconnect and the job finishes.

The broker is a private ``redis-server`` on a free port that keeps nothing on disk, so
its restart loses every message: those of the tasks in flight, and the rejection of the
task whose worker child is killed during the outage. The files that child held are then
recovered only by a new message: the manager's, consumed by reconnected workers.
Real ``celery worker`` processes (two of two children), PostgreSQL, the simulator.

Without ``redis-server`` or PostgreSQL these tests skip, except under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.conftest import _wait_for
from tests.worker.celery_run import (
    check_files,
    file_states,
    follow_get,
    kill_a_busy_child,
    received,
    running_workers,
    start_manager,
    stop,
    worker_log,
)

from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

pytestmark = pytest.mark.postgres

FILES = 400
SIZE = 2048


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Redis:
    """A private ``redis-server`` that keeps nothing on disk, stopped and started at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for(self.answers, 10, "redis-server up")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        assert not self.answers()

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def broker() -> Iterator[_Redis]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed and CI=true requires it")
        pytest.skip("redis-server is not installed")
    server = _Redis(_free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimThread]:
    """400 files of 2 KiB, each answer 200 ms late: a run lasts seconds."""
    spec = ArchiveSpec.exact(FILES, SIZE, seed=17)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=0.2))
        yield running


def test_a_restarted_redis_loses_messages_and_the_job_still_finishes(
    broker: _Redis, sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    url = broker.url
    (tmp_path / "logs").mkdir()
    with running_workers(tmp_path / "logs", 2, url) as workers:
        extra = ("--messages", "2")
        follower = follow_get(tmp_path, sim, postgres_url, *extra, broker=url)
        manager = start_manager(postgres_url, url)
        try:
            downloaded = lambda: file_states(postgres_url).get("DOWNLOADED", 0)  # noqa: E731
            _wait_for(lambda: downloaded() >= 40, 30, "downloads")
            broker.kill()
            # During the outage a busy child dies: its files stay DOWNLOADING, and the
            # rejection of its message goes nowhere.
            _victim, its_files = kill_a_busy_child(postgres_url, workers)
            logs = [worker_log(w) for w in workers]
            before = sum(len(received(log)) for log in logs)
            broker.start()
            out, err = follower.communicate(timeout=60)
        finally:
            stop(manager)
            stop(follower)
        after = sum(len(received(log)) for log in logs)
        check_files(tmp_path, sim)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": FILES}}
    assert file_states(postgres_url) == {"DOWNLOADED": FILES}
    assert after > before, "no worker took a message from the restarted Redis"
    served = sim.stats.snapshot().bytes_by_path
    # Only files the killed child held (in flight, or fetched but not yet recorded) are
    # fetched again, once.
    again = {path for path, n in served.items() if n > SIZE}
    assert again <= its_files and max(served.values()) <= 2 * SIZE, again - its_files
