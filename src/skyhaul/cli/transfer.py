"""Run the engine for ``get`` and ``download`` and report the outcome.

Rules:
- The engine runs under ``run_cancellable``: the first Ctrl-C or SIGTERM cancels it (files
  stay resumable), the second exits at once.
- Live progress is drawn only when stdout and stderr are terminals and ``--no-progress``
  was not given; it never writes on stdout.
- Exit code: 130 if interrupted, else 1 if any file failed or was abandoned, else 0.
- A run of many small files forks extra engine processes (``cli.workers``; the choice is
  ``core.processes``); the summary, the progress and the exit code are the whole run's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.common import Terminal
from skyhaul.cli.render import live_progress, summary_lines
from skyhaul.cli.signals import EXIT_INTERRUPTED, run_cancellable
from skyhaul.cli.workers import ChildRun, MergedProgress, WorkerProcesses
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.core.processes import ProcessPlan, merge_summaries, plan_processes, share_options
from skyhaul.core.progress import ProgressBoard
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

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
    from skyhaul.services.acquire import acquire

    live = show_progress and sys.stdout.isatty() and term.err.is_terminal
    board = ProgressBoard(time.monotonic) if live else None  # nobody else reads it
    selection = selection or Selection()
    plan = _plan(catalog, options, processes, selection, request_id, discovery)

    def notice(signal_name: str) -> None:
        logger.warning(
            "%s: stopping; files stay resumable (press Ctrl-C again to quit at once)",
            signal_name,
        )

    def child_run(index: int) -> ChildRun:
        catalog.after_fork()
        child_options = share_options(options, plan.count, index + 1)

        async def work(cancel: asyncio.Event, child_board: ProgressBoard | None) -> RunSummary:
            share = acquire(
                catalog,
                child_options,
                selection,
                cancel=cancel,
                board=child_board,
                request_id=request_id,
            )
            summary = (await share).summary
            _log_share(summary)
            return summary

        return work

    workers: WorkerProcesses | None = None
    if plan.count > 1:
        logger.info("%d engine processes (%s)", plan.count, plan.reason)
        catalog.before_fork()
        workers = WorkerProcesses.fork(plan.count - 1, child_run, progress=board is not None)

    async def job(cancel: asyncio.Event) -> AcquireResult:
        work = acquire(
            catalog,
            share_options(options, plan.count, 0),
            selection,
            discovery=discovery,
            cancel=cancel,
            board=board,
            request_id=request_id,
            on_discovered=lambda found: term.err.print(found.line(), highlight=False),
        )
        if workers is not None:
            work = _with_workers(work, workers, catalog, cancel)
        try:
            if board is None:
                return await work
            view = board if workers is None else MergedProgress(board, workers.children)
            async with live_progress(view, term.err):
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


def _plan(
    catalog: Catalog,
    options: TransferOptions,
    processes: int | None,
    selection: Selection,
    request_id: str | None,
    discovery: Discovery | None,
) -> ProcessPlan:
    """Choose the run's engine processes; one where forking cannot work."""
    if processes == 1:
        return ProcessPlan(1, "as asked")
    if discovery is not None:
        if processes is not None:
            raise UsageError(
                "--processes works on files already in the catalog: run `skyhaul discover` "
                "first, or leave --processes out"
            )
        return ProcessPlan(1, "discovery first")
    why_not = None
    if not hasattr(os, "fork"):
        why_not = "this platform cannot fork"
    elif processes is None and sys.platform != "linux":
        # Elsewhere (macOS) system libraries may not survive a fork: only when asked.
        why_not = "forking is automatic on Linux only"
    elif not catalog.shareable:
        why_not = "an in-memory catalog belongs to one process"
    elif threading.active_count() > 1:
        why_not = "threads are running"
    if why_not is not None:
        if processes is not None:
            logger.warning("one engine process: %s", why_not)
        return ProcessPlan(1, why_not)
    files, nbytes = catalog.expected_totals(request_id=request_id, selection=selection)
    return plan_processes(
        processes,
        files=files,
        nbytes=nbytes,
        concurrency=options.concurrency,
        max_per_host=options.max_per_host,
        cores=_cores(),
    )


def _log_share(summary: RunSummary) -> None:
    logger.debug(
        "engine process %d: %d downloaded, %d failed, %d abandoned",
        os.getpid(),
        summary.downloaded,
        summary.failed,
        summary.abandoned,
    )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


async def _with_workers(
    own: Coroutine[Any, Any, AcquireResult],
    workers: WorkerProcesses,
    catalog: Catalog,
    cancel: asyncio.Event,
) -> AcquireResult:
    """Run this process's share alongside the children's; return the whole run's result."""
    from skyhaul.services.acquire import AcquireResult

    children = asyncio.ensure_future(workers.supervise(cancel))
    try:
        mine = await own
    except BaseException:
        workers.cancel()
        with contextlib.suppress(Exception):
            await children
        raise
    _log_share(mine.summary)
    others = await children
    parts = [mine.summary, *others]
    failed = tuple(f.file_id for p in parts for f in p.failures if f.file_id is not None)
    downloaded: set[int] = set()
    if failed:
        settled = Selection(ids=failed, states=frozenset({FileState.DOWNLOADED}))
        downloaded = {f.id for f in catalog.list_files(settled)}
    return AcquireResult(mine.discovery, merge_summaries(parts, downloaded=downloaded))
