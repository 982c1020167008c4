"""Run a child process under a deadline and measure its wall and CPU time.

Rules:
- Every child runs in its own session, so a timeout ends it and everything it started
  (SIGTERM to the group, then SIGKILL after a grace period).
- CPU time is the child's user + system time from ``os.wait4``, which includes the
  descendants it waited for; the harness's own CPU is never counted.
- Output goes to files, never pipes: a chatty child cannot block on a full pipe while the
  harness waits for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Measurement",
    "allocated_bytes",
    "capture",
    "cpu_seconds",
    "last_line",
    "machine_busy_seconds",
    "run_killed_when",
    "run_measured",
    "stat_busy_ticks",
    "stat_cpu_seconds",
    "stop",
]

_GRACE_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """One finished (or ended) child process.

    Parameters
    ----------
    wall : float
        Seconds from start to exit.
    cpu : float
        User + system seconds of the child and its waited-for descendants.
    returncode : int
        Exit code (negative: killed by that signal).
    timed_out : bool
        The deadline passed and the harness ended the child.
    """

    wall: float
    cpu: float
    returncode: int
    timed_out: bool


def run_measured(
    argv: Sequence[str],
    *,
    timeout: float,
    stdout: Path,
    stderr: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run ``argv`` to completion (or the deadline) and measure it.

    Parameters
    ----------
    argv : sequence of str
        The command.
    timeout : float
        Seconds before the child's process group is terminated.
    stdout, stderr : Path
        Files that receive the child's output (truncated first).
    cwd : Path, optional
        Working directory of the child.
    env : dict, optional
        Environment of the child (default: the harness's).

    Returns
    -------
    Measurement
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        expired = threading.Event()
        timer = threading.Timer(timeout, _end_group, args=(proc.pid, expired))
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: the child has its own session and missed it
            _end_group(proc.pid, None)
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    _end_group(proc.pid, None)  # stragglers the child left behind
    return Measurement(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        returncode=proc.returncode,
        timed_out=expired.is_set(),
    )


def run_killed_when(
    argv: Sequence[str],
    *,
    when: Callable[[], bool],
    poll: float,
    timeout: float,
    stdout: Path,
    stderr: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Measurement, bool]:
    """Run ``argv`` and SIGKILL its process group as soon as ``when()`` holds.

    ``when`` is asked every ``poll`` seconds while the child runs. SIGKILL, as a crash or
    ``kill -9`` would, leaves the child no chance to save anything. A child that ends
    first is measured as ``run_measured`` would; at the deadline the group is ended.

    Returns
    -------
    tuple of (Measurement, bool)
        The measurement (a killed child's exit code is ``-9``) and whether it was killed.
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        killed = timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if not killed and when():
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed = True
                elif time.perf_counter() - start > timeout and not timed_out:
                    timed_out = True
                    threading.Thread(target=_end_group, args=(proc.pid, None), daemon=True).start()
                time.sleep(poll)
        except BaseException:
            _end_group(proc.pid, None)
            proc.wait()
            raise
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _end_group(proc.pid, None)  # what the child started, if it outlived it
    measured = Measurement(wall, usage.ru_utime + usage.ru_stime, proc.returncode, timed_out)
    return measured, killed


def allocated_bytes(directory: Path) -> int:
    """Bytes of disk the files under ``directory`` hold (allocated blocks, not sizes).

    A download that writes at offsets into a sparse or pre-sized file (a ``.part``
    truncated to its size, aria2c's pieces) holds only what it wrote, so this counts what
    arrived, whatever the file sizes say. Files that vanish while counted are skipped.
    """
    total = 0
    for root, _, names in os.walk(directory):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def capture(
    argv: Sequence[str], *, timeout: float = 30.0, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run a short command; return its exit code and stdout + stderr (``127`` if missing).

    Parameters
    ----------
    argv : sequence of str
        The command.
    timeout : float
        Seconds before it is killed (then the exit code is ``124``).
    env : dict, optional
        Environment of the command (default: the harness's).

    Returns
    -------
    tuple of (int, str)
    """
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: timed out after {timeout:.0f} s"
    return done.returncode, (done.stdout + done.stderr).strip()


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop a server child: SIGTERM (its own clean shutdown), then SIGKILL after ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def cpu_seconds(pid: int) -> float:
    """User + system seconds process ``pid`` (every thread of it) has used so far.

    Read from ``/proc/PID/stat`` while it runs, so a server can be measured over a window
    of its life; its children are not counted.
    """
    text = Path(f"/proc/{pid}/stat").read_text()
    return stat_cpu_seconds(text, os.sysconf("SC_CLK_TCK"))


def stat_cpu_seconds(stat: str, ticks_per_second: int) -> float:
    """``utime + stime`` of a ``/proc/PID/stat`` line, in seconds.

    The command name (field 2) is in parentheses and may hold spaces or parentheses: the
    fields are counted from the last ``)``.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / ticks_per_second


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has been busy so far, whoever used them.

    Read from ``/proc/stat``: over a window, this minus what the measured processes used is
    what other work on the machine took from them.
    """
    first = Path("/proc/stat").read_text().partition("\n")[0]
    return stat_busy_ticks(first) / os.sysconf("SC_CLK_TCK")


def stat_busy_ticks(cpu_line: str) -> int:
    """Busy ticks of the ``cpu`` line of ``/proc/stat``: all but idle and iowait (guest
    time is inside user time already, so it is not added)."""
    ticks = [int(field) for field in cpu_line.split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks + [0] * (8 - len(ticks))
    return user + nice + system + irq + softirq + steal


def last_line(text: str) -> str:
    """Return the last non-blank line of ``text`` (for one-line error reports)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _end_group(pid: int, expired: threading.Event | None) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if expired is not None:
        expired.set()
    deadline = time.monotonic() + _GRACE_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
