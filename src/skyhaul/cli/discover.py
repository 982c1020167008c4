"""``skyhaul discover``: list a source for a window and register what it lists.

Rules:
- Idempotent: a file seen again keeps its row; a changed one (size, checksum or listed
  version) is flagged and will be downloaded again. Prints counts: new, known, changed.
- Exit 0 when the listing was read and registered; 1 when the archive failed (the
  message says which page); 2 for configuration, credentials or bad input.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import CommonOptions, TimeBasis, build_common, with_options, with_window
from skyhaul.cli.sources import ConfigOption, build_config, listing_query, open_source
from skyhaul.core.model import Selection
from skyhaul.errors import InterruptedRun
from skyhaul.services.cancellation import run_cancellable

if TYPE_CHECKING:
    from skyhaul.services.discovery import DiscoveryResult

__all__ = ["discover"]


@with_options(common=build_common, config=build_config)
def discover(
    source: Annotated[str, typer.Option(metavar="NAME", help="The source to list.")],
    window_start: Annotated[
        str, typer.Option("--start", metavar="TIME", help="Window start (UTC; ISO 8601 or a date).")
    ],
    window_end: Annotated[
        str,
        typer.Option(
            "--end", metavar="TIME", help="Window end, exclusive (a date alone: whole day)."
        ),
    ],
    instrument: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only this instrument.")
    ] = None,
    by: Annotated[
        TimeBasis, typer.Option(case_sensitive=False, help="Which time the window applies to.")
    ] = TimeBasis.observation,
    dest: Annotated[
        Path | None,
        typer.Option(
            "--dest",
            "-d",
            metavar="DIR",
            help="Where the new files will go \\[default: the source's dest].",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
    config: ConfigOption,
) -> None:
    """Register the files a source lists for a time window (new, known, changed)."""
    # Imported here: services pull in aiohttp, which most commands never need.
    from skyhaul.services.cancellation import until_cancelled
    from skyhaul.services.discovery import discover_into as discover_files

    term = start(common)
    selection = with_window(
        Selection(instrument=instrument), by=by, start=window_start, end=window_end, slots=None
    )
    query = listing_query(selection)
    source_obj, entry = open_source(config.load(), source)
    root = str((dest or entry.dest).resolve())

    with opened_catalog(common) as catalog:

        async def job(cancel: asyncio.Event) -> DiscoveryResult:
            try:
                found = await until_cancelled(
                    discover_files(catalog, source_obj, query, root), cancel
                )
            finally:
                await source_obj.aclose()
            if found is None:
                raise InterruptedRun("interrupted; run discover again to finish")
            return found

        result = run_cancellable(job)
    if term.json:
        term.emit_json({**result.as_json(), "dest": root})
    else:
        term.out.print(result.line(), highlight=False)
        term.out.print(f"files will go to {root}", highlight=False)
