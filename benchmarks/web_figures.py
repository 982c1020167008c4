"""The web load benchmark's figures (w): runs reduced to medians, tables and targets.

Rules (as ``results``): rates, walls and CPU are medians over repetitions; correctness
(every follower got the final state) is the worst run. Throughput with and without
followers is compared within a repetition, whose two runs are back to back, so that a
change of the machine's load hits both; each ratio is shown with the CPU other processes
took meanwhile. Nothing here runs anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.results import FigureTable, TargetCheck
from benchmarks.sse_follow import Followed
from skyhaul.web.settings import WebSettings

__all__ = [
    "FOLLOWERS",
    "KEEP_UP",
    "PUSH_RATE",
    "THROUGHPUT_KEPT",
    "Case",
    "Usage",
    "WebRun",
    "by_case",
    "cost_per_event",
    "line",
    "paired_ratios",
    "table",
    "targets",
]

MiB = 1 << 20
#: Browsers following the job in each setting.
FOLLOWERS = (0, 50)
THROUGHPUT_KEPT = 0.95
KEEP_UP = 0.8
#: Pushes per second of a job run in the server (one every ``live_interval``).
PUSH_RATE = 1 / WebSettings().live_interval


@dataclass(frozen=True, slots=True)
class Case:
    """One observation imported at one bandwidth per connection.

    Parameters
    ----------
    obs_id : str
        The observation.
    bandwidth : int
        Bytes per second the simulator serves each connection at.
    why : str
        What the case shows, in a few words.
    """

    obs_id: str
    bandwidth: int
    why: str

    @property
    def label(self) -> str:
        """The case in a few words."""
        return f"{self.bandwidth / MiB:g} MiB/s per connection ({self.why})"


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


@dataclass(frozen=True, slots=True)
class WebRun:
    """One import job followed by ``followers`` browsers.

    Parameters
    ----------
    case : str
        The case's label (``Case.label``).
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

    case: str
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


def line(run: WebRun) -> str:
    """One run in a progress line."""
    rates = run.rates
    rate = f", {statistics.median(rates):.2f} events/s per follower" if rates else ""
    if run.waits:
        rate += f", first event after {max(run.waits):.2f} s at most"
    return (
        f"{run.followers} followers: job {run.state}, {run.files[0]}/{run.files[1]} files, "
        f"{_mib(run.throughput)} MiB/s, wall {run.job_wall:.2f} s, server CPU "
        f"{run.cpu.server:.2f} s ({run.cpu.server / run.window:.2f} cores; simulator "
        f"{run.cpu.sim:.2f} s, others {run.cpu.others / run.window:.2f} cores), "
        f"{run.events_per_second:,.0f} events/s delivered{rate}, "
        f"{run.complete}/{run.followers} got the final state"
    )


def _mib(rate: float) -> str:
    """MiB/s with three figures at least (a throttled job runs at about 1)."""
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _throughput(runs: Sequence[WebRun], followers: int) -> float | None:
    return _median([r.throughput for r in runs if r.followers == followers])


def by_case(runs: Sequence[WebRun]) -> dict[str, list[WebRun]]:
    """The runs by case, in the order they ran."""
    by_case: dict[str, list[WebRun]] = {}
    for run in runs:
        by_case.setdefault(run.case, []).append(run)
    return by_case


def table(runs: Sequence[WebRun]) -> FigureTable:
    """One case's runs, a row per setting."""
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
                _mib(_throughput(mine, followers) or 0.0),
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
    case = "" if first is None else f"{first.case}: "
    return FigureTable(f"{case}one import job{what}, medians over runs:", head, tuple(rows))


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
    """Server CPU seconds per ``job`` message delivered in one case: the median server CPU
    with the most followers, less that with none, over the median messages delivered."""
    few, most = min(FOLLOWERS), max(FOLLOWERS)
    alone = _median([r.cpu.server for r in runs if r.followers == few])
    followed = [r for r in runs if r.followers == most]
    if alone is None or not followed:
        return None
    events = statistics.median(sum(f.jobs for f in r.followed) for r in followed)
    extra = statistics.median(r.cpu.server for r in followed) - alone
    return extra / events if events else None


def paired_ratios(runs: Sequence[WebRun]) -> list[tuple[float, float]]:
    """Per repetition of one case (both settings back to back, so a change of the machine's
    load hits both alike): throughput with the most followers over that with none, and the other
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
    """Throughput kept with the most followers (each case), every follower at the end,
    the push rate."""
    most = max(FOLLOWERS)
    checks = [_kept(label, mine) for label, mine in by_case(runs).items()] or [
        TargetCheck(f"engine throughput with {most} followers", "n/a", "nothing ran")
    ]
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


def _kept(label: str, runs: Sequence[WebRun]) -> TargetCheck:
    few, most = min(FOLLOWERS), max(FOLLOWERS)
    text = (
        f"engine throughput with {most} followers ≥ {THROUGHPUT_KEPT:.0%} of that with {few}, "
        f"{label} (median of the repetitions' ratios)"
    )
    pairs = paired_ratios(runs)
    if not pairs:
        return TargetCheck(text, "n/a", "a setting did not run")
    ratio = statistics.median(ratio for ratio, _ in pairs)
    each = ", ".join(f"{r:.2f} (others {o:.2f} cores)" for r, o in pairs)
    alone, followed = _throughput(runs, few), _throughput(runs, most)
    detail = f"{ratio:.3f}; per repetition {each}; medians {followed:,.1f} / {alone:,.1f} MiB/s"
    finished = all(r.state == "succeeded" and r.files[0] == r.files[1] for r in runs)
    if not finished:
        detail += "; a job did not succeed with every file"
    return TargetCheck(text, "met" if ratio >= THROUGHPUT_KEPT and finished else "missed", detail)
