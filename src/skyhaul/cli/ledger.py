"""``skyhaul ledger``: the backfill run ledger (append-only, one row per day state change).

Rules:
- ``ledger export --csv FILE`` writes every row (optionally one source's, in a date range)
  in the order they were written; the file appears complete or not at all.
- ``ledger show`` prints each day's latest row: what the next backfill decides from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.window import parse_day, parse_day_range
from skyhaul.errors import UsageError

__all__ = ["ledger_app"]

ledger_app = typer.Typer(
    name="ledger",
    help="The backfill run ledger: one row per state change of a day.",
    no_args_is_help=True,
)

OptionalDay = Annotated[str | None, typer.Option(metavar="DATE", help="UTC day (YYYY-MM-DD).")]


@ledger_app.command("export")
@with_options(common=build_common)
def export(
    csv_path: Annotated[
        Path, typer.Option("--csv", metavar="FILE", help="Write the ledger to this CSV file.")
    ],
    source: Annotated[
        str | None, typer.Option("--source", metavar="NAME", help="Only this source's days.")
    ] = None,
    start_date: Annotated[
        str | None, typer.Option("--start-date", metavar="DATE", help="First UTC day.")
    ] = None,
    end_date: Annotated[
        str | None, typer.Option("--end-date", metavar="DATE", help="Last UTC day (included).")
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Write the ledger's rows as CSV, in the order they were written."""
    from skyhaul.adapters.ledger_csv import write_ledger_csv

    term = start(common)
    first = None if start_date is None else parse_day(start_date, "--start-date")
    last = None if end_date is None else parse_day(end_date, "--end-date")
    if first is not None and last is not None and last < first:
        raise UsageError(f"--end-date {last.isoformat()} is before --start-date {first}")
    with opened_catalog(common, create=False) as catalog:
        rows = catalog.day_runs(source, first, last)
    count = write_ledger_csv(rows, csv_path)
    if term.json:
        term.emit_json({"rows": count, "csv": str(csv_path.resolve())})
    else:
        term.out.print(f"{count} ledger rows written to {csv_path.resolve()}", highlight=False)


@ledger_app.command("show")
@with_options(common=build_common)
def show(
    source: Annotated[str, typer.Option("--source", metavar="NAME", help="The source.")],
    start_date: Annotated[str, typer.Option("--start-date", metavar="DATE", help="First UTC day.")],
    end_date: Annotated[
        str, typer.Option("--end-date", metavar="DATE", help="Last UTC day (included).")
    ],
    *,
    common: CommonOptions,
) -> None:
    """Show each day's latest ledger row (what the next backfill decides from)."""
    term = start(common)
    first, last = parse_day_range(start_date, end_date)
    with opened_catalog(common, create=False) as catalog:
        latest = catalog.latest_day_runs(source, first, last)
    if term.json:
        term.emit_json(
            [
                {
                    "day": day.isoformat(),
                    "status": run.status.value,
                    "records": run.records,
                    "availability": run.availability,
                    "path": run.path,
                    "run_id": run.run_id,
                    "error": run.error_message,
                }
                for day, run in sorted(latest.items())
            ]
        )
        return
    table = Table(title=f"Ledger of {source}", title_justify="left")
    for name in ("Day", "Status", "Records", "%", "Run", "Path or error"):
        table.add_column(name, justify="right" if name in ("Records", "%") else "left")
    for day, run in sorted(latest.items()):
        share = "" if run.availability is None else f"{run.availability:.1f}"
        records = "" if run.records is None else f"{run.records:,}"
        detail = run.path or run.error_message or ""
        table.add_row(day.isoformat(), run.status.value, records, share, run.run_id[:8], detail)
    term.out.print(table)
