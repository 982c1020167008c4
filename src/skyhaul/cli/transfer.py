"""Run the engine for ``get`` and ``download`` and report the outcome.

Rules:
- The engine runs under ``run_cancellable``: the first Ctrl-C or SIGTERM cancels it (files
  stay resumable), the second exits at once.
- Live progress is drawn only when stdout and stderr are terminals and ``--no-progress``
  was not given; it never writes on stdout.
- Exit code: 130 if interrupted, else 1 if any file failed or was abandoned, else 0.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TYPE_CHECKING

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.common import Terminal
from skyhaul.cli.render import live_progress, summary_lines
from skyhaul.cli.signals import EXIT_INTERRUPTED, run_cancellable
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.core.progress import ProgressBoard

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

    Returns
    -------
    int
        The command's exit code.
    """
    # Imported here: the engine pulls in aiohttp, which status, ls and the rest never need.
    from skyhaul.services.acquire import acquire

    live = show_progress and sys.stdout.isatty() and term.err.is_terminal
    board = ProgressBoard(time.monotonic) if live else None  # nobody else reads it

    def notice(signal_name: str) -> None:
        logger.warning(
            "%s: stopping; files stay resumable (press Ctrl-C again to quit at once)",
            signal_name,
        )

    async def job(cancel: asyncio.Event) -> AcquireResult:
        work = acquire(
            catalog,
            options,
            selection or Selection(),
            discovery=discovery,
            cancel=cancel,
            board=board,
            request_id=request_id,
            on_discovered=lambda found: term.err.print(found.line(), highlight=False),
        )
        try:
            if board is None:
                return await work
            async with live_progress(board, term.err):
                return await work
        finally:
            if discovery is not None:
                await discovery.source.aclose()

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
