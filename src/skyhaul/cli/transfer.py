"""Run a download for ``get`` and ``download`` and report the outcome.

Rules:
- The run itself (processes, forking, merging) is ``services.runs.DownloadRun``; this
  module only draws its progress and prints its summary.
- The run is driven by ``run_cancellable``: the first Ctrl-C or SIGTERM cancels it (files
  stay resumable), the second exits at once.
- Live progress is drawn only when stdout and stderr are terminals and ``--no-progress``
  was not given; it never writes on stdout.
- Exit code: 130 if interrupted, else 1 if any file failed or was abandoned, else 0.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.common import Terminal
from skyhaul.cli.render import live_progress, summary_lines
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.services.cancellation import EXIT_INTERRUPTED, run_cancellable

if TYPE_CHECKING:
    from skyhaul.services.acquire import AcquireResult, Discovery

__all__ = ["download_and_report", "exit_code"]

logger = logging.getLogger("skyhaul.cli")


def download_and_report(
    term: Terminal,
    catalog: Catalog,
    options: TransferOptions,
    *,
    show_progress: bool,
    catalog_at: str,
    files_at: str | None = None,
    selection: Selection | None = None,
    request_id: str | None = None,
    discovery: Discovery | None = None,
    processes: int | None = 1,
) -> int:
    """Download the eligible files, show progress, print the summary; return the exit code.

    Parameters
    ----------
    term : Terminal
        Where to write.
    catalog : Catalog
        The open catalog.
    options : TransferOptions
        Knobs of the run.
    show_progress : bool
        False with ``--no-progress``.
    catalog_at, files_at : str
        Where the catalog and the files are, for the summary.
    selection, request_id
        Which files (passed to the engine as is).
    discovery : Discovery or None
        List a source and register its files first (``download --source``).
    processes : int or None
        Engine processes (``--processes``); None chooses (``core.processes``).

    Returns
    -------
    int
        The command's exit code.
    """
    # Imported here: the engine pulls in aiohttp, which status, ls and the rest never need.
    from skyhaul.services.runs import DownloadRun, DownloadSpec

    live = show_progress and sys.stdout.isatty() and term.err.is_terminal
    spec = DownloadSpec(
        options=options,
        selection=selection or Selection(),
        request_id=request_id,
        discovery=discovery,
        processes=processes,
    )
    run = DownloadRun.prepare(catalog, spec)

    def notice(signal_name: str) -> None:
        logger.warning(
            "%s: stopping; files stay resumable (press Ctrl-C again to quit at once)",
            signal_name,
        )

    async def job(cancel: asyncio.Event) -> AcquireResult:
        work = run.run(
            cancel, on_discovered=lambda found: term.err.print(found.line(), highlight=False)
        )
        if not live:
            return await work
        async with live_progress(run.progress, term.err):
            return await work

    result = run_cancellable(job, on_cancel=notice)
    summary = result.summary
    if term.json:
        term.emit_json(result.as_json())
    else:
        for line in summary_lines(summary, files_at=files_at, catalog_at=catalog_at):
            term.out.print(line, highlight=False)
    return exit_code(summary)


def exit_code(summary: RunSummary) -> int:
    """Return the exit code of a finished run (130, 1 or 0)."""
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.failed or summary.abandoned:
        return 1
    return 0
