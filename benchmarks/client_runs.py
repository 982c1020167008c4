"""One timed run of one client, checked afterwards: shared by every scenario that runs clients.

Rules:
- Each run gets an empty output directory and an empty scratch directory (skyhaul's
  catalog lives there), so it downloads everything, unless the scenario means to resume.
- A client runs in the harness's environment without proxies (every request must stay on
  loopback), plus its tool's own variables (the base revision's ``PYTHONPATH``).
- After the run, outside the timing: the files are checked (size and sha256), skyhaul's
  ``--json`` summary and catalog are read, and the server's counts for the run are taken
  from a ``RequestMeter`` when the scenario has one.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from benchmarks.datasets import Offered, count_ok
from benchmarks.peers import Client, Job, catalog_url
from benchmarks.procs import run_measured
from benchmarks.results import RunRecord
from benchmarks.servers import RequestCount
from benchmarks.skyhaul_outcome import catalog_downloaded, read_summary
from benchmarks.tools import REPO, Tool, is_skyhaul

__all__ = [
    "RequestMeter",
    "child_env",
    "fresh_job",
    "progress_line",
    "run_once",
    "shown",
    "stderr_tail",
]

_STDERR_TAIL_LINES = 15


class RequestMeter(Protocol):
    """The server's count of one run: ``start`` right before it, ``stop`` right after."""

    def start(self) -> None:
        """Mark the start of a run (a log position, counters reset)."""

    def stop(self) -> RequestCount | None:
        """Requests and refusals since ``start`` (``None``: not counted)."""


def fresh_job(offered: Offered, base: Path) -> Job:
    """A job with empty ``base/out`` and ``base/scratch`` directories."""
    job = Job(offered, base / "out", base / "scratch")
    for directory in (job.out_dir, job.scratch):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    return job


def run_once(
    client: Client,
    tool: Tool,
    job: Job,
    repetition: int,
    *,
    timeout: float,
    meter: RequestMeter | None = None,
) -> RunRecord:
    """Run ``client`` on ``job`` once, timed, then check what it left.

    Parameters
    ----------
    client : Client
        The command line.
    tool : Tool
        Its program (available) and environment.
    job : Job
        The files, and the directories to use as they are.
    repetition : int
        0-based repetition index, kept in the record.
    timeout : float
        Seconds before the run is ended.
    meter : RequestMeter, optional
        The server's count of the run's requests.

    Returns
    -------
    RunRecord
    """
    program = tool.path
    assert program is not None
    argv = client.argv(program, job)
    env = child_env(tool.env)
    stdout, stderr = job.scratch / "stdout.log", job.scratch / "stderr.log"
    if meter is not None:
        meter.start()
    measurement = run_measured(
        argv, timeout=timeout, stdout=stdout, stderr=stderr, cwd=REPO, env=env
    )
    requests = meter.stop() if meter is not None else None
    summary, downloaded = None, None
    if is_skyhaul(client.tool):
        summary = read_summary(stdout)
        downloaded = catalog_downloaded(program, catalog_url(job.scratch), env=env)
    return RunRecord(
        repetition=repetition,
        measurement=measurement,
        files_ok=count_ok(job.offered, job.out_dir),
        requests=requests,
        summary=summary,
        catalog_downloaded=downloaded,
        stderr_tail=stderr_tail(stderr),
    )


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The harness's environment without proxies (every request must stay on loopback),
    plus the tool's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["COLUMNS"] = "160"  # rich wraps logs at 80 columns without a terminal
    env.update(extra)
    return env


def shown(tool: Tool, argv: list[str]) -> str:
    """The command as the report lists it, with the tool's own variables in front."""
    variables = [f"{name}={value}" for name, value in tool.env.items()]
    return shlex.join([*variables, *argv])


def stderr_tail(path: Path) -> str:
    """The last lines of a client's stderr (empty when there is none)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_STDERR_TAIL_LINES:])


def progress_line(client: Client, record: RunRecord) -> str:
    """One line on a finished run: times, files ok, exit code, refusals."""
    m = record.measurement
    line = f"{client.name}: {m.wall:.2f} s wall, {m.cpu:.2f} s CPU, {record.files_ok} files ok"
    if m.timed_out:
        line += ", TIMED OUT"
    elif m.returncode != 0:
        line += f", exit {m.returncode}"
    if record.requests is not None:
        line += f", {record.requests.refused}/{record.requests.requests} requests refused"
    return line
