"""Real runs as jobs: a ``skyhaul get`` watched, cancelled, killed and resumed from
other processes through the catalog alone."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.sim.archive import ArchiveSpec
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.thread import SimThread

KIB = 1024


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyhaul.cli.app", *args]


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[SimThread]:
    """120 files of 64 KiB, each answer 200 ms late: with 2 connections a run lasts about
    12 s, longer than the two CLI processes that watch and cancel it take to start on a
    slow machine (at 50 ms, the run once ended before the cancel landed)."""
    spec = ArchiveSpec.exact(120, 64 * KIB, seed=91)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=0.2))
        yield running


def manifest_of(sim: SimThread, path: Path) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in sim.files:
            writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
    return path


def start_get(sim: SimThread, tmp_path: Path, catalog_url: str) -> subprocess.Popen[str]:
    manifest = manifest_of(sim, tmp_path / "manifest.csv")
    command = cli(
        "get", "-i", str(manifest), "-d", str(tmp_path / "files"), "--catalog", catalog_url,
        "-j", "2", "--max-per-host", "2", "-P", "1", "--no-progress", "--json",
    )  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def running_job(catalog_url: str, child: subprocess.Popen[str], timeout: float = 60) -> int:
    """The id of the child's job, once it runs and has published some progress."""
    deadline = time.monotonic() + timeout
    while True:
        with open_catalog(catalog_url) as catalog:
            jobs = catalog.list_jobs(states=[JobState.RUNNING])
        if jobs and jobs[0].progress is not None and jobs[0].progress.files_done >= 5:
            return jobs[0].id
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the get's job never ran"
        time.sleep(0.05)


def states(catalog_url: str) -> dict[str, int]:
    with open_catalog(catalog_url) as catalog:
        return {s.value: t.count for s, t in catalog.status_summary().items() if t.count}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout, check=False)


def test_a_get_cancelled_from_another_process_stops_resumably_and_resumes(
    slow_sim: SimThread, tmp_path: Path, catalog_url: str
) -> None:
    child = start_get(slow_sim, tmp_path, catalog_url)
    try:
        job_id = running_job(catalog_url, child)
        # Watched from here: the job, its kind, its progress, the files in flight.
        shown = json.loads(
            run("jobs", "show", str(job_id), "--json", "--catalog", catalog_url).stdout
        )
        assert (shown["kind"], shown["state"]) == ("get", "running")
        assert shown["progress"]["files_total"] == 120
        cancelled = run("jobs", "cancel", str(job_id), "--catalog", catalog_url)
        asked = time.monotonic()
        assert cancelled.returncode == 0, cancelled.stderr
        out, err = child.communicate(timeout=30)
        took = time.monotonic() - asked
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert took < 2.0, f"the run stopped {took:.2f} s after the cancel"
    summary = json.loads(out)
    assert summary["job"] == job_id and summary["interrupted"] is True
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(job_id)
        assert job is not None and job.state is JobState.CANCELLED
        assert catalog.job_file_ids(job_id) == list(range(1, 121))
    left = states(catalog_url)
    assert "DOWNLOADING" not in left and left.get("DOWNLOADED", 0) < 120
    # Resumed: the same job runs its own files again, to the end.
    slow_sim.set_faults(FaultConfig())
    again = run("jobs", "resume", str(job_id), "--catalog", catalog_url, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["job"] == job_id
    assert states(catalog_url) == {"DOWNLOADED": 120}
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(job_id)
    assert job is not None and job.state is JobState.SUCCEEDED
    assert job.summary is not None and job.summary["interrupted"] is False


def test_a_killed_get_is_shown_interrupted_and_resumes(
    slow_sim: SimThread, tmp_path: Path, catalog_url: str
) -> None:
    child = start_get(slow_sim, tmp_path, catalog_url)
    try:
        job_id = running_job(catalog_url, child)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.communicate(timeout=10)
    # Its process is gone from this host: shown interrupted at once, not after the lease.
    listed = json.loads(run("jobs", "--json", "--catalog", catalog_url).stdout)
    assert [(j["id"], j["state"]) for j in listed] == [(job_id, "interrupted")]
    slow_sim.set_faults(FaultConfig())
    again = run("jobs", "resume", str(job_id), "--catalog", catalog_url)
    assert again.returncode == 0, again.stderr
    assert states(catalog_url) == {"DOWNLOADED": 120}


def test_a_finished_job_does_not_resume(tmp_path: Path, catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        job = catalog.create_job(JobKind.GET, {"dest_root": str(tmp_path)}, now=_now())
        assert catalog.start_job(job, "me", now=_now(), lease_seconds=60)
        assert catalog.finish_job(job, "me", JobState.SUCCEEDED, now=_now(), summary={})
    done = run("jobs", "resume", str(job), "--catalog", catalog_url)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"skyhaul: error: job {job} is succeeded: only a failed, cancelled or interrupted job"
        " resumes"
    )


def _now() -> datetime:
    return datetime.now(UTC)
