"""Web view under load (w): fifty browsers following one import job run by ``skyhaul serve``.

    python -m benchmarks.bench_web [--quick] [--repeat N]

Issue 15: "the server keeps up with 50 browsers following one job (SSE), measured: events
per second delivered and CPU of the server; the engine's throughput with 50 followers
stays within 5% of none."

Rules:
- The simulator runs as a child (``simproc.SimProcess``) with the MAST observation of
  (m) (``bench_mast.BENCH_OBS``, 200 FITS products, 2 GiB; ``--quick``: ``QUICK_OBS``),
  its products made before any timing, each connection served at ``bench_mast.BANDWIDTH``.
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
  which shows in the throughput); the job's wall from the POST
  to its ``finished_at``; the engine's throughput, bytes over ``started_at`` to
  ``finished_at`` (the server's own clock); ``event: job`` messages delivered in all and
  per second, and each follower's push rate (``sse_follow.push_rate``).
- Settings ``FOLLOWERS`` alternate within a repetition (0 then 50, then 50 then 0);
  figures are medians over repetitions, correctness (every follower got the final state
  and ``event: end``) the worst run.
- Targets: throughput with 50 followers at least ``THROUGHPUT_KEPT`` of that with none,
  as the median of each repetition's ratio (its two runs back to back: a change of the
  machine's load hits both, and each ratio is shown with the other processes' CPU);
  every follower got the final state; the median follower's push rate at least
  ``KEEP_UP`` of the server's push rate (a job run in the server is pushed every
  ``live_interval`` when it changes: 4 per second).
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.bench_mast import BANDWIDTH, BENCH_OBS, QUICK_OBS, sim_args
from benchmarks.procs import cpu_seconds, machine_busy_seconds
from benchmarks.results import FigureTable, ScenarioResult, TargetCheck
from benchmarks.simproc import ChildServer, SimProcess
from benchmarks.sse_follow import Followed, follow
from benchmarks.tools import SKYHAUL, Tool
from skyhaul.web.settings import WebSettings

__all__ = [
    "FOLLOWERS",
    "ServeProcess",
    "Usage",
    "WebRun",
    "cost_per_event",
    "main",
    "paired_ratios",
    "scenario",
    "targets",
]

MiB = 1 << 20
#: Browsers following the job in each setting.
FOLLOWERS = (0, 50)
THROUGHPUT_KEPT = 0.95
KEEP_UP = 0.8
#: Pushes per second of a job run in the server (one every ``live_interval``).
PUSH_RATE = 1 / WebSettings().live_interval
POLL_S = 0.25
TIMEOUT_S = 900.0
#: Seconds the followers may take to get the final state once the job is finished.
END_GRACE_S = 30.0
_FINISHED = frozenset({"succeeded", "failed", "cancelled", "interrupted"})


class ServeProcess(ChildServer):
    """``skyhaul serve ARGS`` as a child, for the life of a ``with`` block."""

    command = "serve"


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds used over a window.

    Parameters
    ----------
    server, sim, harness : float
        By ``skyhaul serve``, by the simulator, by the harness (the followers, the polls).
    machine : float
        By every process of the machine (busy time of all cores).
    """

    server: float
    sim: float
    harness: float
    machine: float

    @property
    def others(self) -> float:
        """By the rest of the machine (other work sharing the cores)."""
        return max(0.0, self.machine - self.server - self.sim - self.harness)

    def __sub__(self, before: Usage) -> Usage:
        return Usage(
            self.server - before.server,
            self.sim - before.sim,
            self.harness - before.harness,
            self.machine - before.machine,
        )


def _usage(server: int, sim: int) -> Usage:
    own = resource.getrusage(resource.RUSAGE_SELF)
    harness = own.ru_utime + own.ru_stime
    return Usage(cpu_seconds(server), cpu_seconds(sim), harness, machine_busy_seconds())


@dataclass(frozen=True, slots=True)
class WebRun:
    """One import job followed by ``followers`` browsers.

    Parameters
    ----------
    repetition : int
        0-based repetition (both settings run once in each, one after the other).
    followers : int
        Followers opened.
    state : str
        The job's final state.
    files : tuple of int
        Files done and to do.
    bytes : int
        Bytes the job brought.
    job_wall : float
        Seconds from the POST to the job's ``finished_at``.
    engine_wall : float
        Seconds from its ``started_at`` to its ``finished_at``.
    window : float
        Seconds the CPU was measured over (the POST to the poll that saw it finished).
    cpu : Usage
        CPU seconds over ``window``: the server's, the simulator's, the harness's and the
        whole machine's.
    followed : tuple of Followed
        What each follower saw.
    """

    repetition: int
    followers: int
    state: str
    files: tuple[int, int]
    bytes: int
    job_wall: float
    engine_wall: float
    window: float
    cpu: Usage
    followed: tuple[Followed, ...]

    @property
    def throughput(self) -> float:
        """The engine's MiB per second."""
        return self.bytes / MiB / self.engine_wall if self.engine_wall > 0 else 0.0

    @property
    def events_per_second(self) -> float:
        """``event: job`` messages delivered to all followers per second of the window."""
        return sum(f.jobs for f in self.followed) / self.window

    @property
    def bytes_per_second(self) -> float:
        """Stream bytes delivered to all followers per second of the window."""
        return sum(f.bytes for f in self.followed) / self.window

    @property
    def rates(self) -> list[float]:
        """Each follower's push rate (those with at least two messages)."""
        return [f.rate for f in self.followed if f.rate is not None]

    @property
    def waits(self) -> list[float]:
        """Each follower's wait for its first message."""
        return [f.waited for f in self.followed if f.waited is not None]

    @property
    def complete(self) -> int:
        """Followers that got the job's final state and then ``event: end``."""
        return sum(f.ended and f.final_state == self.state for f in self.followed)


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
    obs_id = QUICK_OBS if quick else BENCH_OBS
    result = ScenarioResult(
        "w",
        f"Web view: {max(FOLLOWERS)} browsers following one import job ({obs_id}) over SSE",
        _DESCRIPTION.format(
            followers=max(FOLLOWERS), bandwidth=BANDWIDTH // MiB, rate=PUSH_RATE, poll=POLL_S
        ),
    )
    skyhaul = tools.get(SKYHAUL)
    if skyhaul is None or skyhaul.path is None:
        result.skipped["all clients"] = "skyhaul unavailable"
        return result
    runs: list[WebRun] = []
    with SimProcess(work / "sim", sim_args(root, quick=quick)) as sim:
        say(f"[w] making the products of {obs_id} on the simulator")
        sim.get(f"_sim/mast/products?obs_id={obs_id}")
        sim.configure({"bandwidth": BANDWIDTH})
        for repetition in range(repeat):
            order = FOLLOWERS if repetition % 2 == 0 else FOLLOWERS[::-1]
            for followers in order:
                run = _run(sim, obs_id, (repetition, followers), work / "serve")
                runs.append(run)
                say(f"[w] {repetition + 1}/{repeat} {_line(run)}")
    result.tables = [_table(runs)]
    cost = cost_per_event(runs)
    if cost is not None:
        key = f"server CPU per event delivered, ms ({max(FOLLOWERS)} followers less none)"
        result.extra[key] = round(cost * 1000, 3)
    result.targets = targets(runs)
    result.commands = [
        " ".join(["skyhaul serve", *_serve_args("SIM", Path("/SCRATCH"))]),
        f"POST /api/mast/import {_import_body(obs_id)}",
        f"GET /api/jobs/ID/events (x {max(FOLLOWERS)})",
    ]
    return result


_DESCRIPTION = (
    "`skyhaul serve` (a child, restarted with a fresh SQLite catalog for every run) imports "
    "one observation from the archive simulator's MAST over HTTP, each connection served "
    "at {bandwidth} MiB/s, started with `POST /api/mast/import`; the job runs inside the "
    "server, in the same process and event loop as the pages and the event streams. "
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


def _run(sim: SimProcess, obs_id: str, which: tuple[int, int], scratch: Path) -> WebRun:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with ServeProcess(scratch, _serve_args(sim.base_url, scratch.resolve())) as serve:
            pids = (serve.pid, sim.pid)
            return asyncio.run(_drive(serve.base_url, pids, obs_id, which))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def _drive(base: str, pids: tuple[int, int], obs_id: str, which: tuple[int, int]) -> WebRun:
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
            json=_import_body(obs_id),
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


def _line(run: WebRun) -> str:
    rates = run.rates
    rate = f", {statistics.median(rates):.2f} events/s per follower" if rates else ""
    if run.waits:
        rate += f", first event after {max(run.waits):.2f} s at most"
    return (
        f"{run.followers} followers: job {run.state}, {run.files[0]}/{run.files[1]} files, "
        f"{run.throughput:,.0f} MiB/s, wall {run.job_wall:.2f} s, server CPU "
        f"{run.cpu.server:.2f} s ({run.cpu.server / run.window:.2f} cores; simulator "
        f"{run.cpu.sim:.2f} s, others {run.cpu.others / run.window:.2f} cores), "
        f"{run.events_per_second:,.0f} events/s delivered{rate}, "
        f"{run.complete}/{run.followers} got the final state"
    )


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _throughput(runs: Sequence[WebRun], followers: int) -> float | None:
    return _median([r.throughput for r in runs if r.followers == followers])


def _table(runs: Sequence[WebRun]) -> FigureTable:
    rows = []
    for followers in FOLLOWERS:
        mine = [r for r in runs if r.followers == followers]
        if not mine:
            continue
        walls = sorted(r.job_wall for r in mine)
        rates = [statistics.median(r.rates) for r in mine if r.rates]
        slowest = [min(r.rates) for r in mine if r.rates]
        rows.append(
            (
                str(followers),
                f"{statistics.median(walls):.2f} ({walls[0]:.2f}–{walls[-1]:.2f})",
                f"{_throughput(mine, followers):,.0f}",
                _cpu_cell(mine, lambda usage: usage.server),
                f"{statistics.median(r.events_per_second for r in mine):,.0f}",
                _rate_cell(rates, slowest),
                _wait_cell(mine),
                f"{statistics.median(r.bytes_per_second for r in mine) / 1024:,.0f}",
                f"{min(r.complete for r in mine)}/{followers}",
                _cpu_cell(mine, lambda usage: usage.harness),
                _cpu_cell(mine, lambda usage: usage.sim),
                _cpu_cell(mine, lambda usage: usage.others),
            )
        )
    head = (
        "followers",
        "job wall s (range)",
        "engine MiB/s",
        "server CPU s (per s)",
        "events/s delivered",
        "events/s per follower (slowest)",
        "s to the first event (slowest)",
        "KiB/s delivered",
        "followers with the final state",
        "followers' CPU s (per s)",
        "simulator CPU s (per s)",
        "other processes' CPU s (per s)",
    )
    first = runs[0] if runs else None
    what = "" if first is None else f" ({first.files[1]} files, {first.bytes / MiB:,.0f} MiB)"
    return FigureTable(f"One import job{what}, medians over runs:", head, tuple(rows))


def _cpu_cell(runs: Sequence[WebRun], used: Callable[[Usage], float]) -> str:
    seconds = statistics.median(used(r.cpu) for r in runs)
    per_second = statistics.median(used(r.cpu) / r.window for r in runs)
    return f"{seconds:.2f} ({per_second:.2f})"


def _wait_cell(runs: Sequence[WebRun]) -> str:
    waits = [r.waits for r in runs if r.waits]
    if not waits:
        return ""
    median = statistics.median(statistics.median(w) for w in waits)
    return f"{median:.2f} ({statistics.median(max(w) for w in waits):.2f})"


def _rate_cell(rates: Sequence[float], slowest: Sequence[float]) -> str:
    if not rates:
        return ""
    return f"{statistics.median(rates):.2f} ({min(slowest):.2f})"


def cost_per_event(runs: Sequence[WebRun]) -> float | None:
    """Server CPU seconds per ``job`` message delivered: the median server CPU with the
    most followers, less that with none, over the median messages delivered."""
    few, most = min(FOLLOWERS), max(FOLLOWERS)
    alone = _median([r.cpu.server for r in runs if r.followers == few])
    followed = [r for r in runs if r.followers == most]
    if alone is None or not followed:
        return None
    events = statistics.median(sum(f.jobs for f in r.followed) for r in followed)
    extra = statistics.median(r.cpu.server for r in followed) - alone
    return extra / events if events else None


def paired_ratios(runs: Sequence[WebRun]) -> list[tuple[float, float]]:
    """Per repetition (both settings back to back, so a change of the machine's load hits
    both alike): throughput with the most followers over that with none, and the other
    processes' CPU per second in the busier of the two runs (how disturbed the pair was)."""
    few, most = min(FOLLOWERS), max(FOLLOWERS)
    pairs = []
    for repetition in sorted({r.repetition for r in runs}):
        alone = [r for r in runs if r.repetition == repetition and r.followers == few]
        followed = [r for r in runs if r.repetition == repetition and r.followers == most]
        if alone and followed and alone[0].throughput > 0:
            others = max(r.cpu.others / r.window for r in (alone[0], followed[0]))
            pairs.append((followed[0].throughput / alone[0].throughput, others))
    return pairs


def targets(runs: Sequence[WebRun]) -> list[TargetCheck]:
    """Throughput kept with the most followers, every follower at the end, the push rate."""
    few, most = min(FOLLOWERS), max(FOLLOWERS)
    checks = []
    text = (
        f"engine throughput with {most} followers ≥ {THROUGHPUT_KEPT:.0%} of that with {few} "
        "(median of the repetitions' ratios)"
    )
    pairs = paired_ratios(runs)
    finished = all(r.state == "succeeded" and r.files[0] == r.files[1] for r in runs)
    if not pairs:
        checks.append(TargetCheck(text, "n/a", "a setting did not run"))
    else:
        ratio = statistics.median(ratio for ratio, _ in pairs)
        each = ", ".join(f"{r:.2f} (others {o:.2f} cores)" for r, o in pairs)
        alone, followed = _throughput(runs, few), _throughput(runs, most)
        detail = f"{ratio:.3f}; per repetition {each}; medians {followed:,.0f} / {alone:,.0f} MiB/s"
        if not finished:
            detail += "; a job did not succeed with every file"
        ok = ratio >= THROUGHPUT_KEPT and finished
        checks.append(TargetCheck(text, "met" if ok else "missed", detail))
    text = f"each of the {most} followers got the job's final state and `event: end`"
    watched = [r for r in runs if r.followers]
    if not watched:
        checks.append(TargetCheck(text, "n/a", "no run with followers"))
    else:
        counts = ", ".join(f"{r.complete}/{r.followers}" for r in watched)
        ok = all(r.complete == r.followers for r in watched)
        checks.append(TargetCheck(text, "met" if ok else "missed", f"{counts} per run"))
    text = f"the median follower gets ≥ {KEEP_UP:.0%} of the push rate ({PUSH_RATE:.0f} events/s)"
    medians = [statistics.median(r.rates) for r in watched if r.rates]
    if not medians:
        checks.append(TargetCheck(text, "n/a", "no follower saw two events"))
    else:
        rate = statistics.median(medians)
        detail = f"{rate:.2f} events/s (need ≥ {KEEP_UP * PUSH_RATE:.2f})"
        checks.append(TargetCheck(text, "met" if rate >= KEEP_UP * PUSH_RATE else "missed", detail))
    return checks


def main(argv: list[str] | None = None) -> None:
    """Command line: run (w) alone and print its section (see the module docstring)."""
    from benchmarks import standalone

    standalone.run_alone(argv, __doc__, "skyhaul-bench-web-", scenario)


if __name__ == "__main__":
    main()
