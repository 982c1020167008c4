"""Signals and terminals: the real command line as a subprocess, as users run it."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skyhaul.sim import SimThread

States = Callable[[], dict[str, int]]
WaitFor = Callable[[Callable[[], bool], float, str], None]

SLOW = 64 * 1024  # bytes per second per connection: a run lasts well past the signal


def get_command(manifest: Path, *extra: str) -> list[str]:
    """``skyhaul get`` of the manifest into ./files, with small segments: a file's progress
    is durable segment by segment, so an interrupted file keeps some of it."""
    cli = [sys.executable, "-m", "skyhaul.cli.app"]
    return [*cli, "get", "-i", str(manifest), "-d", "files", "--segment-size", "32KiB", *extra]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_get_resumably_and_a_second_run_completes(
    sim: SimThread,
    manifest: Path,
    tmp_path: Path,
    states: States,
    signum: signal.Signals,
    wait_for: WaitFor,
) -> None:
    sim.set_faults(bandwidth=SLOW)
    sim.stats.reset()
    process = subprocess.Popen(
        get_command(manifest, "-j", "4"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: sim.stats.bytes_sent > 2 * SLOW, 30, "bytes to flow")
        signalled = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
        stopped_in = time.monotonic() - signalled
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert stopped_in < 5, f"took {stopped_in:.1f} s to stop"
    assert f"{signum.name}: stopping" in err
    assert "Interrupted: files stay resumable" in out
    counts = states()
    assert set(counts) <= {"DISCOVERED", "DOWNLOADED"}, counts  # nothing left DOWNLOADING
    assert counts.get("DISCOVERED", 0) > 0
    assert list((tmp_path / "files").rglob("*.part"))  # partial bytes kept for resume

    sim.set_faults(bandwidth=None)
    sim.stats.reset()
    done = subprocess.run(
        get_command(manifest),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert states() == {"DOWNLOADED": 24}
    assert not list((tmp_path / "files").rglob("*.part"))
    resumed = sim.stats.snapshot()
    assert resumed.ranged > 0  # partial files were resumed, not fetched again
    assert resumed.bytes_sent < sum(f.size for f in sim.files)


def test_a_second_interrupt_exits_at_once() -> None:
    # A run that never honours its cancel event: only the second signal can end it.
    script = (
        "import asyncio, sys\n"
        "from skyhaul.services.cancellation import run_cancellable\n"
        "async def stubborn(cancel):\n"
        "    print('ready', flush=True)\n"
        "    await cancel.wait()\n"
        "    print('cancel set', flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "run_cancellable(stubborn)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGINT)
        assert process.stdout.readline().strip() == "cancel set"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "interrupted again: exiting now" in err


def run_in_terminal(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; return its code and output."""
    controller, terminal = pty.openpty()
    env = dict(os.environ, COLUMNS="120", LINES="40", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "skyhaul.cli.app", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=10)
    finally:
        process.kill()
        os.close(controller)
    return code, b"".join(chunks).decode(errors="replace")


def test_progress_is_drawn_on_a_terminal(sim: SimThread, manifest: Path, catalog_url: str) -> None:
    sim.set_faults(bandwidth=8 * SLOW)
    code, output = run_in_terminal(["get", "-i", str(manifest), "-d", "files", "-j", "4"])
    assert code == 0, output
    assert "━" in output  # bars
    assert "/24 files" in output
    assert "24 downloaded, 0 failed, 0 abandoned" in output


def test_no_progress_on_a_terminal(sim: SimThread, manifest: Path, catalog_url: str) -> None:
    code, output = run_in_terminal(["get", "-i", str(manifest), "-d", "files", "--no-progress"])
    assert code == 0, output
    assert "━" not in output
    assert "24 downloaded, 0 failed, 0 abandoned" in output


def test_progress_survives_retries_on_a_terminal(
    sim: SimThread, manifest: Path, catalog_url: str
) -> None:
    sim.set_faults(p503=0.3, seed=3)
    code, output = run_in_terminal(
        ["get", "-i", str(manifest), "-d", "files", "--max-attempts", "10"]
    )
    assert code == 0, output
    assert "24 downloaded, 0 failed, 0 abandoned" in output


def test_progress_of_two_engine_processes_is_one_display(
    sim: SimThread, manifest: Path, catalog_url: str
) -> None:
    sim.set_faults(bandwidth=8 * SLOW)
    code, output = run_in_terminal(
        ["get", "-i", str(manifest), "-d", "files", "-j", "4", "-P", "2"]
    )
    assert code == 0, output
    output = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", output)  # colours and cursor moves
    assert "2 engine processes" in output
    assert "24/24 files" in output  # the last frame counts both processes' files
    assert "24 downloaded, 0 failed, 0 abandoned" in output
