"""Celery workers over Redis download one job together: real ``celery worker`` processes,
real Redis (db 11 for this module), a fresh PostgreSQL schema per test, the simulator.

Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.conftest import _wait_for

from skyhaul.adapters.catalog import open_catalog
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.worker.app import make_app, publish_download

pytestmark = pytest.mark.postgres

BROKER = "redis://127.0.0.1:6379/11"
FILES = 600


def _needs_redis() -> None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        message = f"Redis not reachable at {BROKER} ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {
        **os.environ,
        "PYTHONPATH": src,
        "SKYHAUL_BROKER": BROKER,
        # A dead worker's message comes back in seconds, not hours.
        "SKYHAUL_VISIBILITY_TIMEOUT": "3",
    }


def _start_worker(log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "skyhaul.worker.app:app", "worker"]
    command += ["-P", "prefork", "-c", "2", "--without-mingle", "--without-gossip"]
    command += ["-Q", "downloads", "-l", "INFO", f"--logfile={log}"]
    log.touch()
    return subprocess.Popen(
        command,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _shares(log: Path) -> list[int]:
    """The files each task of a worker downloaded, from its log."""
    pattern = re.compile(r"job \d+: (\d+) downloaded")
    return [int(m.group(1)) for m in pattern.finditer(log.read_text())]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three workers of two children each on the ``downloads`` queue, ready."""
    _needs_redis()
    logs = tmp_path_factory.mktemp("workers")
    started = [_start_worker(logs / f"w{i}.log") for i in range(3)]
    try:
        for i in range(3):
            log = logs / f"w{i}.log"
            _wait_for(lambda log=log: b"ready." in log.read_bytes(), 30, f"worker {i} ready")
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimThread]:
    """600 files of 2 KiB, each answer 20 ms late: a run lasts long enough to interfere."""
    spec = ArchiveSpec.exact(FILES, 2048, seed=17)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=0.02))
        yield running


def _manifest(path: Path, sim: SimThread) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in sim.files:
            writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
    return path


def _get(tmp_path: Path, sim: SimThread, catalog: str, *extra: str) -> subprocess.Popen[str]:
    manifest = _manifest(tmp_path / "manifest.csv", sim)
    open_catalog(catalog).close()  # created before anyone polls it
    command = [sys.executable, "-m", "skyhaul.cli.app", "get", "-i", str(manifest)]
    command += ["-d", str(tmp_path / "files"), "--catalog", catalog, "-j", "4", "--json"]
    command += ["--executor", "celery", "--messages", "3", *extra]
    return subprocess.Popen(
        command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _downloaded(catalog_url: str) -> dict[str, int]:
    catalog = open_catalog(catalog_url, create=False)
    try:
        return {state.value: n for state, n in catalog.job_file_states(1).items()}
    finally:
        catalog.close()


def _check_files(tmp_path: Path, sim: SimThread) -> None:
    for f in sim.files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256


def test_three_workers_download_every_file_once_despite_a_duplicate_message(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    follower = _get(tmp_path, sim, postgres_url)
    _wait_for(lambda: _downloaded(postgres_url).get("DOWNLOADED", 0) >= 50, 30, "downloads")
    # A duplicate while the workers run finds every file claimed or done.
    publish_download(make_app(BROKER), 1, postgres_url, copies=2)
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": FILES}}
    served = sim.stats.snapshot().bytes_by_path
    assert len(served) == FILES and set(served.values()) == {2048}, "a file fetched twice"
    _check_files(tmp_path, sim)
    catalog = open_catalog(postgres_url, create=False)
    try:
        job = catalog.get_job(1)
    finally:
        catalog.close()
    assert job is not None and job.state.value == "succeeded"
    # The workers shared the job (three messages, two children each): the counts they
    # logged add up to every file, from more than one worker.
    shares = [_shares(Path(str(worker.args[-1]).split("=", 1)[1])) for worker in workers]
    assert sum(map(sum, shares)) == FILES
    assert sum(1 for share in shares if sum(share)) >= 2, shares


def test_a_killed_worker_leaves_the_job_to_the_others(
    workers: list[subprocess.Popen[bytes]], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    follower = _get(tmp_path, sim, postgres_url, "--lease", "2s")
    command = [sys.executable, "-m", "skyhaul.cli.app", "manager"]
    manager = subprocess.Popen(
        [*command, "--catalog", postgres_url, "--interval", "1"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _downloaded(postgres_url).get("DOWNLOADED", 0) >= 100, 30, "downloads")
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        out, err = follower.communicate(timeout=60)
    finally:
        os.killpg(manager.pid, signal.SIGKILL)
        manager.wait(10)
    assert follower.returncode == 0, err
    assert json.loads(out) == {"job": 1, "files": {"downloaded": FILES}}
    assert _downloaded(postgres_url) == {"DOWNLOADED": FILES}
    _check_files(tmp_path, sim)
