"""The observatory pipeline run by Celery workers on per-location queues (issue 17):
real ``celery worker`` processes, real Redis (db 10 for this module), a fresh PostgreSQL
schema, a manager, and the worker doing the transfers SIGKILLed in the middle of them.

Site ``obs`` (source ``obs/raw``, buffer ``obs/buf1``) is served by the ``obs`` workers,
site ``dc1`` (archive ``dc1/lta``) by the ``dc`` worker; each listens only on its own
locations' queues. Transfers are slowed (``--max-rate``) so the kill lands in one.

Without Redis or PostgreSQL this test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.conftest import _wait_for
from tests.services.observatory.conftest import assert_done_once, make_setup

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import OperationKind
from skyhaul.core.opqueues import location_queues
from skyhaul.core.paths import PART_SUFFIX

pytestmark = pytest.mark.postgres

BROKER = "redis://127.0.0.1:6379/10"
MB = 1 << 20
#: Where each worker may work: its queues' locations.
OBS = ("obs/raw", "obs/buf1")
DC = ("dc1/lta",)
_STARTED = re.compile(r"operation (\d+) (\w+) at (\S+): started")


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {
        **os.environ,
        "PYTHONPATH": src,
        "SKYHAUL_BROKER": BROKER,
        # A dead worker's message comes back in seconds (and a live one's, duplicated:
        # harmless, it finds nothing to claim).
        "SKYHAUL_VISIBILITY_TIMEOUT": "3",
    }


def _start_worker(log: Path, refs: tuple[str, ...]) -> subprocess.Popen[bytes]:
    queues = [q for ref in refs for q in location_queues(*ref.split("/"))]
    command = [sys.executable, "-m", "celery", "-A", "skyhaul.worker.app:app", "worker"]
    command += ["-P", "prefork", "-c", "1", "--without-mingle", "--without-gossip"]
    command += ["-Q", ",".join(queues), "-l", "INFO", f"--logfile={log}"]
    log.touch()
    return subprocess.Popen(
        command,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _ready(log: Path) -> None:
    _wait_for(lambda: b"ready." in log.read_bytes(), 30, f"{log.name} ready")


def _started(log: Path) -> list[tuple[int, str, str]]:
    """(operation id, kind, home location) of each operation a worker started."""
    return [(int(i), kind, ref) for i, kind, ref in _STARTED.findall(log.read_text())]


@pytest.fixture
def processes(redis_url: str) -> Iterator[list[subprocess.Popen[Any]]]:
    """Processes a test starts (each in its own session), SIGKILLed with their children
    at the end and their pipes closed; the broker's database empty at the start."""
    del redis_url  # the fixture skips (or fails under CI=true) without Redis
    redis.Redis.from_url(BROKER).flushdb()
    started: list[subprocess.Popen[Any]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)


def _outcome(follower: subprocess.Popen[str], logs: Path, timeout: float) -> tuple[str, str]:
    """The follower's output; on a timeout, fail with the tail of every worker's log."""
    try:
        return follower.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tails = [f"== {log.name}\n" + log.read_text()[-3000:] for log in sorted(logs.iterdir())]
        raise AssertionError("the run did not end:\n" + "\n".join(tails)) from None


@pytest.mark.timeout(180)  # about 50 s alone; three workers start on a loaded machine
def test_workers_on_location_queues_run_the_pipeline_through_a_killed_transfer(
    processes: list[subprocess.Popen[Any]], tmp_path: Path, postgres_url: str
) -> None:
    catalog = open_catalog(postgres_url)
    try:
        setup = make_setup(catalog, tmp_path / "obs")
        setup.write_files(3, sizes=(4 * MB, 4 * MB + 4096))
        logs = tmp_path / "logs"
        logs.mkdir()
        first, dc = logs / "obs-1.log", logs / "dc.log"
        processes += [_start_worker(first, OBS), _start_worker(dc, DC)]
        _ready(first)
        _ready(dc)
        manager = [sys.executable, "-m", "skyhaul.cli.app", "manager", "--interval", "1"]
        processes.append(
            subprocess.Popen(
                [*manager, "--catalog", postgres_url],
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        command = [sys.executable, "-m", "skyhaul.cli.app", "pipeline", "run", "--json"]
        command += ["--executor", "celery", "--catalog", postgres_url, "--retention", "0s"]
        command += ["--max-package-size", "5MB", "--lease", "3s", "--max-rate", "2MB"]
        follower = subprocess.Popen(
            command,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        processes.append(follower)
        lta = setup.directory(setup.archives[0])

        # The obs worker is sending tars to the archive: kill it (and its child) there.
        _wait_for(lambda: next(lta.rglob(f"*{PART_SUFFIX}"), None) is not None, 40, "a transfer")
        os.killpg(processes[0].pid, signal.SIGKILL)
        processes[0].wait(10)
        killed = [op for op, kind, _ in _started(first) if kind == "transfer"]
        assert killed, first.read_text()
        second = logs / "obs-2.log"
        processes.append(_start_worker(second, OBS))

        out, err = _outcome(follower, logs, 110)
        assert follower.returncode == 0, err
        summary = json.loads(out)
        assert summary["failures"] == []
        assert summary["operations"]["transfer"] == 3

        setup.assert_all_archived_and_cleaned()  # tars hashed against the catalog, sidecars
        assert_done_once(catalog)  # beyond the transfers in flight at the kill
        assert all(op.lease_owner is None for op in catalog.operations()), "left leased"
        taken_over = [
            op.id
            for op in catalog.operations(kinds=[OperationKind.TRANSFER])
            if op.error_class == ErrorClass.LEASE_EXPIRED.value
        ]
        # Taken over: the transfers the killed worker had started (and any it had claimed
        # but not yet logged as started when it died).
        assert taken_over and set(killed) & set(taken_over), (taken_over, killed)
        job = catalog.get_job(summary["job"])
        assert job is not None and job.state.value == "succeeded"
    finally:
        catalog.close()

    # Each worker ran only operations of its own locations; the second obs worker finished
    # the transfers the first was killed in.
    ran = {log.name: _started(log) for log in (first, second, dc)}
    assert {ref for _, _, ref in ran["obs-1.log"] + ran["obs-2.log"]} <= set(OBS)
    assert {ref for _, _, ref in ran["dc.log"]} == set(DC)
    assert {kind for _, kind, _ in ran["dc.log"]} == {"unpack_verify", "archive"}
    finished = {op for op, kind, _ in ran["obs-2.log"] if kind == "transfer"}
    assert set(taken_over) <= finished
