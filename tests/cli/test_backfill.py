"""``skyhaul backfill``, ``ledger export/show`` and ``report availability`` as a user runs them."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.backfill import DayStatus
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.sim import FaultConfig, SimThread
from skyhaul.sim.records_config import RecordsConfig

from .conftest import Invoke, RunCli, running_job

RECORDS = RecordsConfig(sensors=2, cadence=60.0)
PER_DAY = 2 * 2 * 1440
D1, D3 = date(2024, 1, 1), date(2024, 1, 3)


def use_records(sim: SimThread, records: RecordsConfig = RECORDS) -> None:
    sim.set_faults(replace(FaultConfig(), records=records))


@pytest.fixture
def config(sim: SimThread, tmp_path: Path) -> Path:
    use_records(sim)
    path = tmp_path / "skyhaul.toml"
    path.write_text(
        f"""
[sources.reach]
type = "records-api"
url = "{sim.base_url}api/records"
query = "?sensor={{sensor}}&obTime={{start}}..{{end}}"
params = {{ sensor = "ALL" }}
chunk = "1h"
expected_per_day = "2 * 2 * 1440"
token_env = "REACH_TOKEN"

[sources.archive]
type = "sim"
url = "{sim.base_url}"
"""
    )
    return path


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REACH_TOKEN", "tok-9f8e7d")
    return "tok-9f8e7d"


RANGE = ("--source", "reach", "--start-date", "2024-01-01", "--end-date", "2024-01-03")


def test_backfill_then_rerun_then_export_the_ledger(
    skyhaul: Invoke, config: Path, tmp_path: Path, token: str
) -> None:
    first = skyhaul("backfill", *RANGE)
    assert first.exit_code == 0, first.stderr
    assert "3 downloaded, 0 skipped (existing), 0 skipped (no data), 0 failed" in first.stdout
    out = tmp_path / "data" / "reach"
    assert sorted(p.name for p in out.glob("reach_*")) == [
        f"reach_2024-01-0{d}.csv" for d in (1, 2, 3)
    ]
    again = skyhaul("backfill", *RANGE, "--json")
    summary = json.loads(again.stdout)
    assert (summary["downloaded"], summary["skipped_existing"], summary["requests"]) == (0, 3, 0)

    export = skyhaul("ledger", "export", "--csv", str(tmp_path / "ledger.csv"))
    assert export.exit_code == 0, export.stderr
    with (tmp_path / "ledger.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["PENDING", "DOWNLOADED"] * 3
    assert rows[1]["records"] == str(PER_DAY) and float(rows[1]["availability"]) == 100.0
    assert token not in (tmp_path / "ledger.csv").read_text()
    assert token not in first.stdout + first.stderr

    shown = skyhaul("ledger", "show", *RANGE, "--json")
    assert [d["status"] for d in json.loads(shown.stdout)] == ["DOWNLOADED"] * 3


def test_dry_run_prints_the_plan_and_creates_nothing(
    skyhaul: Invoke, sim: SimThread, config: Path, tmp_path: Path
) -> None:
    before = sim.stats.snapshot().records_requests
    result = skyhaul("backfill", *RANGE, "--dry-run", "--limit-days", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2024-01-01  run") and lines[1].startswith("2024-01-02  run")
    assert "dry run: 2 of 2 planned days would run" in result.stdout
    assert not (tmp_path / "catalog.db").exists()
    assert not (tmp_path / "data").exists()
    assert sim.stats.snapshot().records_requests == before


def test_limit_days_runs_only_that_many_days_needing_work(
    skyhaul: Invoke, config: Path, catalog_url: str
) -> None:
    assert skyhaul("backfill", *RANGE, "--limit-days", "1").exit_code == 0
    result = skyhaul("backfill", *RANGE, "--limit-days", "1", "--json")
    summary = json.loads(result.stdout)
    assert [d["action"] for d in summary["days"]] == ["skip_existing", "run"]
    with open_catalog(catalog_url) as catalog:
        latest = catalog.latest_day_runs("reach", D1, D3)
    assert sorted(latest) == [D1, date(2024, 1, 2)]


def test_a_failed_day_exits_1_and_the_others_still_land(
    skyhaul: Invoke, sim: SimThread, config: Path, catalog_url: str
) -> None:
    use_records(sim, replace(RECORDS, malformed_days=(date(2024, 1, 2),)))
    result = skyhaul("backfill", *RANGE, "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["downloaded"], summary["failed"]) == (2, 1)
    assert summary["failures"][0]["day"] == "2024-01-02"
    assert summary["failures"][0]["error_type"] == "PayloadError"
    with open_catalog(catalog_url) as catalog:
        job = catalog.get_job(summary["job"])
    assert job is not None and job.state is JobState.FAILED and job.summary == summary


def test_a_backfill_is_a_job_with_the_parameters_that_reproduce_it(
    skyhaul: Invoke, config: Path, catalog_url: str, tmp_path: Path, token: str
) -> None:
    out = tmp_path / "elsewhere"
    result = skyhaul(
        "backfill", *RANGE, "--config", str(config), "--limit-days", "1", "--retry-failed",
        "--format", "json", "--output-dir", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    with open_catalog(catalog_url) as catalog:
        (job,) = catalog.list_jobs()
    assert summary["job"] == job.id
    assert (job.kind, job.state) == (JobKind.BACKFILL, JobState.SUCCEEDED)
    assert job.params == {
        "source": "reach",
        "config": str(config.resolve()),
        "first": "2024-01-01",
        "last": "2024-01-03",
        "retry_failed": True,
        "limit_days": 1,
        "output_dir": str(out.resolve()),
        "format": "json",
    }
    assert token not in json.dumps(job.params)
    assert job.summary == summary
    assert job.progress is not None
    assert (job.progress.files_done, job.progress.files_total) == (1, 1)
    assert job.progress.bytes_done == (out / "reach_2024-01-01.json").stat().st_size
    # A dry run touches nothing, the jobs table included.
    assert skyhaul("backfill", *RANGE, "--dry-run").exit_code == 0
    with open_catalog(catalog_url) as catalog:
        assert [j.id for j in catalog.list_jobs()] == [job.id]


def test_jobs_cancel_stops_a_running_backfill_within_2_s(
    sim: SimThread, config: Path, catalog_url: str, tmp_path: Path, skyhaul_process: RunCli
) -> None:
    """Another process cancels the job: the backfill exits 130 as on Ctrl-C, day left PENDING."""
    use_records(sim, replace(RECORDS, rate=4.0, burst=0))  # 24 chunks: 6 s a day
    process = subprocess.Popen(
        [sys.executable, "-m", "skyhaul.cli.app", "backfill", "--config", str(config), *RANGE],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job = running_job(catalog_url, process)
        cancelled = skyhaul_process("jobs", "cancel", str(job.id))
        asked = time.monotonic()
        assert cancelled.returncode == 0, cancelled.stderr
        _, stderr = process.communicate(timeout=10)
        assert time.monotonic() - asked < 2
    finally:
        if process.poll() is None:  # a failed assertion above: do not leave it running
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    with open_catalog(catalog_url) as catalog:
        ended = catalog.get_job(job.id)
        latest = catalog.latest_day_runs("reach", D1, D3)
    assert ended is not None and ended.state is JobState.CANCELLED
    assert ended.summary is not None and ended.summary["job"] == job.id
    assert latest[D1].status is DayStatus.PENDING, "resumable: the next run redoes the day"
    assert not (tmp_path / "data" / "reach" / "reach_2024-01-01.csv").exists()
    # `jobs resume` runs the same job again from its parameters, to the end.
    use_records(sim, RECORDS)
    resumed = skyhaul_process("jobs", "resume", str(job.id), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["job"] == job.id
    with open_catalog(catalog_url) as catalog:
        again = catalog.get_job(job.id)
    assert again is not None and again.state is JobState.SUCCEEDED
    assert (tmp_path / "data" / "reach" / "reach_2024-01-01.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start-date", "2024-13-01", "--end-date", "2024-01-02"), "--start-date: '2024-13-01'"),
        (("--start-date", "2024-01-05", "--end-date", "2024-01-02"), "is before --start-date"),
        (("--start-date", "2024-01-01", "--end-date", "2024-01-02", "--format", "xml"), "--format"),
    ],
)
def test_bad_dates_and_options_are_usage_errors(
    skyhaul: Invoke, config: Path, args: tuple[str, ...], message: str
) -> None:
    result = skyhaul("backfill", "--source", "reach", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


LAST_DAY = "'9999-12-31' is after 9999-12-30, the last day whose window skyhaul can hold"


@pytest.mark.parametrize(
    "args",
    [
        ("backfill", "--source", "reach", "--start-date", "9999-12-31", "--end-date", "9999-12-31"),
        ("backfill", "--source", "reach", "--start-date", "9999-12-31", "--end-date", "9999-12-31",
         "--dry-run"),
        ("backfill", "--source", "reach", "--start-date", "9999-12-30", "--end-date", "9999-12-31"),
        ("ledger", "show", "--source", "reach", "--start-date", "9999-12-30",
         "--end-date", "9999-12-31"),
        ("ledger", "export", "--csv", "ledger.csv", "--end-date", "9999-12-31"),
        ("report", "availability", "--source", "reach", "--start-date", "9999-12-30",
         "--end-date", "9999-12-31"),
    ],
)  # fmt: skip
def test_the_calendars_last_day_is_a_usage_error(
    skyhaul: Invoke, config: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    result = skyhaul(*args)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("skyhaul: error: --") and line.endswith(LAST_DAY), line
    assert not (tmp_path / "data").exists()


def test_a_token_with_a_control_character_exits_2_without_showing_it(
    skyhaul: Invoke, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REACH_TOKEN", "tok\x01-9f8e7d")
    result = skyhaul("backfill", *RANGE)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.endswith(
        "sources.reach: the token in environment variable REACH_TOKEN has a control or"
        " non-ASCII character, which an HTTP header cannot carry"
    )
    assert "9f8e7d" not in result.output


def test_wrong_credentials_exit_2_without_showing_them(
    skyhaul: Invoke, sim: SimThread, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_records(sim, replace(RECORDS, token="the-real-token"))
    monkeypatch.setenv("REACH_TOKEN", "a-wrong-token")
    result = skyhaul("backfill", *RANGE)
    assert result.exit_code == 2
    assert "HTTP 401" in result.stderr and "credentials" in result.stderr
    assert "a-wrong-token" not in result.stderr + result.stdout


def test_a_file_source_is_refused_by_backfill(skyhaul: Invoke, config: Path) -> None:
    result = skyhaul(
        "backfill", "--source", "archive", "--start-date", "2024-01-01", "--end-date", "2024-01-01"
    )
    assert result.exit_code == 2
    assert "records-api" in result.stderr


def test_report_availability_writes_png_and_html(
    skyhaul: Invoke, sim: SimThread, config: Path, tmp_path: Path
) -> None:
    use_records(sim, replace(RECORDS, gap=0.1, no_data_days=(D3,)))
    assert skyhaul("backfill", *RANGE).exit_code == 0
    png, html = tmp_path / "a.png", tmp_path / "a.html"
    result = skyhaul(
        "report", "availability", *RANGE, "--png", str(png), "--html", str(html), "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    days = {d["day"]: d for d in report["days"]}
    assert 85.0 < days["2024-01-01"]["percent"] < 95.0  # a 10% gap
    assert days["2024-01-03"]["status"] == DayStatus.SKIPPED_NO_DATA.value
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "2024-01-02" in html.read_text()
    table = skyhaul("report", "availability", *RANGE)
    assert "2024-01-01" in table.stdout and "availability" in table.stdout.lower()
    assert "days below 90%: 2024-01-03" in table.stdout


def test_report_availability_of_a_file_source_counts_files(
    skyhaul: Invoke, sim: SimThread, config: Path
) -> None:
    window = ("--start", "2024-03-01", "--end", "2024-03-01")
    assert skyhaul("discover", "--source", "archive", *window).exit_code == 0
    result = skyhaul(
        "report",
        "availability",
        "--source",
        "archive",
        "--start-date",
        "2024-03-01",
        "--end-date",
        "2024-03-01",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    (day,) = json.loads(result.stdout)["days"]
    assert day["expected"] > 0 and day["count"] == 0 and day["percent"] == 0.0


def test_killed_mid_day_the_rerun_redoes_only_that_day(
    sim: SimThread, config: Path, catalog_url: str, tmp_path: Path
) -> None:
    """SIGKILL during day 2; the rerun skips day 1 and redoes day 2; no half-written file."""
    # Answers 0.3 s late: a day takes over a second, time to see day 2 begin and kill it.
    sim.set_faults(replace(FaultConfig(), records=RECORDS, latency=0.3, faults_on_api=True))
    args = [
        sys.executable,
        "-m",
        "skyhaul.cli.app",
        "backfill",
        "--config",
        str(config),
        "--source",
        "reach",
        "--start-date",
        "2024-01-01",
        "--end-date",
        "2024-01-02",
    ]
    process = subprocess.Popen(
        args, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            assert time.monotonic() < deadline, "day 2 never started"
            assert process.poll() is None, "backfill ended before it could be killed"
            if (tmp_path / "catalog.db").exists():
                with open_catalog(catalog_url) as catalog:
                    latest = catalog.latest_day_runs("reach", D1, date(2024, 1, 2))
                day2 = latest.get(date(2024, 1, 2))
                if day2 is not None and day2.status is DayStatus.PENDING:
                    break
            time.sleep(0.05)
        # Kill once a few chunks of day 2 are in its spool (polled, as above).
        spool = tmp_path / "data" / "reach" / ".skyhaul-spool" / "reach" / "2024-01-02"
        while len(list(spool.glob("*"))) < 2:
            assert time.monotonic() < deadline, "no chunk of day 2 reached the spool"
            assert process.poll() is None, "backfill ended before it could be killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    out = tmp_path / "data" / "reach"
    assert not (out / "reach_2024-01-02.csv").exists()
    # The dead process's requests still in the simulator (answered 0.3 s late) are counted
    # as they end: wait until the count holds still for twice that before taking it.
    before = _settled(lambda: sim.stats.snapshot().records_requests, quiet=0.6)
    use_records(sim, RECORDS)
    rerun = subprocess.run(
        [*args, "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert [d["action"] for d in summary["days"]] == ["skip_existing", "run"]
    assert sim.stats.snapshot().records_requests - before == 24  # day 2 only
    with (out / "reach_2024-01-02.csv").open(newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == PER_DAY
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def _settled(read: Callable[[], int], *, quiet: float, deadline: float = 30.0) -> int:
    """``read()`` once it has not changed for ``quiet`` seconds (polled, with a deadline)."""
    end = time.monotonic() + deadline
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < end, "the count never settled"
        time.sleep(0.05)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
    return value


def test_day_progress_shows_chunks_records_and_rate() -> None:
    import io

    from rich.console import Console

    from skyhaul.cli.backfill import DayProgress
    from skyhaul.services.dayfetch import DayFetch

    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=120)
    with DayProgress(console, enabled=True) as progress:
        counts = DayFetch(requests=10, throttled=1, records=5000, chunks_done=9, chunks=24)
        progress.update(D1, counts)
        progress.update(
            date(2024, 1, 2), DayFetch(requests=1, records=10, chunks_done=1, chunks=24)
        )
        progress._progress.refresh()  # type: ignore[union-attr]
        shown = sink.getvalue()
    assert "2024-01-02" in shown and "1/24" in shown and "req/s" in shown
    quiet = io.StringIO()
    with DayProgress(Console(file=quiet), enabled=False) as off:
        off.update(D1, DayFetch(chunks=1))
    assert quiet.getvalue() == ""
