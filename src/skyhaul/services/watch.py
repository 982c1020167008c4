"""Continuous operation: discover and download in a loop (the seed's ingestion cycle).

Rules:
- Each cycle: recover stale files, list the source for ``[start, now)`` (``start`` fixed,
  or ``now - lookback``), register, download the source's eligible files, then log one
  summary line. The next cycle starts ``every`` seconds after this one started (at once
  if the cycle took longer).
- A failed listing (archive down) is logged and the cycle's downloads still run for what
  is already known; the loop goes on. Errors the user must fix (credentials,
  configuration) stop it.
- A cycle fails when its listing fails or one of its files does; its line is then a
  WARNING (INFO otherwise). A watch whose last ``WATCH_FAILING_CYCLES`` completed cycles
  all failed (every one, when fewer completed) is failing (:func:`failing_cycles`): its
  command exits 1 when it stops, however it was stopped.
- Each cycle is a job of kind ``watch_cycle``, queued when the cycle starts with the
  parameters that reproduce it (source, configuration file, window, instrument, time
  basis, destination, options; never a secret) and run by
  :func:`skyhaul.services.jobs.run_job`. It ends cancelled when interrupted, failed when
  its listing or a file failed, succeeded otherwise; its summary is the cycle's JSON.
- The cancel event stops the current cycle (files resumable) and the wait; a killed
  watch picks up where it left off, because everything lives in the catalog. A cancel
  of the running cycle's job (``skyhaul jobs cancel``) sets that same event: it stops
  the watch, as Ctrl-C does.
- Clock and sleep are injected; the loop never reads the wall clock itself, except for
  its jobs' times, which other processes read (as :mod:`skyhaul.services.jobs` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources import ListingQuery, Source, TimeBasis
from skyhaul.core.jobparams import options_to_json
from skyhaul.core.jobprogress import job_progress
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.core.progress import ProgressBoard
from skyhaul.core.units import format_size
from skyhaul.core.window import TimeWindow
from skyhaul.errors import SourceError
from skyhaul.ports.catalog import JobStore
from skyhaul.services.acquire import Discovery, acquire, run_download
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.discovery import DiscoveryResult
from skyhaul.services.jobs import JobOutcome, run_job
from skyhaul.services.wiring import async_catalog

__all__ = [
    "WATCH_FAILING_CYCLES",
    "CycleReport",
    "WatchPlan",
    "cycle_params",
    "failing_cycles",
    "watch",
]

log = logging.getLogger("skyhaul.watch")

#: A watch whose last this many cycles all failed (or every cycle, when it ran fewer)
#: exits 1 when it stops.
WATCH_FAILING_CYCLES = 3


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """What a watch does each cycle.

    Parameters
    ----------
    source : Source
        What to list.
    dest_root : str
        Where new files go.
    every : float
        Seconds from the start of one cycle to the start of the next.
    start : datetime or None
        Fixed start of the listing window; None for ``now - lookback``.
    lookback : timedelta
        How far back each cycle lists when ``start`` is None.
    instrument : str or None
        Only this instrument.
    by : {"observation", "downlink"}
        Which time the window applies to.
    cycles : int or None
        Stop after this many cycles (None: until cancelled).
    config : Path or None
        The configuration file the source was read from, absolute (recorded in each
        cycle's job).
    """

    source: Source
    dest_root: str
    every: float
    start: datetime | None = None
    lookback: timedelta = timedelta(days=1)
    instrument: str | None = None
    by: TimeBasis = "downlink"
    cycles: int | None = None
    config: Path | None = None


@dataclass(slots=True)
class CycleReport:
    """One cycle's outcome (``job_id``: the job the cycle was)."""

    number: int
    window: TimeWindow
    discovery: DiscoveryResult | None
    summary: RunSummary
    listing_error: str | None = None
    seconds: float = 0.0
    job_id: int | None = None

    @property
    def failed(self) -> bool:
        """The cycle failed: its listing did, or a file did (its job ends failed)."""
        return self.listing_error is not None or self.summary.not_done > 0

    def line(self) -> str:
        """The one summary line a cycle logs."""
        if self.discovery is not None:
            d = self.discovery
            found = f"listed {d.listed} ({d.new} new, {d.changed} changed)"
        else:
            found = f"listing failed: {self.listing_error}"
        s = self.summary
        job = "" if self.job_id is None else f"; job {self.job_id}"
        return (
            f"cycle {self.number}: {found}; downloaded {s.downloaded} "
            f"({format_size(s.bytes)}), failed {s.failed}, abandoned {s.abandoned}; "
            f"{self.seconds:.1f} s{job}"
        )

    def as_json(self) -> dict[str, object]:
        """The cycle as a JSON-ready dict (the ``--json`` output and its job's summary)."""
        job: dict[str, object] = {} if self.job_id is None else {"job": self.job_id}
        return {
            **job,
            "cycle": self.number,
            "window": [self.window.start.isoformat(), self.window.end.isoformat()],
            "discovery": None if self.discovery is None else self.discovery.as_json(),
            "listing_error": self.listing_error,
            **self.summary.as_json(),
        }


async def watch(
    catalog: Catalog,
    options: TransferOptions,
    plan: WatchPlan,
    *,
    cancel: asyncio.Event | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    on_cycle: Callable[[CycleReport], None] | None = None,
) -> list[CycleReport]:
    """Run discovery-and-download cycles until cancelled (or ``plan.cycles`` are done).

    Returns
    -------
    list of CycleReport
        Every cycle that ran (the last may be interrupted).
    """
    cancel = cancel or asyncio.Event()
    reports: list[CycleReport] = []
    number = 0
    async with async_catalog(catalog) as jobs:
        while not cancel.is_set():
            number += 1
            began = monotonic()
            report = await _cycle(catalog, jobs, options, plan, number, now(), cancel)
            report.seconds = monotonic() - began
            reports.append(report)
            log.log(logging.WARNING if report.failed else logging.INFO, "%s", report.line())
            if on_cycle is not None:
                on_cycle(report)
            if plan.cycles is not None and number >= plan.cycles:
                break
            pause = max(0.0, plan.every - (monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancel.wait(), timeout=pause)
    return reports


async def _cycle(
    catalog: Catalog,
    jobs: JobStore,
    options: TransferOptions,
    plan: WatchPlan,
    number: int,
    moment: datetime,
    cancel: asyncio.Event,
) -> CycleReport:
    start = plan.start if plan.start is not None else moment - plan.lookback
    window = TimeWindow(min(start, moment), moment)
    query = ListingQuery(window=window, instrument=plan.instrument, by=plan.by)
    selection = Selection(instrument=plan.instrument, source=plan.source.name)
    discovery = Discovery(source=plan.source, query=query, dest_root=plan.dest_root)
    params = cycle_params(plan, window, options, number)
    job_id = await jobs.create_job(JobKind.WATCH_CYCLE, params, now=SYSTEM_CLOCK.now())
    board = ProgressBoard(time.monotonic)

    async def work() -> CycleReport:
        try:
            result = await acquire(
                catalog, options, selection, discovery=discovery, cancel=cancel, board=board
            )
        except SourceError as exc:
            # The archive is down or answering badly: download what is already known.
            summary = await run_download(
                catalog, options, selection=selection, cancel=cancel, board=board
            )
            return CycleReport(
                number, window, None, summary, listing_error=exc.message, job_id=job_id
            )
        return CycleReport(number, window, result.discovery, result.summary, job_id=job_id)

    return await run_job(
        catalog,
        job_id,
        work,
        cancel=cancel,
        progress=lambda: job_progress(board.snapshot()),
        outcome=_cycle_outcome,
        lease_seconds=options.lease_seconds,
    )


def failing_cycles(
    reports: Sequence[CycleReport], last: int = WATCH_FAILING_CYCLES
) -> list[CycleReport]:
    """Return the failed cycles that make a watch fail, or nothing when it is healthy.

    A watch fails when its last ``last`` completed cycles all failed, or every completed
    cycle when fewer ran. A cycle interrupted by the stop is no evidence either way.
    """
    completed = [r for r in reports if not r.summary.interrupted]
    tail = completed[-last:]
    return tail if tail and all(r.failed for r in tail) else []


def cycle_params(
    plan: WatchPlan, window: TimeWindow, options: TransferOptions, number: int
) -> dict[str, Any]:
    """What a cycle's job records of it: enough to list and download the same again."""
    return {
        "source": plan.source.name,
        "config": None if plan.config is None else str(plan.config),
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "instrument": plan.instrument,
        "by": plan.by,
        "dest_root": plan.dest_root,
        "cycle": number,
        "options": options_to_json(options),
    }


def _cycle_outcome(report: CycleReport) -> JobOutcome:
    summary = report.summary
    if summary.interrupted:
        state = JobState.CANCELLED
    elif report.failed:
        state = JobState.FAILED
    else:
        state = JobState.SUCCEEDED
    return JobOutcome(state, report.as_json())
