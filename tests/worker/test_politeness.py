"""Four Celery workers share one host's politeness through Redis: real ``celery worker``
processes (db 14 as broker and shared limits), a fresh PostgreSQL schema, the simulator
rate-limited to 20 requests/s with a burst of 5 and 429s without Retry-After, as
benchmark (d) is for one process.

Without Redis or PostgreSQL this test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.worker.celery_run import env, needs_redis, running_workers, worker_log

from skyhaul.adapters.catalog import open_catalog
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

pytestmark = pytest.mark.postgres

BROKER = "redis://127.0.0.1:6379/14"
FILES = 300
WORKERS = 4


def _env() -> dict[str, str]:
    return env(BROKER, visibility=30)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Path]]:
    """Four workers of one child each on the ``downloads`` queue, ready; their logs."""
    needs_redis(BROKER)
    with running_workers(tmp_path, WORKERS, BROKER, concurrency=1, environment=_env()) as started:
        yield [worker_log(worker) for worker in started]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimThread]:
    """300 files of 8 KiB behind 20 requests/s, burst 5, 429 without Retry-After."""
    spec = ArchiveSpec.exact(FILES, 8192, seed=23)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(rate_limit=20, burst=5))
        yield running


def _manifest(path: Path, sim: SimThread) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in sim.files:
            writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
    return path


def test_four_workers_share_a_rate_limited_hosts_politeness(
    workers: list[Path], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    manifest = _manifest(tmp_path / "manifest.csv", sim)
    open_catalog(postgres_url).close()
    command = [sys.executable, "-m", "skyhaul.cli.app", "get", "-i", str(manifest)]
    command += ["-d", str(tmp_path / "files"), "--catalog", postgres_url, "--json"]
    command += ["-j", "16", "--max-per-host", "16", "--executor", "celery"]
    command += ["--messages", str(WORKERS)]
    began = time.monotonic()
    follower = subprocess.run(
        command, env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.monotonic() - began
    assert follower.returncode == 0, follower.stderr
    assert json.loads(follower.stdout) == {"job": 1, "files": {"downloaded": FILES}}
    for f in sim.files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
    stats = sim.stats.snapshot()
    refused = stats.rate_limited / stats.requests
    print(f"\n{WORKERS} workers: {stats.requests} requests, {refused:.1%} refused, {wall:.1f} s")
    assert refused <= 0.20, f"{stats.rate_limited} of {stats.requests} requests refused"
    # More than one worker did the job, and they left what they learned in the catalog.
    shares = [log.read_text().count(" downloaded, ") for log in workers]
    assert sum(1 for n in shares if n) >= 2, shares
    catalog = open_catalog(postgres_url, create=False)
    try:
        decisions = catalog.host_windows()
    finally:
        catalog.close()
    host = sim.files[0].url.split("/")[2]
    assert host in decisions, decisions
    decision = decisions[host]
    assert decision.reason and decision.window >= 1
    assert decision.rate is not None and decision.rate > 0, decision
