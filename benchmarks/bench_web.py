"""Web view under load (w): fifty browsers following one import job run by ``skyhaul serve``.

    python -m benchmarks.bench_web [--quick] [--repeat N]

Issue 15: "the server keeps up with 50 browsers following one job (SSE), measured: events
per second delivered and CPU of the server; the engine's throughput with 50 followers
stays within 5% of none."

Rules:
- The simulator runs as a child (``simproc.SimProcess``) with the MAST observations of
  (m), their products made before any timing. Two cases (``cases``): (m)'s observation
  of 200 FITS products, 2 GiB, each connection served at ``bench_mast.BANDWIDTH`` (the
  engine then takes what the 2 cores give: the server's CPU is the bound), and the
  30-product observation at ``THROTTLED`` per connection (the network is the bound: what
  the followers cost the server shows alone). ``--quick``: the small one in both.
- Each run starts ``skyhaul serve --port 0`` as a child of its own with a fresh SQLite
  catalog and destination, so no run inherits another's catalog, files or feeds.
- A run: ``GET /api/session`` (the CSRF value), ``POST /api/mast/import`` of the
  observation over HTTP, then ``N`` followers open ``GET /api/jobs/{id}/events`` at once
  (``sse_follow.follow``: messages and bytes counted, the last state kept) while the
  harness reads ``GET /api/jobs/{id}`` every ``POLL_S`` until the job is finished (the
  same in both settings, so both pay it).
- Measured: the server's CPU (``/proc/PID/stat``, every thread of it) from just before
  the POST to the poll that sees the job finished, and per second of that window; over the
  same window the simulator's, the harness's own (the followers') and the rest of the
  machine's (``/proc/stat`` busy time minus those three: other work sharing the 2 cores,
  which shows in the throughput); the job's wall from the POST to its ``finished_at``;
  the engine's throughput, bytes over ``started_at`` to ``finished_at`` (the server's own
  clock); ``event: job`` messages delivered in all and per second, and each follower's
  push rate (``sse_follow.push_rate``) and wait for its first message.
- Settings ``FOLLOWERS`` alternate within a repetition (0 then 50, then 50 then 0);
  figures are medians over repetitions, correctness (every follower got the final state
  and ``event: end``) the worst run (``web_figures``).
- Targets, in each case: throughput with 50 followers at least ``THROUGHPUT_KEPT`` of that
  with none, as the median of each repetition's ratio (its two runs back to back: a
  change of the machine's load hits both, and each ratio is shown with the other
  processes' CPU); every follower got the final state; the median follower's push rate
  at least ``KEEP_UP`` of the server's push rate (a job run in the server is pushed every
  ``live_interval`` when it changes: 4 per second).
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import web_figures
from benchmarks.bench_mast import BANDWIDTH, BENCH_OBS, QUICK_OBS, sim_args
from benchmarks.procs import cpu_seconds, machine_busy_seconds
from benchmarks.results import ScenarioResult
from benchmarks.simproc import ChildServer, SimProcess
from benchmarks.sse_follow import Followed, follow
from benchmarks.tools import SKYHAUL, Tool
from benchmarks.web_figures import FOLLOWERS, PUSH_RATE, Case, Usage, WebRun
from skyhaul.core.jobs import TERMINAL_STATES

__all__ = ["THROTTLED", "ServeProcess", "cases", "main", "scenario"]

MiB = 1 << 20
#: Bytes per second each connection gets in the case where the network is the bound.
THROTTLED = 1 * MiB
POLL_S = 0.25
TIMEOUT_S = 900.0
#: Seconds the followers may take to get the final state once the job is finished.
END_GRACE_S = 30.0
_FINISHED = frozenset(state.value for state in TERMINAL_STATES)


class ServeProcess(ChildServer):
    """``skyhaul serve ARGS`` as a child, for the life of a ``with`` block."""

    command = "serve"


def _usage(server: int, sim: int) -> Usage:
    own = resource.getrusage(resource.RUSAGE_SELF)
    harness = own.ru_utime + own.ru_stime
    return Usage(cpu_seconds(server), cpu_seconds(sim), harness, machine_busy_seconds())


def cases(*, quick: bool) -> tuple[Case, ...]:
    """The CPU-bound case and the network-bound one (``quick``: the small observation in
    both, 4 MiB/s per connection in the second so that it lasts seconds, not ten)."""
    big = QUICK_OBS if quick else BENCH_OBS
    throttled = 4 * THROTTLED if quick else THROTTLED
    return (
        Case(big, BANDWIDTH, "the 2 cores are the bound"),
        Case(QUICK_OBS, throttled, "the network is the bound"),
    )


def scenario(
    *,
    quick: bool,
    repeat: int,
    work: Path,
    root: Path,
    tools: Mapping[str, Tool],
    base: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> ScenarioResult:
    """Run the import with 0 and 50 followers, alternating, ``repeat`` times each (w).

    Parameters
    ----------
    quick : bool
        The default profile's 30-product observation instead of the 2 GiB one.
    repeat : int
        Runs per setting.
    work : Path
        Scratch space; removed at the end.
    root : Path
        Where the simulator's products are cached (``root/sim-mast``).
    tools : mapping
        Available tools by name (skyhaul's current tree among them).
    base : str, optional
        Not compared here.
    say : callable
        Receives progress lines.
    """
    result = ScenarioResult(
        "w",
        f"Web view: {max(FOLLOWERS)} browsers following one import job over SSE, and none",
        _DESCRIPTION.format(followers=max(FOLLOWERS), rate=PUSH_RATE, poll=POLL_S),
    )
    skyhaul = tools.get(SKYHAUL)
    if skyhaul is None or skyhaul.path is None:
        result.skipped["all clients"] = "skyhaul unavailable"
        return result
    runs: list[WebRun] = []
    chosen = cases(quick=quick)
    observations = [case.obs_id for case in chosen]
    with SimProcess(work / "sim", sim_args(root, quick=quick)) as sim:
        for obs_id in dict.fromkeys(observations):
            say(f"[w] making the products of {obs_id} on the simulator")
            sim.get(f"_sim/mast/products?obs_id={obs_id}")
        for case in chosen:
            sim.configure({"bandwidth": case.bandwidth})
            for repetition in range(repeat):
                order = FOLLOWERS if repetition % 2 == 0 else FOLLOWERS[::-1]
                for followers in order:
                    run = _run(sim, case, (repetition, followers), work / "serve")
                    runs.append(run)
                    say(f"[w] {case.label} {repetition + 1}/{repeat} {web_figures.line(run)}")
    by_case = web_figures.by_case(runs)
    result.tables = [web_figures.table(mine) for mine in by_case.values()]
    for label, mine in by_case.items():
        cost = web_figures.cost_per_event(mine)
        if cost is not None:
            key = f"server CPU per event delivered, ms ({max(FOLLOWERS)} less none), {label}"
            result.extra[key] = round(cost * 1000, 3)
    result.targets = web_figures.targets(runs)
    result.commands = [
        " ".join(["skyhaul serve", *_serve_args("SIM", Path("/SCRATCH"))]),
        *(f"POST /api/mast/import {_import_body(obs)}" for obs in dict.fromkeys(observations)),
        f"GET /api/jobs/ID/events (x {max(FOLLOWERS)})",
    ]
    return result


_DESCRIPTION = (
    "`skyhaul serve` (a child, restarted with a fresh SQLite catalog for every run) imports "
    "one observation from the archive simulator's MAST over HTTP, started with `POST "
    "/api/mast/import`; the job runs inside the server, in the same process and event loop "
    "as the pages and the event streams. Two cases: 2 GiB with each connection served at "
    "64 MiB/s, where the engine takes what the 2 cores give (the server's CPU is the "
    "bound), and a small observation served slowly, where the network is the bound and "
    "what the followers cost the server shows alone. "
    "Either nobody follows it or {followers} followers (aiohttp in the harness, as "
    "browsers on the job page) read `GET /api/jobs/ID/events` from the POST to the end; "
    "the harness also reads `GET /api/jobs/ID` every {poll} s in both settings to see the "
    "end. The two settings alternate. Server CPU is utime + stime of its process from "
    "/proc over the job; throughput is the job's bytes over its own started-to-finished "
    "time; the target compares the two runs of each repetition. Other processes' CPU is "
    "the machine's busy time (/proc/stat) less the server's, the simulator's and the "
    "harness's: "
    "work of others sharing the 2 cores. A job run in the server is pushed when it changed, "
    "every 0.25 s: {rate:.0f} events/s per follower at most. Measured by "
    "benchmarks/bench_web.py."
)


def _import_body(obs_id: str) -> dict[str, Any]:
    return {"obs_ids": [obs_id], "source": "http"}


def _serve_args(sim_url: str, scratch: Path) -> list[str]:
    return [
        "--port=0",
        f"--catalog=sqlite:///{scratch / 'catalog.db'}",
        f"--dest={scratch / 'out'}",
        f"--mast-url={sim_url}",
    ]


def _run(sim: SimProcess, case: Case, which: tuple[int, int], scratch: Path) -> WebRun:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with ServeProcess(scratch, _serve_args(sim.base_url, scratch.resolve())) as serve:
            pids = (serve.pid, sim.pid)
            return asyncio.run(_drive(serve.base_url, pids, case, which))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def _drive(base: str, pids: tuple[int, int], case: Case, which: tuple[int, int]) -> WebRun:
    """Start the import, follow it ``followers`` times, wait for its end; measure (``pids``:
    the server's and the simulator's; ``which``: the repetition and the followers)."""
    repetition, followers = which
    connector = aiohttp.TCPConnector(limit=0)  # a connection per follower, as browsers
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        csrf = (await _json(session, "GET", f"{base}api/session"))["csrf"]
        before, start = _usage(*pids), time.monotonic()
        posted = time.time()
        answer = await _json(
            session,
            "POST",
            f"{base}api/mast/import",
            json=_import_body(case.obs_id),
            headers={"X-CSRF-Token": csrf},
        )
        job_id = int(answer["job_id"])
        url = f"{base}api/jobs/{job_id}/events"
        tasks = [asyncio.ensure_future(follow(session, url)) for _ in range(followers)]
        job = await _until_finished(session, f"{base}api/jobs/{job_id}")
        window = time.monotonic() - start
        used = _usage(*pids) - before
        followed = await _ends(tasks)
    started, finished = _when(job["started_at"]), _when(job["finished_at"])
    progress = job.get("progress") or {}
    return WebRun(
        case=case.label,
        repetition=repetition,
        followers=followers,
        state=str(job["state"]),
        files=(int(progress.get("files_done", 0)), int(progress.get("files_total", 0))),
        bytes=int(progress.get("bytes_done", 0)),
        job_wall=finished - posted,
        engine_wall=finished - started,
        window=window,
        cpu=used,
        followed=tuple(followed),
    )


async def _ends(tasks: Sequence[asyncio.Future[Followed]]) -> list[Followed]:
    """What each follower saw; one still reading ``END_GRACE_S`` after the job's end is
    stopped and counted as having missed the end."""
    if not tasks:
        return []
    _, late = await asyncio.wait(tasks, timeout=END_GRACE_S)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    missed = Followed(0, 0, False, 0, None, None, error=f"no end within {END_GRACE_S:.0f} s")
    return [missed if task in late else task.result() for task in tasks]


async def _json(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> dict[str, Any]:
    async with session.request(method, url, **kwargs) as answer:
        text = await answer.text()
        if answer.status != 200:
            raise RuntimeError(f"{method} {url}: HTTP {answer.status}: {text[:300]}")
        document: dict[str, Any] = await answer.json()
        return document


async def _until_finished(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = await _json(session, "GET", url)
        if job["state"] in _FINISHED:
            return job
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"{url}: not finished within {TIMEOUT_S:.0f} s")


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def main(argv: list[str] | None = None) -> None:
    """Command line: run (w) alone and print its section (see the module docstring)."""
    from benchmarks import standalone

    standalone.run_alone(argv, __doc__, "skyhaul-bench-web-", scenario)


if __name__ == "__main__":
    main()
