"""``skyhaul backfill``: fetch a records API day by day over an inclusive date range.

Rules:
- Dates are UTC calendar days, ``YYYY-MM-DD``, both ends included; a bad date or an end
  before the start is a usage error (exit 2) before anything is read or fetched.
- ``--dry-run`` prints the plan (one line per day: action and why) and touches nothing:
  no request, no ledger row, no file, not even a new catalog file.
- Exit codes: 0 when every day ended downloaded or as a known skip, 1 when a day failed in
  this run, 2 for usage, configuration, credentials or a full disk, 130 when interrupted
  (the day in progress stays PENDING and is redone by the next run).
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog import catalog_url
from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.cli.signals import run_cancellable
from skyhaul.cli.sources import ConfigOption, build_config
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from skyhaul.services.backfill import BackfillRequest, BackfillSummary

__all__ = ["backfill", "parse_day", "parse_day_range"]


def parse_day(text: str, option: str) -> date:
    """Read a ``YYYY-MM-DD`` UTC day; a one-line ``UsageError`` names the option."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date (use YYYY-MM-DD)") from None


def parse_day_range(first: str, last: str) -> tuple[date, date]:
    """Read ``--start-date`` and ``--end-date``; the end must not be before the start."""
    start_day = parse_day(first, "--start-date")
    end_day = parse_day(last, "--end-date")
    if end_day < start_day:
        raise UsageError(
            f"--end-date {end_day.isoformat()} is before --start-date {start_day.isoformat()}"
        )
    return start_day, end_day


StartDate = Annotated[
    str, typer.Option("--start-date", metavar="DATE", help="First UTC day (YYYY-MM-DD).")
]
EndDate = Annotated[
    str, typer.Option("--end-date", metavar="DATE", help="Last UTC day, included (YYYY-MM-DD).")
]
SourceName = Annotated[str, typer.Option("--source", metavar="NAME", help="The source.")]


@with_options(common=build_common, config=build_config)
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
            help="Where the day files go [default: the source's dest].",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="csv|json|parquet",
            help="Format of the day files [default: the source's format, else csv].",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
    config: ConfigOption,
) -> None:
    """Fetch a records API one UTC day at a time, resumably, into one file per day."""
    from skyhaul.adapters.sources.records_api import (
        OUTPUT_FORMATS,
        RECORDS_API,
        records_api_settings,
    )
    from skyhaul.services.backfill import BackfillRequest
    from skyhaul.services.backfill import backfill as run_backfill

    term = start(common)
    first, last = parse_day_range(start_date, end_date)
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--format: {output_format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    entry = config.load().source(source)
    if entry.type != RECORDS_API:
        raise UsageError(
            f"{entry.where}: backfill reads sources of type {RECORDS_API}, not {entry.type!r}"
        )
    settings = records_api_settings(entry)
    chosen = output_format or settings.output_format
    request = BackfillRequest(
        first=first,
        last=last,
        output_dir=(output_dir or entry.dest).resolve(),
        output_format=chosen,
        retry_failed=retry_failed,
        limit_days=limit_days,
        dry_run=dry_run,
    )
    if dry_run:
        summary = _dry_run(common, settings.name, request)
    else:
        with opened_catalog(common) as catalog:

            async def job(cancel: asyncio.Event) -> BackfillSummary:
                return await run_backfill(catalog, settings, request, cancel=cancel)

            summary = run_cancellable(job)
    _report(term, summary)
    raise typer.Exit(1 if summary.failed else 0)


def _dry_run(common: CommonOptions, source: str, request: BackfillRequest) -> BackfillSummary:
    """Plan without touching anything: a SQLite catalog that does not exist is not created."""
    from skyhaul.services.backfill import dry_run_summary, plan_backfill

    url = catalog_url(common.catalog)
    prefix = "sqlite:///"
    missing = url.startswith(prefix) and not Path(url.removeprefix(prefix).split("?")[0]).exists()
    if missing:
        plan = plan_backfill(None, source, request)
    else:
        with opened_catalog(common) as catalog:
            plan = plan_backfill(catalog, source, request)
    return dry_run_summary(plan)


def _report(term: Terminal, summary: BackfillSummary) -> None:
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
