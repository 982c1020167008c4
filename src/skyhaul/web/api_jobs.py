"""``/api/jobs``: every job of the catalog, one job, its live events, cancel and resume.

Rules:
- Jobs from every interface are listed (CLI, Python API, this server, workers); dead ones
  show as interrupted.
- A job this server runs is pushed every ``live_interval`` (several times a second); one
  another process runs is read from the catalog every ``catalog_interval`` (its owner
  publishes about once a second).
- Cancel stops a job run here at once, and sets the catalog's flag of one run elsewhere
  (its owner stops within two seconds). Resume queues the job again and runs it here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from skyhaul.core.jobs import TERMINAL_STATES, JobState
from skyhaul.errors import UsageError
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.job_launch import resume_here
from skyhaul.services.job_view import job_document, jobs_documents
from skyhaul.web.deps import Server, server
from skyhaul.web.errors import NotFoundError, error_responses
from skyhaul.web.sse import HEARTBEAT, event_stream

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["jobs"])

Running = Annotated[Server, Depends(server)]
#: Jobs a list shows at most.
MAX_LIMIT = 1000
#: Seconds between two looks for dead jobs by a live list (each is a write).
RECOVER_EVERY = 5.0
#: A job's id: 64-bit, so that a larger number is refused before it reaches the database.
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/session")
def session(running: Running) -> dict[str, Any]:
    """The CSRF value state-changing requests carry (``X-CSRF-Token``), and whether the
    server asks for a token."""
    return {"csrf": running.gate.csrf, "token_required": running.gate.token is not None}


@router.get("/jobs")
async def list_jobs(
    running: Running,
    state: Annotated[list[JobState] | None, Query(description="Only jobs in these states.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    """The latest jobs, newest first."""
    states = frozenset(state) if state else None
    return await asyncio.to_thread(
        jobs_documents, running.catalog, running.live, states=states, limit=limit
    )


@router.get("/jobs/events")
async def jobs_events(
    running: Running, limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100
) -> Any:
    """The list of jobs as Server-Sent Events (``event: jobs``), pushed when it changes."""

    recovered_at = [-RECOVER_EVERY]

    async def read() -> list[dict[str, Any]]:
        now = time.monotonic()
        recover = now - recovered_at[0] >= RECOVER_EVERY
        if recover:
            recovered_at[0] = now
        return await asyncio.to_thread(
            jobs_documents, running.catalog, running.live, limit=limit, recover=recover
        )

    def interval() -> float:
        settings = running.settings
        return settings.live_interval if running.live.ids() else settings.catalog_interval

    snapshots = running.hub.follow(f"jobs:{limit}", read, interval=interval, heartbeat=HEARTBEAT)
    return event_stream(snapshots, "jobs")


@router.get("/jobs/{job_id}", responses=error_responses(404))
async def get_job(running: Running, job_id: JobId) -> dict[str, Any]:
    """One job: record, progress (live when it runs here), recent files."""
    return await _job(running, job_id)


@router.get("/jobs/{job_id}/events", responses=error_responses(404))
async def job_events(running: Running, job_id: JobId) -> Any:
    """Job ``job_id`` as Server-Sent Events (``event: job``) until it ends (``event: end``).

    The first event is the job as it is now, so a reconnecting page resumes from there.
    """
    await _job(running, job_id)  # 404 before the stream opens

    async def read() -> dict[str, Any] | None:
        return await asyncio.to_thread(job_document, running.catalog, running.live, job_id)

    def interval() -> float:
        here = running.live.running_here(job_id)
        return running.settings.live_interval if here else running.settings.catalog_interval

    def is_final(document: dict[str, Any]) -> bool:
        ended = JobState(document["state"]) in TERMINAL_STATES
        return ended and not running.live.running_here(job_id)

    snapshots = running.hub.follow(
        f"job:{job_id}", read, interval=interval, is_final=is_final, heartbeat=HEARTBEAT
    )
    return event_stream(snapshots, "job")


@router.post("/jobs/{job_id}/cancel", responses=error_responses(404))
async def cancel_job(running: Running, job_id: JobId) -> dict[str, Any]:
    """Stop a running job (files stay resumable) or cancel a queued one."""
    if not running.live.cancel(job_id):
        asked = await asyncio.to_thread(
            running.catalog.request_job_cancel, job_id, now=SYSTEM_CLOCK.now()
        )
        if not asked:
            job = await _job(running, job_id)
            raise UsageError(f"job {job_id} is {job['state']}: only a queued or running job stops")
    return {"id": job_id, "cancel_requested": True}


@router.post("/jobs/{job_id}/resume", responses=error_responses(404))
async def resume_job(running: Running, job_id: JobId) -> dict[str, Any]:
    """Queue a failed, cancelled or interrupted job again and run it in this server."""
    record = await asyncio.to_thread(running.catalog.get_job, job_id)
    if record is None:
        raise NotFoundError(f"no job {job_id}")
    await resume_here(running.catalog, running.live, record)
    return {"id": job_id, "resumed": True}


async def _job(running: Running, job_id: int) -> dict[str, Any]:
    document = await asyncio.to_thread(job_document, running.catalog, running.live, job_id)
    if document is None:
        raise NotFoundError(f"no job {job_id}")
    return document
