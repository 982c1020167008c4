"""``--processes`` through the command line: ``get -P 2`` downloads everything once,
reports every failure once, stops resumably, and refuses bad counts."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.pids import is_gone

from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

States = Callable[[], dict[str, int]]
WaitFor = Callable[[Callable[[], bool], float, str], None]

# --- through the command line -----------------------------------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "skyhaul.cli.app", *args]


@pytest.fixture
def many_sim(tmp_path: Path) -> SimThread:
    """300 files of 4 KiB, each answer 10 ms late: a run lasts long enough for both
    processes to claim files (each first claims 64 of them)."""
    spec = ArchiveSpec.exact(300, 4096, seed=77)
    with SimThread(SimConfig(archive=spec, root=tmp_path / "sim")) as running:
        running.set_faults(FaultConfig(latency=0.01))
        yield running


def write_manifest(path: Path, sim: SimThread, extra_urls: tuple[str, ...] = ()) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["url", "path", "size", "checksum"])
        for f in sim.files:
            writer.writerow([f.url, f.path, f.size, f"sha256:{f.sha256}"])
        for i, url in enumerate(extra_urls):
            writer.writerow([url, f"missing/{i}.bin", "", ""])
    return path


def test_get_with_two_processes_downloads_everything_once(
    many_sim: SimThread, tmp_path: Path, catalog_url: str, states: States
) -> None:
    manifest = write_manifest(tmp_path / "manifest.csv", many_sim)
    done = subprocess.run(
        cli("get", "-i", str(manifest), "-d", "files", "-j", "8", "-P", "2", "-v", "--json"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["downloaded"], summary["failed"], summary["interrupted"]) == (300, 0, False)
    assert summary["bytes"] == 300 * 4096
    assert "2 engine processes (as asked)" in done.stderr
    shares = [
        line.split(": ", 1)[1] for line in done.stderr.splitlines() if "engine process " in line
    ]
    counts = [int(share.split()[0]) for share in shares]
    assert len(counts) == 2 and sum(counts) == 300 and min(counts) > 0, shares
    assert states() == {"DOWNLOADED": 300}
    for f in many_sim.files:
        data = (tmp_path / "files" / f.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256


def test_failures_of_every_process_are_reported_once(
    many_sim: SimThread, tmp_path: Path, catalog_url: str
) -> None:
    missing = tuple(f"{many_sim.base_url}files/missing-{i}.bin" for i in range(6))
    manifest = write_manifest(tmp_path / "manifest.csv", many_sim, missing)
    done = subprocess.run(
        cli("get", "-i", str(manifest), "-d", "files", "-j", "8", "-P", "2", "--json"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["downloaded"], summary["abandoned"], summary["failed"]) == (300, 6, 0)
    assert sorted(f["url"] for f in summary["failures"]) == sorted(missing)


def running_children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_a_stopped_run_of_two_processes_resumes_to_completion(
    many_sim: SimThread,
    tmp_path: Path,
    catalog_url: str,
    states: States,
    how: str,
    wait_for: WaitFor,
) -> None:
    many_sim.set_faults(FaultConfig(latency=0.05))
    manifest = write_manifest(tmp_path / "manifest.csv", many_sim)
    command = cli("get", "-i", str(manifest), "-d", "files", "-j", "4", "-P", "2")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        wait_for(lambda: len(running_children(process.pid)) == 1, 30, "the engine process")
        children = running_children(process.pid)
        wait_for(lambda: states().get("DOWNLOADED", 0) >= 20, 60, "files to complete")
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole group
        else:
            process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        _, err = process.communicate(timeout=20)
        wait_for(lambda: all(is_gone(pid) for pid in children), 10, "the engine process to end")
    finally:
        process.kill()
    if how != "sigkill":
        assert process.returncode == 130, err
        counts = states()
        assert set(counts) <= {"DISCOVERED", "DOWNLOADED"}, counts  # nothing left held
        assert counts.get("DISCOVERED", 0) > 0

    many_sim.set_faults(FaultConfig())
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert states() == {"DOWNLOADED": 300}
    assert not list((tmp_path / "files").rglob("*.part"))


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_process_count_is_a_usage_error(value: str, tmp_path: Path, catalog_url: str) -> None:
    done = subprocess.run(
        cli("get", "http://127.0.0.1:9/x", "-P", value),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--processes" in done.stderr
