"""One queue per kind of job: ``download`` and ``mast import`` run by real ``skyhaul
worker`` processes over real Redis (db 15 for this module), on a fresh PostgreSQL schema
per test, against the simulator (its files, its MAST, and its S3 for MAST's bucket).

Workers: ``dl`` listens on ``downloads``, ``both`` on ``downloads,imports``, ``im`` on
``imports``; a worker's log counts the messages it received, so each test also shows
that a worker never takes a kind whose queue it does not listen on.

Bad executors and the precedence of the settings are in ``tests/cli/test_execution.py``.
Without Redis or PostgreSQL these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.conftest import _wait_for

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.model import FileSpec
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.sim import SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.s3_thread import S3SimThread

pytestmark = pytest.mark.postgres

BROKER = "redis://127.0.0.1:6379/15"
FILES = 100
MIRI = "jw01177-o007_t004_miri_f1280w"  # 6 products, 5 in the cloud
WORKERS = {"dl": "downloads", "both": "downloads,imports", "im": "imports"}


def _needs_redis() -> None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).flushdb()
    except redis.RedisError as error:
        message = f"Redis not reachable at {BROKER} ({error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)


def _env(**extra: str) -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYHAUL_", "AWS_"))}
    return {**env, "PYTHONPATH": src, **extra}


def _skyhaul(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyhaul.cli.app", *args]


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    """100 files of 2 KiB (and the simulator's MAST beside them)."""
    archive = ArchiveSpec.exact(FILES, 2048, seed=5)
    return SimConfig(archive=archive, root=tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="module")
def sim(sim_config: SimConfig) -> Iterator[SimThread]:
    with SimThread(sim_config) as running:
        yield running


@pytest.fixture(scope="module")
def s3(sim_config: SimConfig) -> Iterator[S3SimThread]:
    """MAST's public bucket (``stpubdata``) on the S3 simulator."""
    with S3SimThread(sim_config, bucket="skyhaul-kinds", mast_bucket="stpubdata") as running:
        yield running


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, s3: S3SimThread) -> Iterator[dict[str, Path]]:
    """The three workers, ready; their logs by name. S3 comes from their environment."""
    _needs_redis()
    logs = tmp_path_factory.mktemp("workers")
    env = _env(SKYHAUL_BROKER=BROKER, AWS_ENDPOINT_URL_S3=s3.endpoint, AWS_SKIP_SIGNATURE="true")
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, queues in WORKERS.items():
            with (logs / f"{name}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        _skyhaul("worker", "-Q", queues, "-c", "1"),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        for name in WORKERS:
            log = logs / f"{name}.log"
            _wait_for(lambda log=log: b"ready." in log.read_bytes(), 30, f"worker {name} ready")
        yield {name: logs / f"{name}.log" for name in WORKERS}
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _received(logs: dict[str, Path]) -> dict[str, int]:
    """How many messages each worker has received so far."""
    return {name: log.read_text().count("skyhaul.download_work[") for name, log in logs.items()}


def _register(catalog_url: str, sim: SimThread, root: Path, count: int = FILES) -> None:
    specs = [FileSpec(f.url, f.path, f.size, f"sha256:{f.sha256}") for f in sim.files[:count]]
    with open_catalog(catalog_url) as catalog:
        catalog.register(specs, str(root), now=SYSTEM_CLOCK.now())


def _job(catalog_url: str, job_id: int = 1) -> tuple[JobKind, JobState, dict[str, int]]:
    with open_catalog(catalog_url, create=False) as catalog:
        job = catalog.get_job(job_id)
        assert job is not None
        states = {state.value: n for state, n in catalog.job_file_states(job_id).items()}
    return job.kind, job.state, states


def test_download_by_two_workers_serves_each_file_once(
    workers: dict[str, Path], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    _register(postgres_url, sim, tmp_path / "files")
    sim.stats.reset()
    before = _received(workers)
    command = _skyhaul("download", "--catalog", postgres_url, "--json")
    command += ["--executor", "celery", "--broker", BROKER, "--messages", "2", "-j", "4"]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"job": 1, "files": {"downloaded": FILES}}
    assert _job(postgres_url) == (JobKind.DOWNLOAD, JobState.SUCCEEDED, {"DOWNLOADED": FILES})
    served = sim.stats.snapshot().bytes_by_path
    assert len(served) == FILES and set(served.values()) == {2048}, "a file fetched twice"
    for f in sim.files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256
    after = _received(workers)
    # Both downloads workers took a message; the imports-only one took none.
    assert after["dl"] > before["dl"] and after["both"] > before["both"], after
    assert after["im"] == before["im"], "an imports-only worker took downloads work"


def test_mast_import_is_downloaded_by_imports_workers_from_s3(
    workers: dict[str, Path], sim: SimThread, s3: S3SimThread, tmp_path: Path, postgres_url: str
) -> None:
    s3.stats.reset()
    before = _received(workers)
    command = _skyhaul("mast", "import", MIRI, "-d", str(tmp_path / "data"), "--json")
    command += ["--catalog", postgres_url, "--executor", "celery", "--broker", BROKER]
    # The client asks MAST; only the workers have the S3 endpoint.
    env = _env(SKYHAUL_MAST_URL=sim.mast.server_url)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["job"], summary["files"], summary["products"]) == (1, {"downloaded": 6}, 6)
    assert _job(postgres_url) == (JobKind.IMPORT, JobState.SUCCEEDED, {"DOWNLOADED": 6})
    products = sim.mast_files(sim.mast.products_of(MIRI))
    for made in products:
        (found,) = (tmp_path / "data").rglob(made.product.name.filename)
        expected = made.sha256 if made.product.name.cloud_key else made.http_sha256
        assert hashlib.sha256(found.read_bytes()).hexdigest() == expected, found
    in_cloud = sum(1 for made in products if made.product.name.cloud_key)
    assert s3.stats.snapshot().by_method.get("GET", 0) >= in_cloud == 5
    after = _received(workers)
    assert after["dl"] == before["dl"], "a downloads-only worker took import work"
    assert after["im"] + after["both"] > before["im"] + before["both"]


def test_executor_and_broker_from_skyhaul_toml_and_detach(
    workers: dict[str, Path], sim: SimThread, tmp_path: Path, postgres_url: str
) -> None:
    _register(postgres_url, sim, tmp_path / "files", count=10)
    (tmp_path / "skyhaul.toml").write_text(f'executor = "celery"\nbroker = "{BROKER}"\n')
    command = _skyhaul("download", "--catalog", postgres_url, "--detach")
    done = subprocess.run(
        command, env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    # Detached: the workers end the job themselves.
    _wait_for(lambda: _job(postgres_url)[1] is JobState.SUCCEEDED, 45, "the detached job")
    assert _job(postgres_url)[2] == {"DOWNLOADED": 10}
