"""Start and resume jobs inside a long-lived process (the web server) rather than a CLI.

Rules:
- The same runs as the CLI's: an import is :func:`~skyhaul.services.mast_import.prepare_import`
  then :meth:`DownloadRun.run`; a resume is ``resume_download`` or ``resume_backfill``.
  Nothing here plans, downloads or reports on its own.
- Runs stay in the server's process (one engine process: a server never forks), so their
  progress is read live (:class:`~skyhaul.services.live_jobs.LiveJobs`).
- The blocking part (planning, registering, checking what is on disk) runs off the event
  loop; the call returns the job id once the run is started, not when it ends.
- A job that lists a source again when it resumes (a ``download`` with discovery, a watch
  cycle) needs that source's configuration and credentials: ``skyhaul jobs resume`` runs
  it; here it is refused with that advice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobprogress import job_progress
from skyhaul.core.jobs import JobKind, JobRecord
from skyhaul.core.model import TransferOptions
from skyhaul.errors import UsageError
from skyhaul.services.live_jobs import LiveJobs
from skyhaul.services.mast_import import ImportPlan, prepare_import
from skyhaul.services.runs import DownloadRun

__all__ = ["resume_here", "start_download_run", "start_import"]


def start_download_run(live: LiveJobs, run: DownloadRun) -> int:
    """Run a prepared download run as a live job here; return its job id."""
    live.start(run.job_id, run.run, lambda: job_progress(run.progress.snapshot()))
    return run.job_id


async def start_import(
    catalog: Catalog,
    live: LiveJobs,
    plan: ImportPlan,
    dest_root: Path,
    options: TransferOptions,
    *,
    params: Mapping[str, object],
) -> int:
    """Queue and start an ``import`` job of ``plan`` into ``dest_root``; return its id
    once it runs.

    Raises
    ------
    UsageError
        The plan has no file to import.
    """
    if not plan.specs:
        raise UsageError("nothing to import: no product of these observations can be fetched")
    await asyncio.to_thread(dest_root.mkdir, parents=True, exist_ok=True)
    run, _ = await asyncio.to_thread(
        prepare_import, catalog, plan, str(dest_root), options, processes=1, params=params
    )
    return start_download_run(live, run)


async def resume_here(catalog: Catalog, live: LiveJobs, job: JobRecord) -> int:
    """Queue ``job`` again and run it here; return its id.

    Raises
    ------
    UsageError
        It does not resume here (its kind, its state, or it lists a source again).
    """
    if job.kind is JobKind.BACKFILL:
        return await _resume_backfill(catalog, live, job)
    if job.kind not in (JobKind.GET, JobKind.IMPORT, JobKind.DOWNLOAD):
        raise UsageError(f"job {job.id} is a {job.kind.value} job: it does not resume here")
    if job.params.get("discover") or _configured_source(job):
        raise UsageError(
            f"job {job.id} reads its source's configuration again: resume it with"
            f" `skyhaul jobs resume {job.id}`"
        )
    from skyhaul.services.runs import resume_download

    run = await asyncio.to_thread(resume_download, catalog, job)
    return start_download_run(live, run)


def _configured_source(job: JobRecord) -> bool:
    """Whether the job downloads a configured source's files (they need its credentials)."""
    selection = job.params.get("selection")
    return isinstance(selection, Mapping) and bool(selection.get("source"))


async def _resume_backfill(catalog: Catalog, live: LiveJobs, job: JobRecord) -> int:
    from skyhaul.services.backfill_job import resume_backfill
    from skyhaul.services.jobs import requeue

    again = await asyncio.to_thread(resume_backfill, catalog, job.id)
    await asyncio.to_thread(requeue, catalog, job)
    # Its day board lives inside the run: viewers read what it publishes each second.
    live.start(job.id, lambda cancel: again.run(catalog, cancel=cancel), None)
    return job.id
