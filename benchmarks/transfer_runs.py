"""Run a transfer scenario: every client in turn, repeated, each run timed and checked.

Rules:
- Repetitions alternate the clients (A B C, A B C, ...), so slow drifts in the machine's
  load spread over all of them instead of landing on one. With ``--compare``, skyhaul and
  its base revision swap places on every other repetition (``compare.run_order``).
- Each run is ``client_runs.run_once``: fresh output and scratch directories, the
  harness's environment without proxies, the files checked afterwards; the rate-limited
  location's refusals are counted from nginx's log. The output is then deleted to keep
  memory free.
- Results are kept by ``Client.key``, so two clients of one tool (parfive with two
  splittings) are two rows.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from benchmarks.client_runs import fresh_job, progress_line, run_once, shown
from benchmarks.compare import run_order
from benchmarks.datasets import offer
from benchmarks.peers import Client
from benchmarks.results import ClientResult, RunRecord, ScenarioResult
from benchmarks.scenarios import TransferScenario
from benchmarks.servers import NginxServer, RequestCount
from benchmarks.tools import Tool

__all__ = ["run_transfer_scenario", "runnable_clients"]

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
    runnable = runnable_clients(scenario.clients, tools, result.skipped)
    say(f"[{scenario.key}] preparing {scenario.dataset.count} x {scenario.dataset.size:,} bytes")
    offered = offer(
        scenario.dataset, root, work / "lists", server.base_url, checksums=scenario.checksums
    )
    meter = _LimitedMeter(server) if scenario.dataset.location == "limited" else None
    records: dict[str, list[RunRecord]] = {c.key: [] for c in runnable}
    commands: dict[str, str] = {}
    for repetition in range(repeat):
        for client in run_order(runnable, repetition):
            tool = tools[client.tool]
            assert tool.path is not None
            job = fresh_job(offered, work / client.dirname)
            commands[client.key] = shown(tool, client.argv(tool.path, job))
            record = run_once(client, tool, job, repetition, timeout=scenario.timeout, meter=meter)
            records[client.key].append(record)
            say(f"[{scenario.key}] {repetition + 1}/{repeat} {progress_line(client, record)}")
            shutil.rmtree(job.out_dir, ignore_errors=True)
            time.sleep(scenario.settle)
    for client in runnable:
        result.clients[client.key] = ClientResult(
            client.name, commands[client.key], len(offered.entries), tuple(records[client.key])
        )
    result.targets = scenario.targets(scenario, result.clients)
    return result


def runnable_clients(
    clients: tuple[Client, ...], tools: Mapping[str, Tool], skipped: dict[str, str]
) -> list[Client]:
    """The clients whose tool is available; each other tool goes into ``skipped`` with why."""
    runnable: list[Client] = []
    for client in clients:
        tool = tools.get(client.tool)
        if tool is None or tool.path is None:
            skipped[client.tool] = tool.version if tool else "unknown tool"
        else:
            runnable.append(client)
    return runnable


class _LimitedMeter:
    """Requests and 429s of ``/limited/`` during a run, from nginx's access log."""

    def __init__(self, server: NginxServer) -> None:
        self._server = server
        self._mark = 0

    def start(self) -> None:
        self._mark = self._server.limited_mark()

    def stop(self) -> RequestCount:
        time.sleep(_LOG_FLUSH_SECONDS)  # nginx logs a request just after answering it
        return self._server.limited_since(self._mark)
