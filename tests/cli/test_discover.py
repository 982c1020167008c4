"""``skyhaul discover``, ``download`` by window / slots / source, ``ls --downloaded-between``
and ``watch``, run as a user would, against the real simulator."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import open_catalog
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection
from skyhaul.services.watch import WATCH_FAILING_CYCLES
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec, SizeBand

from .conftest import Invoke, States, running_job

MARCH_1 = datetime(2024, 3, 1, tzinfo=UTC)
MARCH_2 = datetime(2024, 3, 2, tzinfo=UTC)


@pytest.fixture
def config(sim: SimThread, tmp_path: Path) -> Path:
    path = tmp_path / "skyhaul.toml"
    path.write_text(f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\n')
    return path


def _observed_on_march_1(sim: SimThread, instrument: str | None = None) -> set[str]:
    return {
        f.path
        for f in sim.files
        if f.version.file.obs_start < MARCH_2
        and f.version.file.obs_end > MARCH_1
        and (instrument is None or f.version.file.instrument == instrument)
    }


def test_discover_prints_new_known_changed_and_is_idempotent(
    skyhaul: Invoke, sim: SimThread, config: Path, states: States
) -> None:
    args = ("discover", "--source", "archive", "--start", "2024-03-01", "--end", "2024-03-01")
    first = skyhaul(*args, "--json")
    assert first.exit_code == 0, first.stderr
    counts = json.loads(first.stdout)
    expected = len(_observed_on_march_1(sim))
    assert (counts["new"], counts["known"], counts["changed"]) == (expected, 0, 0)
    assert counts["dest"] == str(config.parent / "data" / "archive")
    again = skyhaul(*args)
    assert again.exit_code == 0
    assert f"listed {expected}: 0 new, {expected} known, 0 changed" in again.stdout
    assert states() == {"DISCOVERED": expected}


def test_download_with_source_and_observation_window_does_the_whole_flow(
    skyhaul: Invoke, sim: SimThread, config: Path, catalog_url: str
) -> None:
    instrument = sim.files[0].version.file.instrument
    result = skyhaul(
        "download", "--source", "archive", "--by", "observation",
        "--start", "2024-03-01", "--end", "2024-03-01T23:59:59Z",
        "--instrument", instrument, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    wanted = _observed_on_march_1(sim, instrument)
    body = json.loads(result.stdout)
    assert body["downloaded"] == len(wanted)
    assert body["discovery"]["new"] == len(wanted)
    with open_catalog(catalog_url) as catalog:
        done = catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))
    assert {r.path for r in done} == wanted
    for record in done:
        assert Path(record.dest_root, record.path).is_file()


def test_download_by_slots_file(
    skyhaul: Invoke, sim: SimThread, config: Path, tmp_path: Path
) -> None:
    chosen = sim.slots[:2]
    schedule = tmp_path / "passes.csv"
    with schedule.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["slot", "start", "end", "station"])
        for s in chosen:
            writer.writerow([s.slot, s.start.isoformat(), s.end.isoformat(), s.station])
    wanted = {
        f.path
        for f in sim.files
        if any(s.start <= f.version.file.downlink_time < s.end for s in chosen)
    }
    result = skyhaul("download", "--source", "archive", "--slots", str(schedule), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["downloaded"] == len(wanted)


def test_download_by_downlink_without_source_uses_the_catalog_only(
    skyhaul: Invoke, sim: SimThread, config: Path, states: States
) -> None:
    assert skyhaul("discover", "--source", "archive", "--start", "2024-01-01",
                   "--end", "2025-01-01").exit_code == 0  # fmt: skip
    first_day = sorted(f.version.file.downlink_time for f in sim.files)[0].date().isoformat()
    wanted = [f for f in sim.files if f.version.file.downlink_time.date().isoformat() == first_day]
    result = skyhaul(
        "download", "--by", "downlink", "--start", first_day, "--end", first_day, "--json"
    )
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["downloaded"] == len(wanted)
    assert "discovery" not in body
    assert states()["DOWNLOADED"] == len(wanted)


def test_ls_downloaded_between(skyhaul: Invoke, sim: SimThread, config: Path) -> None:
    before = datetime.now(UTC).isoformat()
    assert skyhaul("download", "--source", "archive", "--start", "2024-03-01",
                   "--end", "2024-03-01").exit_code == 0  # fmt: skip
    after = datetime.now(UTC).isoformat()
    listed = skyhaul("ls", "--downloaded-between", before, after, "--limit", "0", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert {r["path"] for r in json.loads(listed.stdout)} == _observed_on_march_1(sim)
    earlier = skyhaul("ls", "--downloaded-between", "2020-01-01", "2020-01-02", "--json")
    assert json.loads(earlier.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start", "2024-03-02", "--end", "2024-03-01"), "is before start"),
        (("--start", "tomorrow", "--end", "2024-03-01"), "not an ISO 8601"),
        (("--start", "2024-03-01", "--end", "2024-13-01"), "not an ISO 8601"),
    ],
)
def test_bad_times_are_one_line_usage_errors(
    skyhaul: Invoke, config: Path, args: tuple[str, ...], message: str
) -> None:
    for command in (("discover", "--source", "archive"), ("download",)):
        result = skyhaul(*command, *args)
        assert result.exit_code == 2, (command, result.output)
        assert message in result.stderr
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.output


def test_ls_bad_downloaded_between_is_a_usage_error(skyhaul: Invoke) -> None:
    result = skyhaul("ls", "--downloaded-between", "2024-03-02", "2024-03-01")
    assert result.exit_code == 2
    assert "is before start" in result.stderr


@pytest.mark.usefixtures("catalog")  # status reads a catalog; it never creates one
def test_unknown_source_and_broken_config(skyhaul: Invoke, config: Path, tmp_path: Path) -> None:
    result = skyhaul("discover", "--source", "nope", "--start", "2024-03-01", "--end", "2024-03-02")
    assert result.exit_code == 2
    assert "no source named 'nope' (known: archive)" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[sources.x\n")
    result = skyhaul("discover", "--config", str(broken), "--source", "x",
                     "--start", "2024-03-01", "--end", "2024-03-02")  # fmt: skip
    assert result.exit_code == 2
    assert "broken.toml: not valid TOML" in result.stderr
    # Commands that name no source never read the configuration.
    assert skyhaul("status", "--json").exit_code == 0


def test_credentials_never_printed(
    skyhaul: Invoke, sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVE_TOKEN", "s3cr3t-t0ken")
    config = tmp_path / "skyhaul.toml"
    config.write_text(
        f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\ntoken_env = "ARCHIVE_TOKEN"\n'
    )
    sim.set_faults(FaultConfig(faults_on_api=True, fail_paths={"/api/files": 403}))
    result = skyhaul("discover", "--source", "archive", "--start", "2024-03-01",
                     "--end", "2024-03-02", "-v")  # fmt: skip
    assert result.exit_code == 2
    assert "check the source's credentials" in result.stderr
    assert "s3cr3t" not in result.output


def _skyhaul(*args: str) -> list[str]:
    return [sys.executable, "-c", "from skyhaul.cli.app import main; main()", *args]


def test_watch_survives_a_kill_and_picks_up_where_it_left_off(tmp_path: Path) -> None:
    spec = ArchiveSpec(seed=5, count=12, sizes=(SizeBand(256 * 1024, 512 * 1024),), days=2)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as sim:
        sim.set_faults(FaultConfig(bandwidth=256 * 1024))
        config = tmp_path / "skyhaul.toml"
        config.write_text(f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\n')
        catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
        command = _skyhaul(
            "watch", "--source", "archive", "--every", "1h", "--start", "2024-01-01",
            "--config", str(config), "--catalog", catalog, "-j", "4",
        )  # fmt: skip
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        total = sum(f.size for f in sim.files)
        deadline = time.monotonic() + 60
        while sim.stats.snapshot().bytes_sent < total // 3:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the watch made no progress"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stderr:
            child.stderr.close()
        sim.set_faults(FaultConfig())
        again = subprocess.run(
            [*command, "--cycles", "1"], capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert "cycle 1: listed 12 (0 new, 0 changed); downloaded" in again.stderr
        files = sim.files
    with open_catalog(catalog) as opened:
        records = opened.list_files(None)
    assert {r.state for r in records} == {FileState.DOWNLOADED}
    for f in files:
        assert (tmp_path / "data" / "archive" / f.path).stat().st_size == f.size


def test_watch_stops_on_sigterm_with_exit_130(tmp_path: Path) -> None:
    spec = ArchiveSpec(seed=6, count=4, sizes=(SizeBand(8 * 1024, 16 * 1024),), days=1)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as sim:
        config = tmp_path / "skyhaul.toml"
        config.write_text(f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\n')
        catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
        child = subprocess.Popen(
            _skyhaul(
                "watch",
                "--source",
                "archive",
                "--every",
                "1h",
                "--start",
                "2024-01-01",
                "--config",
                str(config),
                "--catalog",
                catalog,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:  # wait for the first cycle to be done (every file downloaded)
            assert time.monotonic() < deadline and child.poll() is None
            with open_catalog(catalog) as opened:
                summary = opened.status_summary()
            if summary[FileState.DOWNLOADED].count == 4:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=10)
    assert child.returncode == 130
    assert "cycle 1: listed 4 (4 new, 0 changed); downloaded 4" in stderr


def test_cancelling_a_cycles_job_stops_the_watch_with_exit_130(tmp_path: Path) -> None:
    spec = ArchiveSpec(seed=7, count=8, sizes=(SizeBand(256 * 1024, 512 * 1024),), days=1)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as sim:
        sim.set_faults(FaultConfig(bandwidth=64 * 1024))  # a cycle of about 30 s
        config = tmp_path / "skyhaul.toml"
        config.write_text(f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\n')
        catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
        command = _skyhaul(
            "watch", "--source", "archive", "--every", "1h", "--start", "2024-01-01",
            "--config", str(config), "--catalog", catalog, "--json",
        )  # fmt: skip
        child = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            job = running_job(catalog, child, moving=True)  # the first cycle's
            cancelled = subprocess.run(
                _skyhaul("jobs", "cancel", str(job.id), "--catalog", catalog),
                capture_output=True,
                text=True,
                timeout=60,
            )
            asked = time.monotonic()
            assert cancelled.returncode == 0, cancelled.stderr
            stdout, stderr = child.communicate(timeout=10)
            assert time.monotonic() - asked < 2
        finally:
            if child.poll() is None:  # a failed assertion above: do not leave it running
                child.kill()
                child.communicate()
    assert child.returncode == 130, stderr
    assert f"; job {job.id}" in stderr, "the cycle's line names its job"
    (cycle,) = json.loads(stdout)["cycles"]
    assert (cycle["job"], cycle["interrupted"]) == (job.id, True)
    with open_catalog(catalog) as opened:
        ended = opened.get_job(job.id)
        assert [j.id for j in opened.list_jobs()] == [job.id], "no second cycle"
    assert ended is not None and ended.kind is JobKind.WATCH_CYCLE
    assert ended.state is JobState.CANCELLED


def test_a_failed_watch_cycle_resumes_its_own_window(
    skyhaul: Invoke, sim: SimThread, config: Path, catalog_url: str
) -> None:
    instrument = sim.files[0].version.file.instrument
    params = {
        "source": "archive",
        "config": str(config),
        "start": MARCH_1.isoformat(),
        "end": MARCH_2.isoformat(),
        "instrument": instrument,
        "by": "observation",
        "dest_root": str(config.parent / "data" / "archive"),
        "cycle": 3,
        "options": {},
    }
    now = datetime.now(UTC)
    with open_catalog(catalog_url) as catalog:  # a cycle whose listing failed
        job = catalog.create_job(JobKind.WATCH_CYCLE, params, now=now)
        assert catalog.start_job(job, "gone", now=now, lease_seconds=60)
        assert catalog.finish_job(job, "gone", JobState.FAILED, now=now, summary=None)
    result = skyhaul("jobs", "resume", str(job), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    wanted = _observed_on_march_1(sim, instrument)
    assert (body["job"], body["downloaded"]) == (job, len(wanted))
    with open_catalog(catalog_url) as catalog:
        ended = catalog.get_job(job)
        done = catalog.list_files(Selection(states=frozenset({FileState.DOWNLOADED})))
    assert ended is not None and ended.state is JobState.SUCCEEDED
    assert {r.path for r in done} == wanted


def test_a_watch_whose_every_listing_failed_exits_1_and_warns(
    skyhaul: Invoke, sim: SimThread, config: Path
) -> None:
    sim.set_faults(FaultConfig(faults_on_api=True, fail_paths={"/api/files": 404}))
    result = skyhaul(
        "watch", "--source", "archive", "--every", "0.01s", "--cycles", "2",
        "--start", "2024-01-01",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert re.search(r"WARNING\s+cycle 1: listing failed", result.stderr)
    assert re.search(r"WARNING\s+cycle 2: listing failed", result.stderr)
    assert not re.search(r"INFO\s+cycle \d", result.stderr)
    assert re.search(r"ERROR\s+the last 2 cycles failed", result.stderr)


def test_a_watch_whose_last_cycles_failed_exits_1_when_stopped(tmp_path: Path) -> None:
    spec = ArchiveSpec(seed=8, count=2, sizes=(SizeBand(8 * 1024, 16 * 1024),), days=1)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as sim:
        sim.set_faults(FaultConfig(faults_on_api=True, fail_paths={"/api/files": 404}))
        config = tmp_path / "skyhaul.toml"
        config.write_text(f'[sources.archive]\ntype = "sim"\nurl = "{sim.base_url}"\n')
        catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
        command = _skyhaul(
            "watch", "--source", "archive", "--every", "0.05s", "--start", "2024-01-01",
            "--config", str(config), "--catalog", catalog,
        )  # fmt: skip
        child = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:  # wait for WATCH_FAILING_CYCLES cycles to have failed
                assert time.monotonic() < deadline and child.poll() is None
                if (tmp_path / "catalog.db").exists():
                    with open_catalog(catalog) as opened:
                        failed = opened.list_jobs(states=[JobState.FAILED])
                    if len(failed) >= WATCH_FAILING_CYCLES:
                        break
                time.sleep(0.05)
            child.send_signal(signal.SIGTERM)
            _, stderr = child.communicate(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 1, stderr
    assert f"the last {WATCH_FAILING_CYCLES} cycles failed" in stderr
