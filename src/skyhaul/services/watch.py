"""Continuous operation: discover and download in a loop (the seed's ingestion cycle).

Rules:
- Each cycle: recover stale files, list the source for ``[start, now)`` (``start`` fixed,
  or ``now - lookback``), register, download the source's eligible files, then log one
  summary line. The next cycle starts ``every`` seconds after this one started (at once
  if the cycle took longer).
- A failed listing (archive down) is logged and the cycle's downloads still run for what
  is already known; the loop goes on. Errors the user must fix (credentials,
  configuration) stop it.
- The cancel event stops the current cycle (files resumable) and the wait; a killed
  watch picks up where it left off, because everything lives in the catalog.
- Clock and sleep are injected; the loop never reads the wall clock itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources import ListingQuery, Source, TimeBasis
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.core.units import format_size
from skyhaul.core.window import TimeWindow
from skyhaul.errors import SourceError
from skyhaul.services.acquire import Discovery, acquire, run_download
from skyhaul.services.discovery import DiscoveryResult

__all__ = ["CycleReport", "WatchPlan", "watch"]

log = logging.getLogger("skyhaul.watch")


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
    """

    source: Source
    dest_root: str
    every: float
    start: datetime | None = None
    lookback: timedelta = timedelta(days=1)
    instrument: str | None = None
    by: TimeBasis = "downlink"
    cycles: int | None = None


@dataclass(slots=True)
class CycleReport:
    """One cycle's outcome."""

    number: int
    window: TimeWindow
    discovery: DiscoveryResult | None
    summary: RunSummary
    listing_error: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        """The one summary line a cycle logs."""
        if self.discovery is not None:
            d = self.discovery
            found = f"listed {d.listed} ({d.new} new, {d.changed} changed)"
        else:
            found = f"listing failed: {self.listing_error}"
        s = self.summary
        return (
            f"cycle {self.number}: {found}; downloaded {s.downloaded} "
            f"({format_size(s.bytes)}), failed {s.failed}, abandoned {s.abandoned}; "
            f"{self.seconds:.1f} s"
        )


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
    while not cancel.is_set():
        number += 1
        began = monotonic()
        report = await _cycle(catalog, options, plan, number, now(), cancel)
        report.seconds = monotonic() - began
        reports.append(report)
        log.info("%s", report.line())
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
    try:
        result = await acquire(catalog, options, selection, discovery=discovery, cancel=cancel)
    except SourceError as exc:
        # The archive is down or answering badly: download what is already known.
        summary = await run_download(catalog, options, selection=selection, cancel=cancel)
        return CycleReport(number, window, None, summary, listing_error=exc.message)
    return CycleReport(number, window, result.discovery, result.summary)
