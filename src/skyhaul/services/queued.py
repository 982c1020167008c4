"""Jobs run by workers elsewhere: queue a job's files, work on it, see when it is settled.

Rules (the catalog is the single source of truth; a broker message only says "work is
available"):
- ``queue_get`` registers a ``get`` job's files linked to it, as ``prepare_get`` does,
  but runs nothing: the caller publishes a message and any worker picks the job up.
  ``queue_download`` does the same for a ``download`` job: the files its selection makes
  eligible now (waiting, or failed and due) are linked to it.
- ``work_on_job`` runs the engine's claim loop over the job's files until nothing is
  claimable, then returns; given a limits URL, each host's politeness is shared with
  the other workers through it (``services.shared_gate``). Claims are compare-and-set
  with leases, so several workers on one job never fetch a file twice, and a duplicate
  or redelivered message finds nothing to claim and returns at once. The job record is
  not started by a worker: many workers share it, none owns it (its steward does,
  :mod:`skyhaul.services.job_steward`).
  Workers work on a job that is QUEUED or RUNNING, and stop within about a second once
  a cancel is asked (the job's flag, or the job CANCELLED): the engine releases its files
  to DISCOVERED, their segments kept, so the job stays resumable.
- A job is settled when none of its files is waiting (DISCOVERED), in flight
  (DOWNLOADING), or FAILED with its next attempt due within the job's ``max_wait``: the
  one-process engine waits that long for a retry in the same run (and the retry policy
  makes a file ABANDONED, not FAILED, once its attempts are spent). A FAILED file due
  later is left to a later run, as the engine leaves it. ``finish_settled`` then ends
  the job record, SUCCEEDED when every file is downloaded or ignored, else FAILED.
- ``jobs_with_work`` lists the queued or running jobs of an executor that still have
  files to do (waiting, failed, or held under a lease that may have expired): the
  manager publishes them again (each on its kind's queue), so a lost message costs
  latency, never data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from skyhaul.adapters.catalog import Catalog, RegisterResult
from skyhaul.core.jobparams import options_from_json, options_to_json, selection_to_json
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, RunSummary, Selection, TransferOptions
from skyhaul.services.acquire import acquire
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.jobs import create_job
from skyhaul.services.owners import new_owner

__all__ = [
    "CANCEL_POLL",
    "FILE_JOB_KINDS",
    "fair_share",
    "finish_settled",
    "is_settled",
    "job_is_settled",
    "jobs_with_work",
    "queue_download",
    "queue_get",
    "settled_state",
    "settled_summary",
    "work_on_job",
]

#: Seconds between a worker's looks at its job's cancel flag.
CANCEL_POLL = 1.0
#: The kinds of jobs whose work is their linked files (a backfill's is its days, a
#: pipeline's its operations: they have their own queues and followers).
FILE_JOB_KINDS = frozenset({JobKind.GET, JobKind.DOWNLOAD, JobKind.IMPORT})
#: The job states in which workers work on a job.
_WORKABLE = frozenset({JobState.QUEUED, JobState.RUNNING})

#: Files of these states are still to be done by someone.
_OPEN = frozenset({FileState.DISCOVERED, FileState.DOWNLOADING})
#: Files of these states are left to do (a failed one when its retry comes).
_LEFT = _OPEN | {FileState.FAILED}
#: A job succeeds when all its files are in these states.
_DONE = frozenset({FileState.DOWNLOADED, FileState.IGNORED})
#: The states a download considers: waiting, or failed (when its retry is due).
_ELIGIBLE = frozenset({FileState.DISCOVERED, FileState.FAILED})


def queue_get(
    catalog: Catalog,
    specs: Sequence[FileSpec],
    dest_root: str,
    options: TransferOptions,
    *,
    processes: int | None = 1,
    kind: JobKind = JobKind.GET,
    params: Mapping[str, Any] | None = None,
) -> tuple[int, RegisterResult]:
    """Queue a job of ``kind`` over ``specs`` and register them linked to it; run nothing.

    Returns
    -------
    tuple of (int, RegisterResult)
        The job id and what registering found.
    """
    recorded = {
        "dest_root": dest_root,
        "options": options_to_json(options),
        "processes": processes,
        **(params or {}),
    }
    job_id = create_job(catalog, kind, recorded)
    # A known URL named for another destination wants a copy there.
    registered = catalog.register(
        specs, dest_root, now=SYSTEM_CLOCK.now(), job_id=job_id, copies=True
    )
    return job_id, registered


def queue_download(
    catalog: Catalog,
    options: TransferOptions,
    selection: Selection,
    *,
    params: Mapping[str, Any] | None = None,
    batch: int = 5_000,
) -> tuple[int, int]:
    """Queue a ``download`` job over the files of ``selection`` eligible now, linked to
    it; run nothing.

    Returns
    -------
    tuple of (int, int)
        The job id and how many files were linked.
    """
    recorded = {
        "selection": selection_to_json(selection),
        "options": options_to_json(options),
        **(params or {}),
    }
    job_id = create_job(catalog, JobKind.DOWNLOAD, recorded)
    now = SYSTEM_CLOCK.now()
    waiting = replace(selection, states=_ELIGIBLE & (selection.states or _ELIGIBLE))
    linked, offset = 0, 0
    # Paged by offset: a file another run claims meanwhile may shift a page and be
    # missed here, which costs nothing, as that run downloads it.
    while page := catalog.list_files(waiting, limit=batch, offset=offset):
        offset += len(page)
        # A failed file joins when its retry is due, as the engine would take it now.
        due = [f.id for f in page if f.next_attempt_at is None or f.next_attempt_at <= now]
        linked += catalog.link_job_files(job_id, due)
    return job_id, linked


def work_on_job(
    catalog: Catalog,
    job_id: int,
    *,
    limits_url: str | None = None,
    share: int = 1,
    cancel_poll: float = CANCEL_POLL,
) -> RunSummary:
    """Download what is claimable of job ``job_id``'s files with its recorded options.

    ``limits_url``: the Redis whose per-host limits every worker shares (None: this
    run's own gates). ``share``: how many workers the job was published to; this one
    holds at most that share of the files left (:func:`fair_share`), so a job of a few
    large files spreads over the workers instead of going to the first one whole.
    Returns an empty summary for a job that is unknown, or neither queued nor running;
    stops (files released, resumable) within ``cancel_poll`` seconds of a cancel.
    """
    job = catalog.get_job(job_id)
    if job is None or job.state not in _WORKABLE or job.cancel_requested:
        return RunSummary()
    options = options_from_json(job.params.get("options", {}))
    hold = None
    if share > 1:
        states = catalog.job_file_states(job_id)
        hold = fair_share(sum(states.get(state, 0) for state in _LEFT), share)
    return asyncio.run(_work(catalog, job_id, options, cancel_poll, limits_url, hold))


async def _work(
    catalog: Catalog,
    job_id: int,
    options: TransferOptions,
    cancel_poll: float,
    limits_url: str | None,
    hold: int | None,
) -> RunSummary:
    cancel = asyncio.Event()
    watching = asyncio.ensure_future(_watch_cancel(catalog, job_id, cancel, cancel_poll))
    try:
        async with contextlib.AsyncExitStack() as stack:
            limits = None
            if limits_url is not None:
                from skyhaul.adapters.redis_limits import open_host_limits  # Redis when shared

                limits = await stack.enter_async_context(open_host_limits(limits_url))
            result = await acquire(
                catalog,
                options,
                Selection(),
                job_id=job_id,
                cancel=cancel,
                limits=limits,
                hold_most=hold,
            )
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    return result.summary


async def _watch_cancel(catalog: Catalog, job_id: int, cancel: asyncio.Event, every: float) -> None:
    """Set ``cancel`` once job ``job_id`` is asked to stop or cancelled (or is gone)."""
    while not cancel.is_set():
        await asyncio.sleep(every)
        job = await asyncio.to_thread(catalog.get_job, job_id)
        if job is None or job.cancel_requested or job.state is JobState.CANCELLED:
            cancel.set()


def fair_share(left: int, workers: int) -> int:
    """The most files one of ``workers`` workers holds at once of a job with ``left``
    files to do: its share, rounded up (at least 1)."""
    return max(1, -(-left // max(1, workers)))


def is_settled(
    states: Mapping[FileState, int],
    next_due: datetime | None = None,
    *,
    now: datetime | None = None,
    max_wait: float = 0.0,
) -> bool:
    """Whether no file of a job is waiting, in flight, or failed with a retry due soon.

    Parameters
    ----------
    states : mapping of FileState to int
        The job's file counts by state.
    next_due : datetime or None
        The earliest next attempt of its FAILED files (None: none is due ever).
    now : datetime or None
        The time now (needed with ``next_due``).
    max_wait : float
        Seconds a run waits for a retry (the job's ``max_wait``).
    """
    if any(states.get(state, 0) for state in _OPEN):
        return False
    if next_due is None or not states.get(FileState.FAILED, 0):
        return True
    assert now is not None, "is_settled: now is needed with next_due"
    return next_due > now + timedelta(seconds=max_wait)


def job_is_settled(
    catalog: Catalog, job_id: int, *, clock: Clock = SYSTEM_CLOCK
) -> tuple[bool, dict[FileState, int]]:
    """Whether job ``job_id``'s files are settled (:func:`is_settled`, with the job's
    ``max_wait``); also its file counts by state."""
    states = catalog.job_file_states(job_id)
    due = catalog.next_attempt_due(job_id=job_id) if states.get(FileState.FAILED) else None
    job = catalog.get_job(job_id)
    params = job.params.get("options", {}) if job is not None else {}
    max_wait = options_from_json(params).max_wait
    return is_settled(states, due, now=clock.now(), max_wait=max_wait), states


def finish_settled(catalog: Catalog, job_id: int) -> JobState | None:
    """End queued job ``job_id`` if its files are settled; return its final state, else
    None. A running job is left to its steward."""
    settled, states = job_is_settled(catalog, job_id)
    if not settled:
        return None
    final = settled_state(states)
    owner = new_owner()
    now = SYSTEM_CLOCK.now()
    # Compare-and-set: of the followers and managers that see it settled, one ends it.
    if catalog.start_job(job_id, owner, now=now, lease_seconds=60.0):
        catalog.finish_job(job_id, owner, final, now=now, summary=settled_summary(states))
    return final


def settled_state(states: Mapping[FileState, int]) -> JobState:
    """A settled job's final state: SUCCEEDED when every file is downloaded or ignored."""
    done = all(state in _DONE for state, count in states.items() if count)
    return JobState.SUCCEEDED if done else JobState.FAILED


def settled_summary(states: Mapping[FileState, int]) -> dict[str, Any]:
    """A settled job's summary: its file counts by state."""
    return {"files": {state.value.lower(): n for state, n in sorted(states.items())}}


def jobs_with_work(catalog: Catalog, executor: str) -> dict[int, JobKind]:
    """The queued or running jobs of ``executor`` whose files are not all downloaded or
    set aside, by id (ascending), with their kinds (which say their queues)."""
    found: dict[int, JobKind] = {}
    for job in catalog.list_jobs(states=_WORKABLE, limit=10_000):
        if job.params.get("executor") != executor or job.kind not in FILE_JOB_KINDS:
            continue
        states = catalog.job_file_states(job.id)
        if any(count for state, count in states.items() if state in _OPEN | {FileState.FAILED}):
            found[job.id] = job.kind
    return dict(sorted(found.items()))
