"""Run a download for ``get`` and ``download`` and report the outcome.

Rules:
- The run itself (its job, processes, forking, merging) is ``services.runs.DownloadRun``;
  this module only draws its progress and prints its summary (with ``"job"`` in
  ``--json``).
- The run is driven by ``run_cancellable``: the first Ctrl-C or SIGTERM cancels it (files
  stay resumable), the second exits at once.
- Live progress is drawn only when stdout and stderr are terminals and ``--no-progress``
  was not given; it never writes on stdout.
- Exit code: 130 if interrupted, else 1 if any file failed, was abandoned or was left
  undone (``RunSummary.not_done``: a ``get`` names files abandoned earlier), else 0.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from skyhaul.cli.common import Terminal
from skyhaul.cli.render import live_progress, summary_lines
from skyhaul.core.model import RunSummary
from skyhaul.services.cancellation import EXIT_INTERRUPTED, run_cancellable

if TYPE_CHECKING:
    from skyhaul.services.acquire import AcquireResult
    from skyhaul.services.runs import DownloadRun

__all__ = ["download_and_report", "exit_code"]

logger = logging.getLogger("skyhaul.cli")


def download_and_report(
    term: Terminal,
    run: DownloadRun,
    *,
    show_progress: bool,
    catalog_at: str,
    files_at: str | None = None,
) -> int:
    """Run a prepared download job, show its progress, print its summary; return the
    exit code.

    Parameters
    ----------
    term : Terminal
        Where to write.
    run : DownloadRun
        The job, prepared (``services.runs.prepare_get`` / ``prepare_download``).
    show_progress : bool
        False with ``--no-progress``.
    catalog_at, files_at : str
        Where the catalog and the files are, for the summary.

    Returns
    -------
    int
        The command's exit code.
    """
    live = show_progress and sys.stdout.isatty() and term.err.is_terminal

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

    logger.debug("job %d", run.job_id)
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
    if summary.not_done:
        return 1
    return 0
