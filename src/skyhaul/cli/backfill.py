"""``skyhaul backfill``: fetch a records API day by day over an inclusive date range.

Rules:
- Dates are UTC calendar days, ``YYYY-MM-DD``, both ends included; a bad date, the
  calendar's last day (9999-12-31, whose window cannot be held) or an end before the start
  is a usage error (exit 2) before anything is read or fetched.
- ``--dry-run`` prints the plan (one line per day: action and why) and touches nothing:
  no request, no ledger row, no file, not even a new catalog file.
- A run is a job (``skyhaul jobs``): ``--json`` names it (``"job"``), and ``skyhaul jobs
  cancel ID`` from anywhere stops it as Ctrl-C does. A dry run is no job.
- Exit codes: 0 when every day ended downloaded or as a known skip, 1 when a day failed in
  this run, 2 for usage, configuration, credentials or a full disk, 130 when interrupted
  or cancelled (the day in progress stays PENDING and is redone by the next run).
- ``--executor celery`` queues the job with its days planned, publishes ``--messages``
  messages on the ``backfill`` queue, and follows the job in the catalog until every day is
  settled; it prints the same summary and exits with the same codes. ``--detach`` prints
  the job id and exits 0. ``--lease`` is how long a worker holds a day without renewing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog import catalog_url
from skyhaul.cli.common import Terminal, describe_catalog, opened_catalog, start
from skyhaul.cli.execution import CELERY, Execution, build_execution
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_progress,
    duration_option,
    with_options,
)
from skyhaul.cli.sources import ConfigOption, build_config
from skyhaul.core.window import parse_day_range
from skyhaul.errors import UsageError
from skyhaul.services.cancellation import run_cancellable

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console
    from rich.progress import TaskID

    from skyhaul.services.dayfetch import DayFetch

if TYPE_CHECKING:
    from skyhaul.services.backfill import BackfillRequest, BackfillSummary

__all__ = ["backfill"]


StartDate = Annotated[
    str, typer.Option("--start-date", metavar="DATE", help="First UTC day (YYYY-MM-DD).")
]
EndDate = Annotated[
    str, typer.Option("--end-date", metavar="DATE", help="Last UTC day, included (YYYY-MM-DD).")
]
SourceName = Annotated[str, typer.Option("--source", metavar="NAME", help="The source.")]


@with_options(
    common=build_common, config=build_config, progress=build_progress, execution=build_execution
)
def backfill(
    source: SourceName,
    start_date: StartDate,
    end_date: EndDate,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the days that failed before.")
    ] = False,
    limit_days: Annotated[
        int | None,
        typer.Option(
            "--limit-days",
            metavar="N",
            min=0,
            help="Run at most N days that need work (counted from the first such day).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan per day; fetch and write nothing.")
    ] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-d",
            metavar="DIR",
            help="Where the day files go \\[default: the source's dest].",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="csv|json|parquet",
            help="Format of the day files \\[default: the source's format, else csv].",
            show_default=False,
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            parser=duration_option,
            metavar="DURATION",
            help="With celery: a worker's lease on a day, renewed while it runs (30s, 2m).",
        ),
    ] = 60.0,
    *,
    common: CommonOptions,
    config: ConfigOption,
    progress: bool,
    execution: Execution,
) -> None:
    """Fetch a records API one UTC day at a time, resumably, into one file per day."""
    from skyhaul.adapters.sources.records_api import OUTPUT_FORMATS
    from skyhaul.services.backfill import BackfillRequest
    from skyhaul.services.backfill_job import prepare_backfill, records_source

    term = start(common)
    execution = execution.resolve(config.path)
    first, last = parse_day_range(start_date, end_date)
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--format: {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    loaded = config.load()
    settings, dest = records_source(loaded, source)
    chosen = output_format or settings.output_format
    request = BackfillRequest(
        first=first,
        last=last,
        output_dir=(output_dir or dest).resolve(),
        output_format=chosen,
        retry_failed=retry_failed,
        limit_days=limit_days,
        dry_run=dry_run,
    )
    if dry_run:
        summary = _dry_run(common, settings.name, request)
    elif execution.celery:
        from skyhaul.services.backfill_queue import follow_backfill, queue_backfill
        from skyhaul.worker.app import make_app
        from skyhaul.worker.backfill_tasks import publish_backfill

        with opened_catalog(common) as catalog:
            job_id = queue_backfill(
                catalog, settings, request, config=loaded.path, executor=CELERY, lease_seconds=lease
            )
            url = catalog_url(common.catalog)
            publish_backfill(make_app(execution.broker), job_id, url, copies=execution.messages)
            if execution.detach:
                term.out.print(str(job_id), highlight=False)
                raise typer.Exit(0)
            summary = follow_backfill(catalog, job_id, sleep=time.sleep)
    else:
        live = progress and not term.json and sys.stdout.isatty() and term.err.is_terminal
        with opened_catalog(common) as catalog, DayProgress(term.err, enabled=live) as bar:
            job = prepare_backfill(catalog, settings, request, config=loaded.path)

            async def run(cancel: asyncio.Event) -> BackfillSummary:
                return await job.run(catalog, cancel=cancel, on_chunk=bar.update)

            summary = run_cancellable(run)
    report_backfill(term, summary)
    raise typer.Exit(1 if summary.failed else 0)


def _dry_run(common: CommonOptions, source: str, request: BackfillRequest) -> BackfillSummary:
    """Plan without touching anything: a SQLite catalog that does not exist is not created."""
    from skyhaul.services.backfill import dry_run_summary, plan_backfill

    url = catalog_url(common.catalog)
    if url.startswith("sqlite:///") and not Path(describe_catalog(url)).exists():
        plan = plan_backfill(None, source, request)
    else:
        with opened_catalog(common) as catalog:
            plan = plan_backfill(catalog, source, request)
    return dry_run_summary(plan)


def report_backfill(term: Terminal, summary: BackfillSummary) -> None:
    """Print a backfill's summary (its plan for a dry run), or its JSON document."""
    from skyhaul.services.backfill import summarize_plan

    if term.json:
        term.emit_json(summary.as_json())
        return
    if summary.dry_run:
        for line in summarize_plan(summary.plan):
            term.out.print(line, highlight=False)
        runs = sum(p.action.needs_work for p in summary.plan)
        term.out.print(
            f"dry run: {runs} of {summary.planned} planned days would run; nothing fetched",
            highlight=False,
        )
        return
    term.out.print(summary.line(), highlight=False)


class DayProgress:
    """A live line for the day in progress: chunks, records, request rate, throttled share.

    Parameters
    ----------
    console : Console
        stderr.
    enabled : bool
        Off when output is not a terminal (then every call does nothing).
    """

    def __init__(self, console: Console, *, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("chunks  {task.fields[detail]}"),
                console=console,
                transient=True,
            )
            if enabled
            else None
        )
        self._task: TaskID | None = None
        self._day: date | None = None
        self._began = 0.0

    def __enter__(self) -> DayProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, day: date, counts: DayFetch) -> None:
        """Show ``counts`` of ``day`` (a new day replaces the previous line)."""
        progress = self._progress
        if progress is None:
            return
        if day != self._day:
            if self._task is not None:
                progress.remove_task(self._task)
            self._task = progress.add_task(day.isoformat(), total=counts.chunks, detail="")
            self._day, self._began = day, time.monotonic()
        elapsed = max(1e-6, time.monotonic() - self._began)
        share = 100.0 * counts.throttled / counts.requests if counts.requests else 0.0
        detail = (
            f"{counts.records:,} records  {counts.requests / elapsed:.1f} req/s  "
            f"{share:.1f}% throttled"
        )
        assert self._task is not None
        progress.update(self._task, completed=counts.chunks_done, detail=detail)
