"""``skyhaul jobs``: list, show (and follow), cancel, on jobs other processes run.

The jobs here are created and run through the catalog API: in-process for what is shown,
and by a small runner subprocess (below) for what crosses processes: a cancel seen by the
runner, a runner SIGKILLed and found interrupted, a follower that ends with the job.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import Result

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.jobs import follow_job
from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState

Invoke = Callable[..., Result]
RunCli = Callable[..., "subprocess.CompletedProcess[str]"]
WaitFor = Callable[[Callable[[], bool], float, str], None]


def wall_clock() -> datetime:
    """Now, as the command line reads it: jobs a test makes must not look dead to it."""
    return datetime.now(UTC)


#: A stand-in for the jobs service: creates and starts a job, publishes progress every
#: 0.1 s, and stops as the service will: cancelled (exit 130) when publishing says so,
#: succeeded (exit 0) after STEPS publishes (0: never).
RUNNER = """
import os, sys, time
from datetime import UTC, datetime
from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobprogress import InFlightFile, JobProgress
from skyhaul.core.jobs import JobKind, JobState

url, lease, steps = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
owner = f"runner:{os.getpid()}"
now = lambda: datetime.now(UTC)
with open_catalog(url) as catalog:
    job = catalog.create_job(JobKind.DOWNLOAD, {"selection": {"instrument": "EUI"}}, now=now())
    assert catalog.start_job(job, owner, now=now(), lease_seconds=lease)
    done = 0
    while True:
        rows = (InFlightFile(f"eui/f{done:03d}.fits", 500, 1000, 5000.0, "http"),)
        progress = JobProgress(done, 100, 0, done * 1000, 100_000, 10_000.0, 9.9, rows)
        cancel = catalog.publish_job_progress(job, owner, progress, now=now(), lease_seconds=lease)
        if done == 0:
            print(job, flush=True)
        if cancel is None:
            sys.exit(3)
        if cancel:
            summary = {"downloaded": done, "interrupted": True}
            catalog.finish_job(job, owner, JobState.CANCELLED, now=now(), summary=summary)
            sys.exit(130)
        done += 1
        if steps and done >= steps:
            summary = {"downloaded": done, "failed": 0, "bytes": done * 1000}
            catalog.finish_job(job, owner, JobState.SUCCEEDED, now=now(), summary=summary)
            sys.exit(0)
        time.sleep(0.1)
"""


@pytest.fixture
def run_job(catalog_url: str) -> Iterator[Callable[..., tuple[subprocess.Popen[str], int]]]:
    """Start a runner; return it and its job's id (read once it published)."""
    started: list[subprocess.Popen[str]] = []

    def start(*, lease: float = 30, steps: int = 0) -> tuple[subprocess.Popen[str], int]:
        process = subprocess.Popen(
            [sys.executable, "-c", RUNNER, catalog_url, str(lease), str(steps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()  # printed after the first publish
        assert line.strip().isdigit(), process.communicate(timeout=10)
        return process, int(line)

    yield start
    for process in started:
        process.kill()
        process.communicate(timeout=10)


def progress(done: int) -> JobProgress:
    rows = (
        InFlightFile("eui/a.fits", 4 * 2**20, 8 * 2**20, 2.0 * 2**20, "s3"),
        InFlightFile("eui/b.fits", 2**20, None, 2**20, "http"),
    )
    return JobProgress(done, 10, 1, done * 2**20, 10 * 2**20, 3.0 * 2**20, 2.0, rows)


@pytest.fixture
def three(catalog: Catalog) -> list[int]:
    """Jobs 1 queued (get), 2 running with progress (download), 3 succeeded (backfill)."""
    now = wall_clock()
    queued = catalog.create_job(JobKind.GET, {"urls": ["https://a.example/x.fits"]}, now=now)
    live = catalog.create_job(JobKind.DOWNLOAD, {"selection": {"instrument": "EUI"}}, now=now)
    done = catalog.create_job(JobKind.BACKFILL, {"source": "reach"}, now=now)
    assert catalog.start_job(live, "host:7", now=now, lease_seconds=3600)
    flag = catalog.publish_job_progress(live, "host:7", progress(4), now=now, lease_seconds=3600)
    assert flag is False
    assert catalog.start_job(done, "host:8", now=now, lease_seconds=3600)
    summary = {"downloaded": 3, "failed": 0, "bytes": 3 * 2**20, "seconds": 2.5, "failures": []}
    later = now + timedelta(seconds=2.5)
    assert catalog.finish_job(done, "host:8", JobState.SUCCEEDED, now=later, summary=summary)
    return [queued, live, done]


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()[1:] if line.strip()]


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_jobs_lists_newest_first(skyhaul: Invoke, catalog: Catalog, three: list[int]) -> None:
    result = skyhaul("jobs")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("3", "backfill", "succeeded"),
        ("2", "download", "running"),
        ("1", "get", "queued"),
    ]
    running = rows[1]
    assert running[3:6] == ["40%", "4/10", "4.0"], running  # done, files, bytes of 10 MiB
    assert "3.0 MiB/s" in result.stdout
    record = catalog.get_job(3)
    assert record is not None and record.started_at is not None
    assert rows[0][-2:] == record.started_at.strftime("%Y-%m-%d %H:%M:%S").split(), "in UTC"


def test_jobs_filters_by_state(skyhaul: Invoke, three: list[int]) -> None:
    result = skyhaul("jobs", "--state", "running")
    assert result.exit_code == 0, result.output
    assert [r[0] for r in _rows(result.stdout)] == ["2"]
    both = skyhaul("jobs", "-s", "QUEUED", "-s", "succeeded", "--json")
    assert [job["id"] for job in json.loads(both.stdout)] == [3, 1]
    assert skyhaul("jobs", "--state", "cancelled").stdout.strip() == "no jobs in that state"
    assert _one_error_line(skyhaul("jobs", "--state", "sleeping")).startswith("skyhaul: error:")


def test_jobs_json_is_the_record(skyhaul: Invoke, catalog: Catalog, three: list[int]) -> None:
    result = skyhaul("jobs", "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)
    assert [d["id"] for d in documents] == [3, 2]
    live = documents[1]
    assert (live["kind"], live["state"], live["owner"]) == ("download", "running", "host:7")
    assert live["params"] == {"selection": {"instrument": "EUI"}}
    assert JobProgress.from_json(live["progress"]) == progress(4)
    assert documents[0]["summary"]["downloaded"] == 3
    record = catalog.get_job(2)
    assert record is not None and live == json.loads(json.dumps(record.as_json()))


def test_show_one_job(skyhaul: Invoke, three: list[int]) -> None:
    result = skyhaul("jobs", "show", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2 download, running on host:7" in out
    assert '{"selection": {"instrument": "EUI"}}' in out
    assert "4/10 files (1 failed), 4.0 MiB of 10.0 MiB, 3.0 MiB/s, ETA 2.0s, 2 in flight" in out
    assert re.search(r"eui/a\.fits\s+4\.0 MiB / 8\.0 MiB\s+2\.0 MiB/s\s+s3", out), out
    assert re.search(r"eui/b\.fits\s+1\.0 MiB\s+1\.0 MiB/s\s+http", out), out
    finished = skyhaul("jobs", "show", "3")
    assert "summary   3 downloaded, 0 failed, 3.0 MiB, in 2.5s" in finished.stdout
    assert "In flight" not in finished.stdout


def test_show_json_and_options_before_the_command(skyhaul: Invoke, three: list[int]) -> None:
    result = skyhaul("jobs", "--json", "show", "3")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["id"], document["state"]) == (3, "succeeded")
    assert document["summary"]["failures"] == []
    assert json.loads(skyhaul("jobs", "show", "1", "--json").stdout)["state"] == "queued"


def test_unknown_job_and_misplaced_options_are_one_line(skyhaul: Invoke, three: list[int]) -> None:
    line = _one_error_line(skyhaul("jobs", "show", "99"))
    assert line == "skyhaul: error: no job 99 in this catalog (see 'skyhaul jobs')"
    assert "does not go with 'show'" in _one_error_line(
        skyhaul("jobs", "-s", "running", "show", "2")
    )
    assert _one_error_line(skyhaul("jobs", "show", "two")).startswith("skyhaul: error:")


@pytest.mark.usefixtures("catalog")  # jobs reads a catalog; it never creates one
def test_help_renders(skyhaul: Invoke) -> None:
    group = skyhaul("jobs", "--help")
    assert group.exit_code == 0
    assert "--state" in group.stdout and "show" in group.stdout and "cancel" in group.stdout
    assert "--follow" in skyhaul("jobs", "show", "--help").stdout
    assert "jobs" in skyhaul("--help").stdout
    assert skyhaul("jobs").stdout.strip() == "no jobs"


def test_a_dead_job_shows_interrupted_once_its_lease_expired(
    skyhaul: Invoke, catalog: Catalog
) -> None:
    long_ago = wall_clock() - timedelta(hours=1)
    dead = catalog.create_job(JobKind.WATCH_CYCLE, {}, now=long_ago)
    assert catalog.start_job(dead, "gone:1", now=long_ago, lease_seconds=30)
    result = skyhaul("jobs")
    assert [r[2] for r in _rows(result.stdout)] == ["interrupted"]
    record = catalog.get_job(dead)
    assert record is not None and record.error == "lease expired; held by gone:1"
    assert "lease expired; held by gone:1" in skyhaul("jobs", "show", str(dead)).stdout


def test_cancel_a_queued_job_at_once(skyhaul: Invoke, catalog: Catalog, three: list[int]) -> None:
    result = skyhaul("jobs", "cancel", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "job 1 cancelled (it had not started)"
    record = catalog.get_job(1)
    assert record is not None and record.state is JobState.CANCELLED


def test_cancel_a_running_job_sets_its_flag(
    skyhaul: Invoke, catalog: Catalog, three: list[int]
) -> None:
    result = skyhaul("jobs", "cancel", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": 2, "state": "running", "cancel_requested": True}
    assert catalog.publish_job_progress(
        2, "host:7", progress(5), now=wall_clock(), lease_seconds=60
    )
    assert [r[2] for r in _rows(skyhaul("jobs", "-s", "running").stdout)] == ["cancelling"]


def test_cancel_unknown_or_finished_is_exit_2(skyhaul: Invoke, three: list[int]) -> None:
    assert _one_error_line(skyhaul("jobs", "cancel", "3")) == (
        "skyhaul: error: job 3 already succeeded: nothing to cancel"
    )
    assert "no job 42" in _one_error_line(skyhaul("jobs", "cancel", "42"))


def test_cancel_from_another_process_stops_the_runner_within_2_s(
    run_job: Callable[..., tuple[subprocess.Popen[str], int]],
    skyhaul_process: RunCli,
    catalog: Catalog,
) -> None:
    runner, job_id = run_job()
    cancelled = skyhaul_process("jobs", "cancel", str(job_id))
    asked = time.monotonic()
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"job {job_id} (download on runner:{runner.pid}): cancel requested" in cancelled.stdout
    runner.wait(timeout=10)
    assert runner.returncode == 130
    assert time.monotonic() - asked < 2
    record = catalog.get_job(job_id)
    assert record is not None
    assert (record.state, record.cancel_requested) == (JobState.CANCELLED, True)
    assert record.summary is not None and record.summary["interrupted"] is True


def test_a_sigkilled_runner_shows_interrupted_once_its_lease_expires(
    run_job: Callable[..., tuple[subprocess.Popen[str], int]],
    skyhaul: Invoke,
    wait_for: WaitFor,
) -> None:
    lease = 2.5  # long enough to be read running first, even on a loaded machine
    runner, job_id = run_job(lease=lease)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    killed = time.monotonic()

    def state() -> str:
        result = skyhaul("jobs", "--json")
        assert result.exit_code == 0, result.output
        (job,) = json.loads(result.stdout)
        return str(job["state"])

    assert state() == "running", "its lease has not expired yet"
    wait_for(lambda: state() == "interrupted", lease + 10, "the job to show interrupted")
    assert time.monotonic() - killed > lease - 1, "interrupted only once the lease expired"
    shown = skyhaul("jobs", "show", str(job_id)).stdout
    assert f"lease expired; held by runner:{runner.pid}" in shown


def test_follow_prints_progress_until_the_job_ends(
    run_job: Callable[..., tuple[subprocess.Popen[str], int]], skyhaul_process: RunCli
) -> None:
    runner, job_id = run_job(steps=25)  # about 2.5 s
    followed = skyhaul_process("jobs", "show", str(job_id), "--follow", timeout=30)
    assert followed.returncode == 0, followed.stderr
    lines = followed.stdout.strip().splitlines()
    progress_lines = [line for line in lines if f"job {job_id} running: " in line]
    assert progress_lines, lines
    assert all(re.search(r"\d+/100 files, .* 1 in flight$", line) for line in progress_lines)
    assert len(lines) == len(progress_lines) + 1
    assert re.fullmatch(
        rf"job {job_id} succeeded after [\d.]+s: 25 downloaded, 0 failed, 24\.4 KiB", lines[-1]
    ), lines[-1]
    assert runner.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("final", "code"),
    [
        (JobState.SUCCEEDED, 0),
        (JobState.FAILED, 1),
        (JobState.CANCELLED, 130),
        (JobState.INTERRUPTED, 130),
    ],
)
def test_follow_exits_as_the_job_ended(
    skyhaul: Invoke, catalog: Catalog, final: JobState, code: int
) -> None:
    now = wall_clock()
    job_id = catalog.create_job(JobKind.GET, {}, now=now)
    assert catalog.start_job(job_id, "h:1", now=now, lease_seconds=60)
    assert catalog.finish_job(job_id, "h:1", final, now=now, summary=None, error="why")
    result = skyhaul("jobs", "show", str(job_id), "--follow")
    assert result.exit_code == code, result.output
    assert result.stdout.strip() == f"job {job_id} {final.value} after 0.0s: why"
    as_json = skyhaul("jobs", "show", str(job_id), "--follow", "--json")
    assert as_json.exit_code == code
    assert json.loads(as_json.stdout)["state"] == final.value


def test_follow_loop_keeps_its_schedule_and_stops_at_the_end() -> None:
    def record(state: JobState) -> JobRecord:
        return JobRecord(id=1, kind=JobKind.GET, params={}, state=state, created_at=wall_clock())

    states = iter([JobState.QUEUED, JobState.RUNNING, JobState.RUNNING, JobState.CANCELLED])
    now = [0.0]
    slept: list[float] = []
    emitted: list[JobState] = []

    def read() -> JobRecord:
        now[0] += 0.25  # each read takes a quarter of a second
        return record(next(states))

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    last = follow_job(
        read, lambda job: emitted.append(job.state), sleep=sleep, clock=lambda: now[0]
    )
    assert last.state is JobState.CANCELLED
    assert emitted == [JobState.QUEUED, JobState.RUNNING, JobState.RUNNING]
    assert slept == [1.0, 0.75, 0.75], "a slow read shortens the next wait"
