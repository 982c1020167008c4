"""Engine processes (``cli.workers`` and ``--processes``): forked children that report to
their parent, follow its cancel, and never outlive it for long.

The fork tests run in a fresh interpreter: a test process has threads (simulators,
pytest's own), and forking refuses to run beside threads.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from skyhaul.adapters.catalog import open_catalog
from skyhaul.cli.transfer import _plan
from skyhaul.core.model import Selection, TransferOptions
from skyhaul.errors import UsageError
from skyhaul.sim import FaultConfig, SimConfig, SimThread
from skyhaul.sim.archive import ArchiveSpec

States = Callable[[], dict[str, int]]
WaitFor = Callable[[Callable[[], bool], float, str], None]

FORKING = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys, time
    from skyhaul.cli.signals import run_cancellable
    from skyhaul.cli.workers import MergedProgress, WorkerProcesses
    from skyhaul.core.model import RunSummary
    from skyhaul.core.progress import ProgressBoard
    from skyhaul.errors import DiskFullError

    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    mode, pids = sys.argv[1], sys.argv[2]

    def child(index):
        async def work(cancel, board):
            with open(f"{pids}/{os.getpid()}", "w"):
                pass
            if mode == "summary":
                return RunSummary(downloaded=index + 1)
            if mode == "log":
                logging.getLogger("skyhaul.engine").warning("hello from child %d", index)
                return RunSummary()
            if mode == "progress":
                board.add_expected(100, 100)
                board.start_file(f"k{index}", f"file-{index}", 10)
                board.advance(f"k{index}", 6)
                return RunSummary()
            if mode == "error" and index == 0:
                raise DiskFullError("no space left on /dest")
            if mode == "stubborn":
                await asyncio.Event().wait()
            await cancel.wait()
            return RunSummary(interrupted=True)
        return work

    workers = WorkerProcesses.fork(2, child, progress=mode == "progress")

    async def parent(cancel):
        if mode in ("cancel", "orphan-after-cancel", "stubborn"):
            while len(os.listdir(pids)) < 2:
                await asyncio.sleep(0.01)
        if mode == "orphan":
            os._exit(0)
        if mode in ("orphan-after-cancel", "stubborn"):
            workers.cancel()
            os._exit(0)
        if mode == "cancel":
            cancel.set()
        try:
            summaries = await workers.supervise(cancel)
        except DiskFullError as exc:
            return {"raised": type(exc).__name__, "message": str(exc), "cancel": cancel.is_set()}
        out = {"summaries": [[s.downloaded, s.interrupted] for s in summaries]}
        if mode == "progress":
            own = ProgressBoard(time.monotonic)
            own.add_expected(4, 40)
            merged = MergedProgress(own, workers.children).snapshot()
            out["progress"] = [merged.files_total, merged.bytes_done, len(merged.active)]
        return out

    print(json.dumps(run_cancellable(parent)), flush=True)
    """
)


def run_forking(mode: str, pids: Path) -> subprocess.CompletedProcess[str]:
    pids.mkdir()
    return subprocess.run(
        [sys.executable, "-c", FORKING, mode, str(pids)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_children_report_their_summaries(tmp_path: Path) -> None:
    done = run_forking("summary", tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"summaries": [[1, False], [2, False]]}


def test_children_log_through_the_parent(tmp_path: Path) -> None:
    done = run_forking("log", tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    # The parent's handler formats them: the records crossed the pipe.
    assert "skyhaul.engine WARNING hello from child 0" in done.stderr
    assert "skyhaul.engine WARNING hello from child 1" in done.stderr


def test_children_progress_adds_up_under_the_parents_totals(tmp_path: Path) -> None:
    done = run_forking("progress", tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    # 4 files expected by the parent (a child's own totals are ignored), 6 bytes each.
    assert json.loads(done.stdout)["progress"] == [4, 12, 2]


def test_the_parents_cancel_reaches_every_child(tmp_path: Path) -> None:
    done = run_forking("cancel", tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"summaries": [[0, True], [0, True]]}


def test_a_childs_error_cancels_the_run_and_is_raised_by_the_parent(tmp_path: Path) -> None:
    done = run_forking("error", tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "raised": "DiskFullError",
        "message": "no space left on /dest",
        "cancel": True,  # the other child was waiting for it
    }


@pytest.mark.parametrize(
    "mode",
    ["orphan", "orphan-after-cancel", "stubborn"],
    ids=["parent-dies", "parent-dies-after-cancel", "child-ignores-cancel"],
)
def test_children_do_not_outlive_their_parent(tmp_path: Path, mode: str, wait_for: WaitFor) -> None:
    # A parent gone without a word cancels the children; gone after a cancel, it is a
    # second Ctrl-C: they exit at once, even a child whose work ignores its cancel.
    done = run_forking(mode, tmp_path / "pids")
    assert done.returncode == 0, done.stderr
    children = [int(name) for name in os.listdir(tmp_path / "pids")]
    assert len(children) == 2
    wait_for(lambda: all(is_gone(pid) for pid in children), 10, "the children to exit")


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


def test_processes_need_the_files_in_the_catalog_first(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog, pytest.raises(UsageError, match="discover"):
        _plan(catalog, TransferOptions(), 2, Selection(), None, discovery=object())  # type: ignore[arg-type]


def test_an_in_memory_catalog_keeps_one_process(caplog: pytest.LogCaptureFixture) -> None:
    with open_catalog("sqlite://") as catalog:
        plan = _plan(catalog, TransferOptions(), 2, Selection(), None, None)
    assert plan.count == 1
    assert "one engine process: an in-memory catalog belongs to one process" in caplog.text


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
