"""What the worker tests share: real ``celery worker`` processes on a Redis broker, a
``get --executor celery`` follower, a manager, and reads of the catalog and simulator.

Without Redis or PostgreSQL the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from tests.conftest import _wait_for

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobRecord
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection
from skyhaul.sim import SimThread

#: The Redis database of these tests.
BROKER = "redis://127.0.0.1:6379/9"
#: Seconds before Redis gives an unacknowledged message to another worker.
VISIBILITY = 3
_SRC = str(Path(__file__).resolve().parents[2] / "src")


def needs_redis(broker: str = BROKER) -> None:
    """Empty ``broker``'s database; skip (fail under ``CI=true``) when it is unreachable."""
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        message = f"Redis not reachable at {broker} ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)


def env(
    broker: str = BROKER, *, visibility: float = VISIBILITY, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of the processes these tests start (``extra`` added)."""
    return {
        **os.environ,
        "PYTHONPATH": _SRC,
        "SKYHAUL_BROKER": broker,
        # A dead worker's message comes back in seconds, not hours.
        "SKYHAUL_VISIBILITY_TIMEOUT": str(visibility),
        **(extra or {}),
    }


def start_worker(
    log: Path,
    broker: str = BROKER,
    *,
    concurrency: int = 2,
    queues: str = "downloads",
    environment: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A ``celery worker`` of ``concurrency`` prefork children on ``queues``, logging to
    ``log``, in ``environment`` (default: :func:`env` of ``broker``)."""
    command = [sys.executable, "-m", "celery", "-A", "skyhaul.worker.app:app", "worker"]
    command += ["-P", "prefork", "-c", str(concurrency), "--without-mingle", "--without-gossip"]
    command += ["-Q", queues, "-l", "INFO", f"--logfile={log}"]
    log.touch()
    return subprocess.Popen(
        command,
        env=environment or env(broker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def worker_log(worker: subprocess.Popen[bytes]) -> Path:
    """Where ``worker`` logs."""
    return Path(str(worker.args[-1]).split("=", 1)[1])  # type: ignore[index]


@contextmanager
def running_workers(
    logs: Path,
    count: int,
    broker: str = BROKER,
    *,
    concurrency: int = 2,
    queues: str = "downloads",
    environment: dict[str, str] | None = None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` workers (as :func:`start_worker` starts them), ready; killed (whole
    process groups) on the way out."""
    started = [
        start_worker(
            logs / f"w{i}.log", broker, concurrency=concurrency, queues=queues,
            environment=environment,
        )
        for i in range(count)
    ]  # fmt: skip
    try:
        for i, worker in enumerate(started):
            log = worker_log(worker)
            _wait_for(lambda log=log: b"ready." in log.read_bytes(), 60, f"worker {i} ready")
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def shares(log: Path) -> list[int]:
    """The files each task of a worker downloaded, from its log."""
    pattern = re.compile(r"job \d+: (\d+) downloaded")
    return [int(m.group(1)) for m in pattern.finditer(log.read_text())]


def received(log: Path) -> list[str]:
    """The task ids a worker received, in order (a redelivered one appears again)."""
    return re.findall(r"Task skyhaul\.download_work\[([0-9a-f-]+)\] received", log.read_text())


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields follow it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return sorted(found)


def manifest(path: Path, sim: SimThread) -> Path:
    """The simulator's files as a manifest."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in sim.files:
            writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
    return path


def follow_get(
    tmp_path: Path, sim: SimThread, catalog: str, *extra: str, broker: str = BROKER
) -> subprocess.Popen[str]:
    """``get --executor celery`` over the simulator's files, its output captured."""
    listed = manifest(tmp_path / "manifest.csv", sim)
    open_catalog(catalog).close()  # created before anyone polls it
    command = [sys.executable, "-m", "skyhaul.cli.app", "get", "-i", str(listed)]
    command += ["-d", str(tmp_path / "files"), "--catalog", catalog, "-j", "4", "--json"]
    command += ["--executor", "celery", *extra]
    return subprocess.Popen(
        command,
        env=env(broker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def start_manager(catalog: str, broker: str = BROKER) -> subprocess.Popen[bytes]:
    """``skyhaul manager --interval 1``."""
    command = [sys.executable, "-m", "skyhaul.cli.app", "manager", "--catalog", catalog]
    return subprocess.Popen(
        [*command, "--interval", "1"],
        env=env(broker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Kill ``process``'s group if it still runs, and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)


def file_states(catalog_url: str, job_id: int = 1) -> dict[str, int]:
    """How many of the job's files are in each state."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        return {state.value: n for state, n in catalog.job_file_states(job_id).items()}
    finally:
        catalog.close()


def job(catalog_url: str, job_id: int = 1) -> JobRecord:
    """The job's record."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        record = catalog.get_job(job_id)
    finally:
        catalog.close()
    assert record is not None
    return record


def held(catalog_url: str) -> dict[str, int]:
    """The files in flight: the pid of the process holding each, by path."""
    catalog = open_catalog(catalog_url, create=False)
    try:
        rows = catalog.list_files(Selection(states={FileState.DOWNLOADING}), job_id=1, limit=10_000)
    finally:
        catalog.close()
    return {f.path: int(f.lease_owner.split(":")[1]) for f in rows if f.lease_owner}


def kill_a_busy_child(
    catalog_url: str, workers: list[subprocess.Popen[bytes]]
) -> tuple[int, set[str]]:
    """SIGKILL a worker child that holds files (not its worker); return its pid and the
    files it held."""
    kids = {kid for worker in workers for kid in children(worker.pid)}
    busy: list[int] = []

    def found() -> bool:
        busy[:] = sorted(set(held(catalog_url).values()) & kids)
        return bool(busy)

    _wait_for(found, 20, "a worker child holding files")
    os.kill(busy[0], signal.SIGKILL)
    return busy[0], {path for path, pid in held(catalog_url).items() if pid == busy[0]}


def check_files(tmp_path: Path, sim: SimThread) -> None:
    """Every file is on disk with its checksum."""
    for f in sim.files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
