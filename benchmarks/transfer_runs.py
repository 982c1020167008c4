"""Run a transfer scenario: every client in turn, repeated, each run timed and checked.

Rules:
- Repetitions alternate the clients (A B C, A B C, ...), so slow drifts in the machine's
  load spread over all of them instead of landing on one. With ``--compare``, skyhaul and
  its base revision swap places on every other repetition (``compare.run_order``).
- Each client runs in the harness's environment without proxies, plus its tool's own
  variables (the base revision's ``PYTHONPATH``).
- Before each run the client's output and scratch directories are emptied (skyhaul's
  catalog lives in the scratch directory), so every run downloads everything.
- After each run, outside the timing: the files are checked (size and sha256), skyhaul's
  summary and catalog are read, the server's refusals are counted; then the output is
  deleted to keep memory free.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from benchmarks.compare import run_order
from benchmarks.datasets import Offered, count_ok, offer
from benchmarks.peers import Client, Job, catalog_url
from benchmarks.procs import run_measured
from benchmarks.results import ClientResult, RunRecord, ScenarioResult
from benchmarks.scenarios import TransferScenario
from benchmarks.servers import NginxServer
from benchmarks.skyhaul_outcome import catalog_downloaded, read_summary
from benchmarks.tools import REPO, Tool, is_skyhaul

__all__ = ["run_transfer_scenario"]

_STDERR_TAIL_LINES = 15
_LOG_FLUSH_SECONDS = 0.2


def run_transfer_scenario(
    scenario: TransferScenario,
    *,
    tools: Mapping[str, Tool],
    server: NginxServer,
    root: Path,
    work: Path,
    repeat: int,
    say: Callable[[str], None],
) -> ScenarioResult:
    """Run every available client of ``scenario`` ``repeat`` times, alternating.

    Parameters
    ----------
    scenario : TransferScenario
        What to fetch and with which clients.
    tools : mapping
        Available tools by name.
    server : NginxServer
        The running server.
    root : Path
        The server's document root (datasets are generated there).
    work : Path
        Scratch space for this scenario (lists, outputs, catalogs).
    repeat : int
        Repetitions.
    say : callable
        Receives one progress line per run.

    Returns
    -------
    ScenarioResult
    """
    result = ScenarioResult(
        scenario.key,
        scenario.title,
        scenario.description,
        references=dict(scenario.references),
        file_size=scenario.dataset.size,
    )
    runnable: list[Client] = []
    for client in scenario.clients:
        tool = tools.get(client.tool)
        if tool is None or tool.path is None:
            result.skipped[client.tool] = tool.version if tool else "unknown tool"
        else:
            runnable.append(client)
    say(f"[{scenario.key}] preparing {scenario.dataset.count} x {scenario.dataset.size:,} bytes")
    offered = offer(
        scenario.dataset, root, work / "lists", server.base_url, checksums=scenario.checksums
    )
    records: dict[str, list[RunRecord]] = {c.tool: [] for c in runnable}
    commands: dict[str, str] = {}
    for repetition in range(repeat):
        for client in run_order(runnable, repetition):
            tool = tools[client.tool]
            program = tool.path
            assert program is not None
            job = _fresh_job(offered, work / client.tool)
            argv = client.argv(program, job)
            commands[client.tool] = _shown(tool, argv)
            env = _child_env(tool.env)
            record = _run_once(client, program, job, argv, repetition, scenario, server, env)
            records[client.tool].append(record)
            say(f"[{scenario.key}] {repetition + 1}/{repeat} {_progress_line(client, record)}")
            shutil.rmtree(job.out_dir, ignore_errors=True)
            time.sleep(scenario.settle)
    for client in runnable:
        result.clients[client.tool] = ClientResult(
            client.name, commands[client.tool], len(offered.entries), tuple(records[client.tool])
        )
    result.targets = scenario.targets(scenario, result.clients)
    return result


def _fresh_job(offered: Offered, base: Path) -> Job:
    job = Job(offered, base / "out", base / "scratch")
    for directory in (job.out_dir, job.scratch):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    return job


def _run_once(
    client: Client,
    program: str,
    job: Job,
    argv: list[str],
    repetition: int,
    scenario: TransferScenario,
    server: NginxServer,
    env: dict[str, str],
) -> RunRecord:
    stdout, stderr = job.scratch / "stdout.log", job.scratch / "stderr.log"
    mark = server.limited_mark()
    measurement = run_measured(
        argv, timeout=scenario.timeout, stdout=stdout, stderr=stderr, cwd=REPO, env=env
    )
    requests = None
    if scenario.dataset.location == "limited":
        time.sleep(_LOG_FLUSH_SECONDS)  # nginx logs a request just after answering it
        requests = server.limited_since(mark)
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
        stderr_tail=_tail(stderr),
    )


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The harness's environment without proxies (every request must stay on loopback),
    plus the tool's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["COLUMNS"] = "160"  # rich wraps logs at 80 columns without a terminal
    env.update(extra)
    return env


def _shown(tool: Tool, argv: list[str]) -> str:
    """The command as the report lists it, with the tool's own variables in front."""
    variables = [f"{name}={value}" for name, value in tool.env.items()]
    return shlex.join([*variables, *argv])


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_STDERR_TAIL_LINES:])


def _progress_line(client: Client, record: RunRecord) -> str:
    m = record.measurement
    line = f"{client.name}: {m.wall:.2f} s wall, {m.cpu:.2f} s CPU, {record.files_ok} files ok"
    if m.timed_out:
        line += ", TIMED OUT"
    elif m.returncode != 0:
        line += f", exit {m.returncode}"
    if record.requests is not None:
        line += f", {record.requests.refused}/{record.requests.requests} requests refused"
    return line
