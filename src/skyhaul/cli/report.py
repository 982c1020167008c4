"""``skyhaul report``: reports over the catalog and the backfill ledger.

Rules:
- ``report availability`` reads, per UTC day of the range: for a ``records-api`` source,
  the latest ledger row (records written against expected); for a file source, the
  catalog (files downloaded against files discovered, by observation day).
- It prints a table and a summary line (or one JSON object), and writes a chart as PNG
  and a self-contained HTML page when asked; each file appears complete or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.cli.sources import ConfigOption, build_config
from skyhaul.core.window import parse_day_range

__all__ = ["report_app"]

report_app = typer.Typer(
    name="report", help="Reports over the catalog and the backfill ledger.", no_args_is_help=True
)


@report_app.command("availability")
@with_options(common=build_common, config=build_config)
def availability(
    source: Annotated[str, typer.Option("--source", metavar="NAME", help="The source.")],
    start_date: Annotated[str, typer.Option("--start-date", metavar="DATE", help="First UTC day.")],
    end_date: Annotated[
        str, typer.Option("--end-date", metavar="DATE", help="Last UTC day (included).")
    ],
    png: Annotated[
        Path | None, typer.Option("--png", metavar="FILE", help="Write a chart (PNG).")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Write a page with the chart and table."),
    ] = None,
    *,
    common: CommonOptions,
    config: ConfigOption,
) -> None:
    """Show availability per day: records (or files) against what a full day holds."""
    from skyhaul.adapters.availability_chart import (
        render_html,
        render_png,
        render_png_bytes,
        render_table,
        summary_lines,
        table_header,
    )
    from skyhaul.adapters.sources.records_api import RECORDS_API
    from skyhaul.core.availability import from_day_runs, from_file_counts, summarize
    from skyhaul.core.backfill import iter_days

    term = start(common)
    first, last = parse_day_range(start_date, end_date)
    days = list(iter_days(first, last))
    entry = config.load().source(source)
    records = entry.type == RECORDS_API
    with opened_catalog(common, create=False) as catalog:
        if records:
            rows = from_day_runs(days, catalog.latest_day_runs(source, first, last))
        else:
            rows = from_file_counts(days, catalog.files_per_day(source, first, last))
    summary = summarize(rows)
    title = f"Availability of {source}, {first.isoformat()} to {last.isoformat()}"
    if png is not None:
        render_png(rows, png, title=title)
    if html is not None:
        render_html(rows, html, title=title, png=render_png_bytes(rows, title=title))
    unit = "records" if records else "files"
    if term.json:
        term.emit_json(
            {
                "source": source,
                "unit": unit,
                "days": [r.as_json() for r in rows],
                "overall_percent": summary.overall_percent,
                "png": None if png is None else str(png.resolve()),
                "html": None if html is None else str(html.resolve()),
            }
        )
        return
    table = Table(title=title, title_justify="left")
    for number, name in enumerate(table_header(rows)):
        table.add_column(name.capitalize(), justify="right" if number >= 2 else "left")
    for cells in render_table(rows):
        table.add_row(*cells)
    term.out.print(table)
    for line in summary_lines(summary, files=not records):
        term.out.print(line, highlight=False)
    for path in (png, html):
        if path is not None:
            term.out.print(f"wrote {path.resolve()}", highlight=False)
