"""Fixtures of the CLI tests: a real simulator, a real SQLite catalog, the real app.

Every test runs in its own temporary directory with ``SKYHAUL_CATALOG`` pointing at a
catalog there, so no test can touch a ``skyhaul.db`` elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from skyhaul.adapters.catalog import Catalog, open_catalog
from skyhaul.cli.app import app
from skyhaul.core.jobs import JobRecord, JobState
from skyhaul.sim import FaultConfig, SimConfig, SimThread, profile


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One materialised copy of the ``small`` archive for every test."""
    return tmp_path_factory.mktemp("sim-cache")


@pytest.fixture(scope="module")
def shared_sim(sim_cache: Path) -> Iterator[SimThread]:
    with SimThread(SimConfig(archive=profile("small"), root=sim_cache)) as running:
        yield running


@pytest.fixture
def sim(shared_sim: SimThread) -> Iterator[SimThread]:
    """The module's simulator, with every fault off again after the test."""
    shared_sim.set_faults(FaultConfig())
    yield shared_sim
    shared_sim.set_faults(FaultConfig())


@pytest.fixture
def catalog_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's catalog, also in ``SKYHAUL_CATALOG``; the working directory is tmp_path."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("SKYHAUL_CATALOG", url)
    monkeypatch.chdir(tmp_path)
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = open_catalog(catalog_url)
    yield opened
    opened.close()


@pytest.fixture
def manifest(sim: SimThread, tmp_path: Path) -> Path:
    """The simulator's CSV manifest saved in tmp_path."""
    path = tmp_path / "manifest.csv"
    with urllib.request.urlopen(sim.base_url + "api/manifest.csv", timeout=30) as answer:
        path.write_bytes(answer.read())
    return path


Invoke = Callable[..., Result]
RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
States = Callable[[], dict[str, int]]
WaitFor = Callable[[Callable[[], bool], float, str], None]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="skyhaul")


def _run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyhaul.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
        check=False,
    )


@pytest.fixture
def skyhaul(catalog_url: str) -> Invoke:
    """Run the real app in-process, as ``skyhaul ARGS``, on the test's catalog."""
    return _invoke


@pytest.fixture
def skyhaul_process(catalog_url: str) -> RunCli:
    """Run the real command line in a subprocess (output captured: not a terminal)."""
    return _run_cli


@pytest.fixture
def states(catalog_url: str) -> States:
    """How many files the catalog holds per state (states with none left out)."""

    def counts() -> dict[str, int]:
        with open_catalog(catalog_url) as opened:
            return {s.value: t.count for s, t in opened.status_summary().items() if t.count}

    return counts


def running_job(
    url: str, process: subprocess.Popen[str], *, moving: bool = False, timeout: float = 60
) -> JobRecord:
    """Poll the SQLite catalog at ``url`` until ``process`` runs a job (one whose progress
    shows bytes moved, with ``moving``); return that job."""
    path = Path(url.removeprefix("sqlite:///"))
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no job ran"
        assert process.poll() is None, "the process ended before its job was seen running"
        if path.exists():
            with open_catalog(url) as catalog:
                running = catalog.list_jobs(states=[JobState.RUNNING])
            progress = running[0].progress if running else None
            if running and (not moving or (progress is not None and progress.bytes_done)):
                return running[0]
        time.sleep(0.05)
