"""``skyhaul watch``: discover and download new files in a loop (the ingestion cycle).

Rules:
- Each cycle lists the source for ``[start, now)``: ``--start`` fixed, or ``now -
  --lookback``; registers; downloads the source's eligible files; logs one summary line.
- Ctrl-C or SIGTERM stops the current cycle cleanly (files resumable) and exits 130; a
  second one exits at once. A killed watch resumes where it left off at its next start.
- Each cycle is a job (``skyhaul jobs``; its log line and its ``--json`` document name
  it); ``skyhaul jobs cancel ID`` of the running cycle stops the watch as Ctrl-C does.
- An archive that fails a listing is logged (WARNING) and retried next cycle;
  configuration and credential errors stop the watch (exit 2).
- Exit code when it stops: 1 when its last ``WATCH_FAILING_CYCLES`` (3) completed cycles
  all failed, or every one when fewer ran (``services.watch.failing_cycles``), whether
  ``--cycles`` ended it or a signal did; else 130 after a signal, 0 after ``--cycles``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.sources import download_credentials
from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    TimeBasis,
    build_common,
    build_transfer,
    duration_option,
    with_options,
)
from skyhaul.cli.sources import ConfigOption, build_config, open_source
from skyhaul.core.model import TransferOptions
from skyhaul.core.timeparse import parse_utc
from skyhaul.services.cancellation import EXIT_INTERRUPTED, run_cancellable

if TYPE_CHECKING:
    from skyhaul.services.watch import CycleReport

__all__ = ["watch"]

logger = logging.getLogger("skyhaul.cli")


@with_options(common=build_common, transfer=build_transfer, config=build_config)
def watch(
    source: Annotated[str, typer.Option(metavar="NAME", help="The source to watch.")],
    every: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Time from one cycle's start to the next (30s, 5m, 1h).",
        ),
    ] = 300.0,
    instrument: Annotated[
        str | None, typer.Option(metavar="NAME", help="Only this instrument.")
    ] = None,
    window_start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="TIME",
            help="List from this fixed time on each cycle \\[default: now - lookback].",
        ),
    ] = None,
    lookback: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Without --start: how far back each cycle lists.",
        ),
    ] = 86400.0,
    by: Annotated[
        TimeBasis, typer.Option(case_sensitive=False, help="Which time the window applies to.")
    ] = TimeBasis.downlink,
    cycles: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Stop after N cycles \\[default: run until stopped]."
        ),
    ] = None,
    *,
    common: CommonOptions,
    transfer: TransferOptions,
    config: ConfigOption,
) -> None:
    """Discover and download a source's new files every DURATION until stopped."""
    from skyhaul.services.watch import WatchPlan, failing_cycles
    from skyhaul.services.watch import watch as watch_loop

    term = start(common)
    fixed_start = None
    if window_start is not None:
        try:
            fixed_start = parse_utc(window_start)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--start") from None
    loaded = config.load()
    source_obj, entry = open_source(loaded, source, verify_tls=transfer.verify_tls)
    transfer = replace(transfer, credentials=download_credentials(entry))
    plan = WatchPlan(
        source=source_obj,
        dest_root=str(entry.dest),
        every=every,
        start=fixed_start,
        lookback=timedelta(seconds=lookback),
        instrument=instrument,
        by=by.value,
        cycles=cycles,
        config=None if loaded.path is None else loaded.path.resolve(),
    )
    reports: list[CycleReport] = []

    def notice(signal_name: str) -> None:
        logger.warning("%s: stopping after the files in flight are saved", signal_name)

    with opened_catalog(common) as catalog:

        async def job(cancel: asyncio.Event) -> bool:
            try:
                await watch_loop(catalog, transfer, plan, cancel=cancel, on_cycle=reports.append)
            finally:
                await source_obj.aclose()
            return cancel.is_set()

        interrupted = run_cancellable(job, on_cancel=notice)
    if term.json:
        term.emit_json({"cycles": [report.as_json() for report in reports]})
    failed = failing_cycles(reports)
    if failed:
        last = failed[-1]
        why = f"listing: {last.listing_error}" if last.listing_error else "files failed"
        span = "the last cycle" if len(failed) == 1 else f"the last {len(failed)} cycles"
        logger.error("%s failed (%s)", span, why)
        raise typer.Exit(1)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
