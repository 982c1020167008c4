"""Backfill: a records API over an inclusive range of UTC days, one day at a time.

Rules:
- The plan comes from the ledger (the latest row of each day) through the decision table
  of :mod:`skyhaul.core.backfill`; ``--limit-days`` and ``--dry-run`` are applied there.
  A dry run reads the ledger and nothing else: no request, no ledger row, no file.
- A day that runs writes PENDING first, then exactly one of DOWNLOADED, SKIPPED_NO_DATA
  or FAILED. A run killed in between leaves PENDING, which the next run redoes.
- The day's file appears under its final name only complete: chunks are spooled, then
  assembled in time order into a temporary file that is fsynced and renamed.
- One bad day never stops the range. Two failures do, because every later day would fail
  the same way: refused credentials (:class:`SourceAuthError`) and a full disk. They
  leave the day PENDING (like an interrupt), so the next run redoes it once fixed.
- Only an empty, well-formed answer for the whole day is SKIPPED_NO_DATA
  (:class:`NoDataError`); a bad payload, a parse error or an HTTP error is FAILED.
- ``now`` (injected) stamps the ledger; requests are paced on the event loop's clock by
  one host gate for the whole run, so what a day learnt of the server's limit carries over.
- The ledger is reached through the :class:`DayLedger` port (the catalog on its own thread,
  :func:`skyhaul.services.wiring.async_catalog`); only a dry run, which opens no event
  loop, reads it synchronously (:func:`plan_backfill`).
- A run counts its days, bytes and chunks on a :class:`DayBoard` as it goes: the progress
  its job publishes (:mod:`skyhaul.services.backfill_job`).
- Workers that share a job run the days they claimed one by one (:meth:`BackfillRun.run_day`,
  :mod:`skyhaul.services.backfill_queue`): the claim, not the plan, decides that a day runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.records_store import ChunkSpool, assemble_day, check_artifact
from skyhaul.adapters.sources.records_api import OutputFormat, RecordsApiSettings, RecordsClient
from skyhaul.core.backfill import (
    Action,
    DayPlan,
    DayRun,
    DayStatus,
    availability_pct,
    chunk_windows,
    day_window,
    iter_days,
    plan_days,
)
from skyhaul.core.dayprogress import DayBoard
from skyhaul.core.units import format_size
from skyhaul.errors import (
    DiskFullError,
    InterruptedRun,
    NoDataError,
    SkyhaulError,
    SourceAuthError,
)
from skyhaul.ports.catalog import DayLedger
from skyhaul.services.cancellation import until_cancelled
from skyhaul.services.dayfetch import DayFetch, fetch_day
from skyhaul.services.hostgate import GateRegistry, HostGate
from skyhaul.services.wiring import async_catalog

__all__ = [
    "BackfillRequest",
    "BackfillRun",
    "BackfillSummary",
    "backfill",
    "count_skip",
    "dry_run_summary",
    "host_gate",
    "plan_backfill",
    "plan_from_ledger",
    "summarize_plan",
    "tidy_spool",
]

log = logging.getLogger("skyhaul.backfill")

SPOOL_DIR = ".skyhaul-spool"
"""Under the output directory: chunks of the day in progress."""

_STOPS_THE_RANGE = (SourceAuthError, DiskFullError)


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """What to backfill.

    Parameters
    ----------
    first, last : date
        The inclusive range of UTC days.
    output_dir : Path
        Where the day files go.
    output_format : str
        ``csv``, ``json`` or ``parquet``.
    retry_failed : bool
        Run FAILED days again.
    limit_days : int or None
        Run at most this many days that need work.
    dry_run : bool
        Print the plan only.
    """

    first: date
    last: date
    output_dir: Path
    output_format: OutputFormat = "csv"
    retry_failed: bool = False
    limit_days: int | None = None
    dry_run: bool = False


@dataclass(slots=True)
class BackfillSummary:
    """What one backfill did: the plan, counts, and each day's final ledger row.

    ``failed`` counts days that failed in this run; ``skipped_failed`` days skipped because
    they failed before (``--retry-failed`` runs them). ``job_id`` is the job the run was,
    when it ran as one (``"job"`` in the JSON form).
    """

    run_id: str
    job_id: int | None = None
    planned: int = 0
    downloaded: int = 0
    skipped_existing: int = 0
    skipped_no_data: int = 0
    skipped_failed: int = 0
    failed: int = 0
    records: int = 0
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    plan: list[DayPlan] = field(default_factory=list)
    outcomes: list[DayRun] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        parts = [
            f"{self.downloaded} downloaded",
            f"{self.skipped_existing} skipped (existing)",
            f"{self.skipped_no_data} skipped (no data)",
            f"{self.failed} failed",
        ]
        if self.skipped_failed:
            parts.append(f"{self.skipped_failed} failed earlier (use --retry-failed)")
        text = ", ".join(parts)
        if self.requests:
            share = 100.0 * self.throttled / self.requests
            text += f"; {self.requests} requests, {share:.1f}% throttled"
        return text

    def as_json(self) -> dict[str, object]:
        """The summary as a JSON-ready dictionary."""
        job: dict[str, object] = {} if self.job_id is None else {"job": self.job_id}
        return {
            **job,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "planned": self.planned,
            "downloaded": self.downloaded,
            "skipped_existing": self.skipped_existing,
            "skipped_no_data": self.skipped_no_data,
            "skipped_failed": self.skipped_failed,
            "failed": self.failed,
            "records": self.records,
            "requests": self.requests,
            "throttled": self.throttled,
            "seconds": round(self.seconds, 3),
            "days": [{"day": p.day.isoformat(), "action": p.action.value} for p in self.plan],
            "failures": [
                {
                    "day": r.day.isoformat(),
                    "error_type": r.error_type,
                    "message": r.error_message,
                }
                for r in self.outcomes
                if r.status is DayStatus.FAILED
            ],
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def plan_backfill(catalog: Catalog | None, source: str, request: BackfillRequest) -> list[DayPlan]:
    """Plan the request's days from the ledger (``catalog`` None: nothing ran before).

    The synchronous path, for a dry run that opens no event loop; a run plans through
    its :class:`DayLedger` (:meth:`BackfillRun.run`).
    """
    latest = catalog.latest_day_runs(source, request.first, request.last) if catalog else {}
    return plan_from_ledger(latest, request)


def plan_from_ledger(latest: Mapping[date, DayRun], request: BackfillRequest) -> list[DayPlan]:
    """Plan the request's days from each day's latest ledger row (reads the day files)."""
    return plan_days(
        list(iter_days(request.first, request.last)),
        latest,
        lambda run: check_artifact(run.path, run.size, run.sha256),
        retry_failed=request.retry_failed,
        limit_days=request.limit_days,
    )


async def backfill(
    catalog: Catalog,
    settings: RecordsApiSettings,
    request: BackfillRequest,
    *,
    cancel: asyncio.Event | None = None,
    client: RecordsClient | None = None,
    now: Callable[[], datetime] = _utcnow,
    on_chunk: Callable[[date, DayFetch], None] | None = None,
) -> BackfillSummary:
    """Run (or, with ``dry_run``, plan) a backfill over ``catalog``'s ledger, as no job.

    The command line runs it as a job (:mod:`skyhaul.services.backfill_job`).

    Parameters
    ----------
    catalog : Catalog
        Holds the ledger.
    settings : RecordsApiSettings
        The source.
    request : BackfillRequest
        Range, output and options.
    cancel : asyncio.Event, optional
        Set to stop: the day in progress stays PENDING and the run raises
        :class:`InterruptedRun`.
    client : RecordsClient, optional
        The HTTP seam (default: one made from ``settings``, closed at the end).
    now : callable
        UTC time for the ledger.
    on_chunk : callable, optional
        Called with the day and its counters after each chunk lands (for progress).

    Raises
    ------
    InterruptedRun
        ``cancel`` was set.
    SourceAuthError, DiskFullError
        The range stopped: no later day could succeed.
    """
    run = BackfillRun(settings, request, now=now, on_chunk=on_chunk)
    async with async_catalog(catalog) as ledger:
        return await run.run(ledger, cancel=cancel, client=client)


class BackfillRun:
    """One backfill: its summary and its progress grow as :meth:`run` works through the days.

    The summary stays readable when the run stops early (a job records it as the
    cancelled run's summary); :attr:`board` is its progress (:meth:`DayBoard.snapshot`).
    ``settings``, ``request``, ``now`` and ``on_chunk`` are :func:`backfill`'s.

    Parameters
    ----------
    clock : callable
        Monotonic seconds of the progress board.
    """

    def __init__(
        self,
        settings: RecordsApiSettings,
        request: BackfillRequest,
        *,
        now: Callable[[], datetime] = _utcnow,
        on_chunk: Callable[[date, DayFetch], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.request = request
        self.summary = BackfillSummary(run_id=str(uuid.uuid4()))
        self.board = DayBoard(clock)
        self._now = now
        self._on_chunk = on_chunk

    async def run(
        self,
        ledger: DayLedger,
        *,
        cancel: asyncio.Event | None = None,
        client: RecordsClient | None = None,
    ) -> BackfillSummary:
        """Plan from ``ledger``, then run the days that need work, in order.

        Raises
        ------
        InterruptedRun
            ``cancel`` was set.
        SourceAuthError, DiskFullError
            The range stopped: no later day could succeed.
        """
        settings, request = self.settings, self.request
        latest = await ledger.latest_day_runs(settings.name, request.first, request.last)
        plan = await asyncio.to_thread(plan_from_ledger, latest, request)
        if request.dry_run:
            self.summary = dry_run_summary(plan)
            return self.summary
        summary = self.summary
        summary.planned, summary.plan = len(plan), plan
        per_day = len(chunk_windows(*day_window(request.first), settings.chunk))
        self.board.plan(len(plan), sum(p.action.needs_work for p in plan), per_day)
        owned = client is None
        http = client or RecordsClient(settings)
        gate = host_gate(settings)
        began = time.monotonic()
        try:
            for item in plan:
                if cancel is not None and cancel.is_set():
                    raise InterruptedRun("interrupted; run backfill again to finish")
                if item.action is not Action.RUN:
                    count_skip(summary, item.action)
                    self.board.skip()
                    log.info("%s: %s", item.day.isoformat(), _skip_text(item))
                    continue
                outcome = await self._run_day(ledger, http, gate, item, cancel)
                summary.outcomes.append(outcome)
        finally:
            summary.seconds = time.monotonic() - began
            if owned:
                await http.aclose()
            tidy_spool(request.output_dir, settings.name)
        return summary

    async def run_day(
        self,
        ledger: DayLedger,
        client: RecordsClient,
        gate: HostGate,
        day: date,
        cancel: asyncio.Event | None = None,
    ) -> DayRun:
        """Run one day that needs work, whatever the ledger says of it (a worker that
        claimed it decided); return its final ledger row.

        Raises
        ------
        InterruptedRun
            ``cancel`` was set: the day stays PENDING.
        SourceAuthError, DiskFullError
            No day of the range could succeed: the day stays PENDING.
        """
        outcome = await self._run_day(ledger, client, gate, DayPlan(day, Action.RUN, None), cancel)
        self.summary.outcomes.append(outcome)
        return outcome

    async def _run_day(
        self,
        ledger: DayLedger,
        client: RecordsClient,
        gate: HostGate,
        item: DayPlan,
        cancel: asyncio.Event | None,
    ) -> DayRun:
        settings, request, summary = self.settings, self.request, self.summary
        day = item.day
        start, end = day_window(day)
        pending = DayRun(
            run_id=summary.run_id,
            source=settings.name,
            day=day,
            status=DayStatus.PENDING,
            window_start=start,
            window_end=end,
            started_at=self._now(),
            expected_records=settings.expected_per_day,
            output_format=request.output_format,
        )
        await ledger.append_day_run(pending)
        spool = ChunkSpool(request.output_dir / SPOOL_DIR / settings.name / day.isoformat())
        counts = DayFetch()
        began = time.monotonic()
        dest = artifact_path(request.output_dir, settings.name, day, request.output_format)
        self.board.start_day(dest.name)

        def report(landed: DayFetch) -> None:
            self.board.chunk(landed.chunks_done, landed.received)
            if self._on_chunk is not None:
                self._on_chunk(day, landed)

        try:
            await asyncio.to_thread(spool.clear)
            windows = chunk_windows(start, end, settings.chunk)
            work = fetch_day(
                client, gate, settings, windows, spool, counters=counts, on_chunk=report
            )
            if cancel is None:
                await work
            elif await until_cancelled(work, cancel) is None:
                raise InterruptedRun("interrupted; run backfill again to finish")
            artifact = await asyncio.to_thread(
                assemble_day,
                spool,
                len(windows),
                dest,
                request.output_format,
                time_field=settings.time_field,
            )
        except (InterruptedRun, *_STOPS_THE_RANGE) as exc:
            # The day stays PENDING, and the next run redoes it without --retry-failed: the
            # day was not at fault, the user's interrupt, credentials or disk were.
            summary.requests += counts.requests
            summary.throttled += counts.throttled
            self.board.end_day(DayStatus.PENDING)
            if not isinstance(exc, InterruptedRun):
                await asyncio.to_thread(spool.clear)
                log.warning("%s: stopped, left PENDING: %s", day.isoformat(), exc)
            raise
        except NoDataError as exc:
            final = replace(
                pending,
                status=DayStatus.SKIPPED_NO_DATA,
                records=0,
                availability=availability_pct(0, settings.expected_per_day),
                error_type=type(exc).__name__,
                error_message=str(exc),
            )
            summary.skipped_no_data += 1
        except SkyhaulError as exc:
            final = replace(
                pending,
                status=DayStatus.FAILED,
                error_type=type(exc).__name__,
                error_message=str(exc),
            )
            summary.failed += 1
        else:
            final = replace(
                pending,
                status=DayStatus.DOWNLOADED,
                records=artifact.records,
                availability=availability_pct(artifact.records, settings.expected_per_day),
                size=artifact.size,
                path=str(artifact.path),
                sha256=artifact.sha256,
            )
            summary.downloaded += 1
            summary.records += artifact.records
        return await self._finish(ledger, final, counts, began, spool)

    async def _finish(
        self, ledger: DayLedger, row: DayRun, counts: DayFetch, began: float, spool: ChunkSpool
    ) -> DayRun:
        final = replace(
            row,
            finished_at=self._now(),
            seconds=time.monotonic() - began,
            requests=counts.requests,
            throttled=counts.throttled,
        )
        await ledger.append_day_run(final)
        await asyncio.to_thread(spool.clear)
        self.summary.requests += counts.requests
        self.summary.throttled += counts.throttled
        self.board.end_day(final.status, final.size or 0)
        level = logging.WARNING if final.status is DayStatus.FAILED else logging.INFO
        log.log(level, "%s", day_line(final))
        return final


def host_gate(settings: RecordsApiSettings) -> HostGate:
    """The one gate of a run's requests, paced on the running event loop's clock."""
    loop = asyncio.get_running_loop()
    return GateRegistry(settings.concurrency, loop.time, settings.max_wait).for_url(settings.url)


def tidy_spool(output_dir: Path, source: str) -> None:
    """Remove the spool directories of ``source`` once no day is in them."""
    _remove_if_empty(output_dir / SPOOL_DIR / source)
    _remove_if_empty(output_dir / SPOOL_DIR)


def _remove_if_empty(directory: Path) -> None:
    """Tidy the spool away once no day is in it (a killed run's chunks stay for the next)."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def dry_run_summary(plan: list[DayPlan]) -> BackfillSummary:
    """The summary of a dry run: the plan, and the skips it would make."""
    summary = BackfillSummary(run_id="dry-run", planned=len(plan), plan=plan, dry_run=True)
    for item in plan:
        count_skip(summary, item.action)
    return summary


def count_skip(summary: BackfillSummary, action: Action) -> None:
    """Count a day the plan skips under its reason in ``summary``."""
    if action is Action.SKIP_EXISTING:
        summary.skipped_existing += 1
    elif action is Action.SKIP_NO_DATA:
        summary.skipped_no_data += 1
    elif action is Action.SKIP_FAILED:
        summary.skipped_failed += 1


def _skip_text(item: DayPlan) -> str:
    prior = item.prior
    if item.action is Action.SKIP_EXISTING and prior is not None:
        return f"skip (DOWNLOADED: {prior.path})"
    if item.action is Action.SKIP_NO_DATA:
        return "skip (no data, recorded earlier)"
    if item.action is Action.SKIP_FAILED:
        return "skip (FAILED earlier; --retry-failed runs it again)"
    return item.action.value


def artifact_path(output_dir: Path, source: str, day: date, output_format: str) -> Path:
    """Where a day's file goes: ``<output_dir>/<source>_<YYYY-MM-DD>.<format>``."""
    return output_dir / f"{source}_{day.isoformat()}.{output_format}"


def day_line(run: DayRun) -> str:
    """One line saying how a day ended, for the log."""
    head = f"{run.day.isoformat()}: {run.status.value}"
    if run.status is DayStatus.DOWNLOADED:
        share = "" if run.availability is None else f" ({run.availability:.1f}%)"
        size = format_size(run.size or 0)
        took = f"{run.seconds or 0:.1f}s"
        return f"{head} {run.records:,} records{share}, {size} in {took} -> {run.path}"
    if run.status is DayStatus.FAILED:
        return f"{head} {run.error_type}: {run.error_message}"
    return head


def summarize_plan(plan: Sequence[DayPlan]) -> list[str]:
    """Lines of a dry run: one per day with its action and why."""
    lines = []
    for item in plan:
        prior = item.prior
        why = "never run" if prior is None else f"latest: {prior.status.value}"
        lines.append(f"{item.day.isoformat()}  {item.action.value:<14} ({why})")
    return lines
