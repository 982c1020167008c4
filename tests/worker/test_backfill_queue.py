"""Celery workers fetch one backfill's days together: real ``celery worker`` processes on
the ``backfill`` queue, real Redis (db 7 for this module), a fresh PostgreSQL schema per
test, the simulator's records API.

Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import _wait_for
from tests.worker.celery_run import env, needs_redis, running_workers

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.backfill import DayStatus
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.records_config import RecordsConfig
from skyhaul.worker.app import make_app
from skyhaul.worker.backfill_tasks import publish_backfill

pytestmark = pytest.mark.postgres

BROKER = "redis://127.0.0.1:6379/7"
FIRST, LAST = date(2024, 1, 1), date(2024, 1, 10)
DAYS = 10
CHUNKS = 12  # a day of 2 h chunks: requests per day
RECORDS = RecordsConfig(sensors=2, cadence=60.0)
TOKEN = "tok-backq-7"


def _env() -> dict[str, str]:
    # A dead worker's message comes back in seconds (and a live one's is duplicated).
    return env(BROKER, extra={"REACH_TOKEN": TOKEN})


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two workers of one child each on the ``backfill`` queue, ready."""
    needs_redis(BROKER)
    logs = tmp_path_factory.mktemp("workers")
    with running_workers(
        logs, 2, BROKER, concurrency=1, queues="backfill", environment=_env()
    ) as started:
        yield started


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimThread]:
    root = tmp_path_factory.mktemp("sim")
    with SimThread(SimConfig(archive=ArchiveSpec.exact(1, 1024, seed=3), root=root)) as running:
        yield running


def _config(tmp_path: Path, sim: SimThread, latency: float) -> Path:
    """The records source, 4 requests in flight; each answer ``latency`` s late."""
    sim.set_faults(
        replace(FaultConfig(), records=replace(RECORDS, token=TOKEN), latency=latency,
                faults_on_api=True)
    )  # fmt: skip
    path = tmp_path / "skyhaul.toml"
    path.write_text(
        f"""
[sources.reach]
type = "records-api"
url = "{sim.base_url}api/records"
query = "?sensor={{sensor}}&obTime={{start}}..{{end}}"
params = {{ sensor = "ALL" }}
chunk = "2h"
concurrency = 4
expected_per_day = "2 * 2 * 1440"
token_env = "REACH_TOKEN"
"""
    )
    return path


def _backfill(config: Path, catalog: str, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "skyhaul.cli.app", "backfill", "--config", str(config)]
    command += ["--source", "reach", "--start-date", FIRST.isoformat()]
    command += ["--end-date", LAST.isoformat(), "--catalog", catalog, "-d", str(out), "--json"]
    return [*command, *extra]


@pytest.fixture(scope="module")
def reference(
    sim: SimThread, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, bytes]:
    """The artifacts of the same backfill run in one process (SQLite catalog), run while
    the workers start."""
    needs_redis(BROKER)
    tmp_path = tmp_path_factory.mktemp("reference")
    config = _config(tmp_path, sim, latency=0.0)
    out = tmp_path / "days"
    process = subprocess.Popen(
        _backfill(config, f"sqlite:///{tmp_path / 'ref.db'}", out),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        request.getfixturevalue("workers")
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["downloaded"] == DAYS
    return _artifacts(out)


def _artifacts(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("reach_*.csv"))}


def _rows(url: str) -> list[tuple[date, DayStatus]]:
    catalog = open_catalog(url, create=False)
    try:
        return [(r.day, r.status) for r in catalog.day_runs("reach")]
    finally:
        catalog.close()


def _days_done(url: str) -> int:
    return sum(1 for _, status in _rows(url) if status is DayStatus.DOWNLOADED)


def _worker_days(workers: list[subprocess.Popen[bytes]]) -> list[list[str]]:
    """The days each worker logged as downloaded by it."""
    pattern = re.compile(r"days downloaded here \(([^)]*)\)")
    found = []
    for worker in workers:
        log = Path(str(worker.args[-1]).split("=", 1)[1])  # type: ignore[index]
        found.append(
            [
                d
                for m in pattern.finditer(log.read_text())
                for d in m.group(1).split()
                if d != "none"
            ]
        )
    return found


def _children(worker: subprocess.Popen[bytes]) -> list[str]:
    return Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()


def _held_by(url: str, children: list[str]) -> date | None:
    """The day one of the processes ``children`` holds (owners are ``host:pid:random``)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            held = connection.execute(
                text("SELECT day, owner FROM day_claims WHERE owner IS NOT NULL AND NOT done")
            ).all()
    finally:
        engine.dispose()
    return next((day for day, owner in held if owner.split(":")[1] in children), None)


def test_two_workers_fetch_every_day_once_with_a_duplicate_message(
    reference: dict[str, bytes],
    workers: list[subprocess.Popen[bytes]],
    sim: SimThread,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    config = _config(tmp_path, sim, latency=0.05)
    before = sim.stats.snapshot().records_requests
    open_catalog(postgres_url).close()  # created before anyone polls it
    out = tmp_path / "days"
    follower = subprocess.Popen(
        _backfill(config, postgres_url, out, "--executor", "celery", "--messages", "2"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: _days_done(postgres_url) >= 2, 30, "two days done")
    # A duplicate while the workers run finds every day claimed or done.
    publish_backfill(make_app(BROKER), 1, postgres_url, copies=2)
    stdout, stderr = follower.communicate(timeout=60)
    assert follower.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["job"], summary["downloaded"], summary["failed"]) == (1, DAYS, 0)
    assert summary["requests"] == DAYS * CHUNKS
    # Every day fetched exactly once: one PENDING and one DOWNLOADED row each, and the
    # simulator answered one day's requests per day.
    assert Counter(_rows(postgres_url)) == {
        (day, status): 1
        for day in (date(2024, 1, d) for d in range(1, DAYS + 1))
        for status in (DayStatus.PENDING, DayStatus.DOWNLOADED)
    }
    assert sim.stats.snapshot().records_requests - before == DAYS * CHUNKS
    assert _artifacts(out) == reference and len(reference) == DAYS
    shares = _worker_days(workers)
    assert sorted(d for share in shares for d in share) == sorted(
        f"2024-01-{d:02d}" for d in range(1, DAYS + 1)
    )
    assert all(shares), f"both workers took days: {shares}"


def test_a_killed_workers_day_is_taken_over_after_its_lease(
    reference: dict[str, bytes],
    workers: list[subprocess.Popen[bytes]],
    sim: SimThread,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    config = _config(tmp_path, sim, latency=0.1)
    open_catalog(postgres_url).close()
    out = tmp_path / "days"
    follower = subprocess.Popen(
        _backfill(config, postgres_url, out, "--executor", "celery", "--messages", "2",
                  "--lease", "4s"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    manager = subprocess.Popen(
        [sys.executable, "-m", "skyhaul.cli.app", "manager", "--catalog", postgres_url,
         "--interval", "1"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for(lambda: _days_done(postgres_url) >= 3, 40, "three days done")
        # Kill the first worker while it holds a day (its child fetches it).
        children = _children(workers[0])
        _wait_for(lambda: _held_by(postgres_url, children) is not None, 20, "a day held")
        held_before = _held_by(postgres_url, children)
        os.killpg(workers[0].pid, signal.SIGKILL)
        # Its lease outlives it by 4 s; the day it held may have changed just before.
        held = {held_before, _held_by(postgres_url, children)} - {None}
        workers[0].wait(10)
        stdout, stderr = follower.communicate(timeout=60)
    finally:
        os.killpg(manager.pid, signal.SIGKILL)
        manager.wait(10)
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["downloaded"], summary["failed"]) == (DAYS, 0)
    rows = Counter(_rows(postgres_url))
    assert all(rows[(day, DayStatus.DOWNLOADED)] == 1 for day, _ in rows), rows
    assert len({day for day, _ in rows}) == DAYS
    # Only the day in flight when the worker died was started twice.
    started_twice = [
        day for (day, status), n in rows.items() if status is DayStatus.PENDING and n > 1
    ]
    assert len(started_twice) <= 1 and set(started_twice) <= held, (rows, held)
    assert max(rows.values()) <= 2, rows
    assert _artifacts(out) == reference and len(reference) == DAYS
