"""Jobs run by workers elsewhere: queue a job's files, work on it, see when it is settled.

Rules (the catalog is the single source of truth; a broker message only says "work is
available"):
- ``queue_get`` registers a ``get`` job's files linked to it, as ``prepare_get`` does,
  but runs nothing: the caller publishes a message and any worker picks the job up.
- ``work_on_job`` runs the engine's claim loop over the job's files until nothing is
  claimable, then returns; given a limits URL, each host's politeness is shared with
  the other workers through it (``services.shared_gate``). Claims are compare-and-set
  with leases, so several workers on one job never fetch a file twice, and a duplicate
  or redelivered message finds nothing to claim and returns at once. The job record is
  not started by a worker: many workers share it, none owns it.
- A job is settled when none of its files is waiting (DISCOVERED) or in flight
  (DOWNLOADING); FAILED files left by a run are retried by a later message.
  ``finish_settled`` then ends the job record, SUCCEEDED when every file is downloaded or
  ignored, else FAILED.
- ``jobs_with_work`` lists the queued jobs of an executor that still have files to do
  (waiting, failed, or held under a lease that may have expired): the manager publishes
  them again, so a lost message costs latency, never data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from skyhaul.adapters.catalog import Catalog, RegisterResult
from skyhaul.core.jobparams import options_from_json, options_to_json
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, RunSummary, Selection, TransferOptions
from skyhaul.services.acquire import acquire
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.jobs import create_job
from skyhaul.services.owners import new_owner

__all__ = ["finish_settled", "is_settled", "jobs_with_work", "queue_get", "work_on_job"]

#: Files of these states are still to be done by someone.
_OPEN = frozenset({FileState.DISCOVERED, FileState.DOWNLOADING})
#: A job succeeds when all its files are in these states.
_DONE = frozenset({FileState.DOWNLOADED, FileState.IGNORED})


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


def work_on_job(catalog: Catalog, job_id: int, *, limits_url: str | None = None) -> RunSummary:
    """Download what is claimable of job ``job_id``'s files with its recorded options.

    ``limits_url``: the Redis whose per-host limits every worker shares (None: this
    run's own gates). Returns an empty summary for a job that is unknown or no longer
    queued.
    """
    job = catalog.get_job(job_id)
    if job is None or job.state is not JobState.QUEUED:
        return RunSummary()
    options = options_from_json(job.params.get("options", {}))
    return asyncio.run(_work(catalog, options, job_id, limits_url))


async def _work(
    catalog: Catalog, options: TransferOptions, job_id: int, limits_url: str | None
) -> RunSummary:
    if limits_url is None:
        return (await acquire(catalog, options, Selection(), job_id=job_id)).summary
    from skyhaul.adapters.redis_limits import open_host_limits  # Redis only when shared

    async with open_host_limits(limits_url) as limits:
        result = await acquire(catalog, options, Selection(), job_id=job_id, limits=limits)
    return result.summary


def is_settled(states: Mapping[FileState, int]) -> bool:
    """Whether no file of a job (its counts by state) is waiting or in flight."""
    return not any(states.get(state, 0) for state in _OPEN)


def finish_settled(catalog: Catalog, job_id: int) -> JobState | None:
    """End job ``job_id`` if its files are settled; return its final state, else None."""
    states = catalog.job_file_states(job_id)
    if not is_settled(states):
        return None
    done = all(state in _DONE for state, count in states.items() if count)
    final = JobState.SUCCEEDED if done else JobState.FAILED
    owner = new_owner()
    now = SYSTEM_CLOCK.now()
    # Compare-and-set: of the followers and managers that see it settled, one ends it.
    if catalog.start_job(job_id, owner, now=now, lease_seconds=60.0):
        summary = {"files": {state.value.lower(): n for state, n in sorted(states.items())}}
        catalog.finish_job(job_id, owner, final, now=now, summary=summary)
    return final


def jobs_with_work(catalog: Catalog, executor: str) -> list[int]:
    """The queued jobs run by ``executor`` whose files are not all downloaded or set aside."""
    found = []
    for job in catalog.list_jobs(states=[JobState.QUEUED], limit=10_000):
        if job.params.get("executor") != executor:
            continue
        states = catalog.job_file_states(job.id)
        if any(count for state, count in states.items() if state in _OPEN | {FileState.FAILED}):
            found.append(job.id)
    return sorted(found)
