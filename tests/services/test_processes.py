"""Engine processes (``services.processes``): forked children that report to their
parent, follow its cancel, and never outlive it for long.

The fork tests run in a fresh interpreter: a test process has threads (simulators,
pytest's own), and forking refuses to run beside threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.pids import is_gone

WaitFor = Callable[[Callable[[], bool], float, str], None]

FORKING = textwrap.dedent(
    """
    import asyncio, json, logging, os, sys, time
    from skyhaul.services.cancellation import run_cancellable
    from skyhaul.services.processes import MergedProgress, WorkerProcesses
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
