"""A download run from start to summary: planning its processes, forking, merging.

Rules:
- Every interface (the CLI, ``skyhaul.Client``, later the web app and the workers)
  runs downloads through :class:`DownloadRun`; none of them plans processes, forks or
  merges summaries itself.
- ``prepare`` happens before any event loop or thread exists: it chooses the number of
  engine processes (``core.processes``) and forks the extra ones then (forking beside a
  thread could copy a held lock). ``run`` is the coroutine the caller drives, under its
  own cancel event.
- Limits are shared, not multiplied: each process gets its share of ``-j`` and
  ``--max-per-host``. The summary, the progress and the outcome are the whole run's.
- A run that discovers a source first stays in one process: the listing must be
  registered before anyone claims.
- A run of its job's own files (``get``, ``import``) ends by counting the ones it left undone
  without failing them itself (abandoned or failed earlier and not due, held by another
  live process): ``RunSummary.unfinished``, which fails the job as a failure would.
- Nothing is "done" that is not on disk: ``prepare`` checks that the DOWNLOADED files the
  run selects are still there with their size (``services.verify``, the cheap check) and
  makes the copies they are wanted in (``services.copies``), before planning and forking;
  a file found missing or changed is FAILED, due now, and this run fetches it again.
  After downloading, the copies still wanted are made (from what was just downloaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from skyhaul.adapters.catalog import Catalog, RegisterResult
from skyhaul.adapters.local_copies import LocalCopies
from skyhaul.core.jobparams import (
    options_from_json,
    options_to_json,
    selection_from_json,
    selection_to_json,
)
from skyhaul.core.jobprogress import job_progress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, RunSummary, Selection, TransferOptions
from skyhaul.core.processes import ProcessPlan, merge_summaries, plan_processes, share_options
from skyhaul.core.progress import ProgressBoard, SnapshotSource
from skyhaul.errors import InterruptedRun, UsageError
from skyhaul.services.acquire import AcquireResult, Discovery, acquire
from skyhaul.services.copies import CopyReport, make_copies
from skyhaul.services.discovery import DiscoveryResult
from skyhaul.services.jobs import JobOutcome, create_job, requeue, run_job
from skyhaul.services.processes import ChildRun, MergedProgress, WorkerProcesses
from skyhaul.services.queued import queue_get
from skyhaul.services.verify import check_stored

__all__ = [
    "DownloadRun",
    "DownloadSpec",
    "prepare_download",
    "prepare_get",
    "resume_download",
]

log = logging.getLogger("skyhaul.engine")


@dataclass(frozen=True, slots=True)
class DownloadSpec:
    """What a download run does.

    Parameters
    ----------
    options : TransferOptions
        Knobs of the run (shared between its processes).
    selection : Selection
        Which files.
    linked_only : bool
        Only the files linked to the run's job (``skyhaul get``: the files it named).
    discovery : Discovery or None
        List a source and register its files first; the run closes the source.
    processes : int or None
        Engine processes as asked (``--processes``); None chooses.
    """

    options: TransferOptions
    selection: Selection = field(default_factory=Selection)
    linked_only: bool = False
    discovery: Discovery | None = None
    processes: int | None = 1


class DownloadRun:
    """A download run prepared in this process (its extra processes already forked), as
    the job ``job_id``.

    Use :meth:`prepare` (or :func:`prepare_get`, :func:`prepare_download`), then drive
    :meth:`run` in an event loop.
    """

    def __init__(
        self,
        catalog: Catalog,
        spec: DownloadSpec,
        job_id: int,
        plan: ProcessPlan,
        board: ProgressBoard,
        workers: WorkerProcesses | None,
        copied: CopyReport | None = None,
    ) -> None:
        self.catalog = catalog
        self.spec = spec
        self.job_id = job_id
        self.plan = plan
        self.board = board
        self.workers = workers
        self.copied = copied or CopyReport()
        """The copies made before downloading."""
        self.progress: SnapshotSource = (
            board if workers is None else MergedProgress(board, workers.children)
        )
        """The whole run's progress, whichever process holds which part of it."""

    @classmethod
    def prepare(cls, catalog: Catalog, spec: DownloadSpec, job_id: int) -> DownloadRun:
        """Plan the run's processes and fork the extra ones (before any loop or thread).

        Raises
        ------
        UsageError
            ``--processes`` together with discovery.
        """
        files_of = job_id if spec.linked_only else None
        # Before the plan counts what is left to do, and before any process claims.
        disk = LocalCopies()
        selection = _stored_selection(spec)
        check_stored(catalog, disk, selection=selection, job_id=files_of, thorough=False)
        copied = make_copies(catalog, disk, selection=selection, job_id=files_of)
        plan = _plan(catalog, spec, files_of)
        board = ProgressBoard(time.monotonic)
        workers: WorkerProcesses | None = None
        if plan.count > 1:
            log.info("%d engine processes (%s)", plan.count, plan.reason)
            catalog.before_fork()
            workers = WorkerProcesses.fork(
                plan.count - 1,
                lambda index: _child_run(catalog, spec, files_of, plan, index),
                progress=True,
            )
        return cls(catalog, spec, job_id, plan, board, workers, copied)

    async def run(
        self,
        cancel: asyncio.Event,
        *,
        on_discovered: Callable[[DiscoveryResult], None] | None = None,
    ) -> AcquireResult:
        """Run the job: this process's share beside the children's, its progress
        published; return the whole run's result."""
        spec = self.spec
        own = acquire(
            self.catalog,
            share_options(spec.options, self.plan.count, 0),
            spec.selection,
            discovery=spec.discovery,
            cancel=cancel,
            board=self.board,
            job_id=self.job_id if spec.linked_only else None,
            on_discovered=on_discovered,
        )

        async def work() -> AcquireResult:
            try:
                if self.workers is None:
                    result = await own
                else:
                    result = await _with_workers(own, self.workers, self.catalog, cancel)
            finally:
                if spec.discovery is not None:
                    await spec.discovery.source.aclose()
            if spec.linked_only and not result.summary.interrupted:
                await asyncio.to_thread(_note_unfinished, self.catalog, self.job_id, result.summary)
            await self._copy_after(result.summary, cancel)
            return result

        result = await run_job(
            self.catalog,
            self.job_id,
            work,
            cancel=cancel,
            progress=lambda: job_progress(self.progress.snapshot()),
            outcome=_outcome,
            lease_seconds=spec.options.lease_seconds,
        )
        return replace(result, job_id=self.job_id)

    async def _copy_after(self, summary: RunSummary, cancel: asyncio.Event) -> None:
        """Make the copies still wanted (their files were just downloaded), then add
        the copies made to ``summary`` and those that could not be, as its failures."""
        report = self.copied
        if not (summary.interrupted or cancel.is_set()):
            try:
                after = await asyncio.to_thread(
                    make_copies,
                    self.catalog,
                    LocalCopies(),
                    selection=_stored_selection(self.spec),
                    job_id=self.job_id if self.spec.linked_only else None,
                    stop=cancel.is_set,
                )
            except InterruptedRun:
                summary.interrupted = True
            else:
                # A copy that failed before and was made now is no failure.
                report = CopyReport(made=report.made + after.made, failures=after.failures)
        summary.copied += report.made
        summary.failures.extend(report.failures)
        summary.failed += len(report.failures)


def prepare_get(
    catalog: Catalog,
    specs: Sequence[FileSpec],
    dest_root: str,
    options: TransferOptions,
    *,
    processes: int | None = 1,
    kind: JobKind = JobKind.GET,
    params: Mapping[str, Any] | None = None,
) -> tuple[DownloadRun, RegisterResult]:
    """Queue a ``get`` job (or another ``kind`` of job over named files: an ``import``),
    register its files linked to it, and prepare its run.

    Its parameters name the destination and the options, and hold ``params`` too (what
    its interface records of itself); its files are its links, so ``jobs resume``
    downloads exactly them again.
    """
    job_id, registered = queue_get(
        catalog, specs, dest_root, options, processes=processes, kind=kind, params=params
    )
    spec = DownloadSpec(options, linked_only=True, processes=processes)
    return DownloadRun.prepare(catalog, spec, job_id), registered


def prepare_download(
    catalog: Catalog,
    options: TransferOptions,
    *,
    selection: Selection,
    discovery: Discovery | None = None,
    processes: int | None = 1,
    kind: JobKind = JobKind.DOWNLOAD,
    params: Mapping[str, Any] | None = None,
) -> DownloadRun:
    """Queue a ``download`` job over ``selection`` (after ``discovery``) and prepare its run.

    ``params`` adds to what the job records of itself (the selection, the options, the
    source listed): whatever else its interface needs to run it again.
    """
    recorded = {
        "selection": selection_to_json(selection),
        "options": options_to_json(options),
        "processes": processes,
        "discover": discovery is not None,
        **(params or {}),
    }
    job_id = create_job(catalog, kind, recorded)
    spec = DownloadSpec(options, selection, discovery=discovery, processes=processes)
    return DownloadRun.prepare(catalog, spec, job_id)


def resume_download(
    catalog: Catalog,
    job: JobRecord,
    *,
    discovery: Discovery | None = None,
    credentials: tuple[tuple[str, str], ...] = (),
) -> DownloadRun:
    """Queue a failed, cancelled or interrupted ``get``, ``import``, ``download`` or
    watch-cycle job again and prepare its run: the same job, its own selection (a get or
    an import: its linked files; a watch cycle: its source's window, listed again).

    Parameters
    ----------
    catalog : Catalog
        Where the job lives.
    job : JobRecord
        The job as read.
    discovery : Discovery or None
        For a download that listed a source, or a watch cycle: the same source and
        window, built again by the caller from the configuration.
    credentials : tuple of (origin, authorization) pairs
        Read again from the source's configuration (a job never stores a secret).

    Raises
    ------
    UsageError
        The job is of another kind, or not in a state it resumes from.
    """
    if job.kind not in _RESUMABLE:
        raise UsageError(
            f"job {job.id} is a {job.kind.value} job, not a get, an import, a download "
            "or a watch cycle"
        )
    requeue(catalog, job)
    params = job.params
    options = replace(options_from_json(params.get("options", {})), credentials=credentials)
    processes = params.get("processes", 1)
    if job.kind in _OF_NAMED_FILES:
        spec = DownloadSpec(options, linked_only=True, processes=processes)
    elif job.kind is JobKind.WATCH_CYCLE:
        # A cycle lists its source's window again, then downloads that source's files.
        selection = Selection(instrument=params.get("instrument"), source=params.get("source"))
        spec = DownloadSpec(options, selection, discovery=discovery, processes=1)
    else:
        selection = selection_from_json(params.get("selection", {}))
        processes = 1 if discovery is not None else processes
        spec = DownloadSpec(options, selection, discovery=discovery, processes=processes)
    return DownloadRun.prepare(catalog, spec, job.id)


#: Jobs over the files they named (linked to them): a resume downloads exactly those.
_OF_NAMED_FILES = frozenset({JobKind.GET, JobKind.IMPORT})
#: Jobs ``resume_download`` runs again.
_RESUMABLE = _OF_NAMED_FILES | {JobKind.DOWNLOAD, JobKind.WATCH_CYCLE}

#: States of a named file that count as settled: downloaded, or set aside by an operator.
_SETTLED = frozenset({FileState.DOWNLOADED, FileState.IGNORED})


def _note_unfinished(catalog: Catalog, job_id: int, summary: RunSummary) -> None:
    """Count the job's files that the run left undone without failing them itself.

    The engine claims only what is due, so a file abandoned earlier, failed earlier and
    due later than the run waits, or held by another live process never reaches it: the
    run would end "nothing to do". Its own failures are in ``summary`` already (they are
    FAILED or ABANDONED now): they are taken off the counts.
    """
    counted = {FileState.FAILED: summary.failed, FileState.ABANDONED: summary.abandoned}
    unfinished: dict[str, int] = {}
    for state, count in sorted(catalog.job_file_states(job_id).items()):
        left = count - counted.get(state, 0)
        if state not in _SETTLED and left > 0:
            unfinished[state.value.lower()] = left
    summary.unfinished = unfinished


def _outcome(result: AcquireResult) -> JobOutcome:
    summary = result.summary
    if summary.interrupted:
        state = JobState.CANCELLED
    elif summary.not_done:
        state = JobState.FAILED
    else:
        state = JobState.SUCCEEDED
    return JobOutcome(state, result.as_json())


def _stored_selection(spec: DownloadSpec) -> Selection:
    """The files a run selects, as far as what is already on disk goes: a run that
    discovers a source downloads that source's files only."""
    if spec.discovery is None:
        return spec.selection
    return replace(spec.selection, source=spec.discovery.source.name)


def _plan(catalog: Catalog, spec: DownloadSpec, files_of: int | None = None) -> ProcessPlan:
    """Choose the run's engine processes; one where forking cannot work."""
    processes = spec.processes
    if processes == 1:
        return ProcessPlan(1, "as asked")
    if spec.discovery is not None:
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
            log.warning("one engine process: %s", why_not)
        return ProcessPlan(1, why_not)
    files, nbytes = catalog.expected_totals(job_id=files_of, selection=spec.selection)
    return plan_processes(
        processes,
        files=files,
        nbytes=nbytes,
        concurrency=spec.options.concurrency,
        max_per_host=spec.options.max_per_host,
        cores=_cores(),
    )


def _child_run(
    catalog: Catalog, spec: DownloadSpec, files_of: int | None, plan: ProcessPlan, index: int
) -> ChildRun:
    """What forked child ``index`` runs (built in the child)."""
    catalog.after_fork()
    options = share_options(spec.options, plan.count, index + 1)

    async def work(cancel: asyncio.Event, board: ProgressBoard | None) -> RunSummary:
        share = await acquire(
            catalog,
            options,
            spec.selection,
            cancel=cancel,
            board=board,
            job_id=files_of,
        )
        _log_share(share.summary)
        return share.summary

    return work


def _log_share(summary: RunSummary) -> None:
    log.debug(
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
