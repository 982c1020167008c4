"""Jobs: every run has an identity in the catalog that another process can watch and cancel.

Rules:
- A run is a job: created QUEUED with the parameters that reproduce it, started by its
  owner (compare-and-set), RUNNING under a lease that each progress publish renews
  (about once a second), and finished with its summary in the state its outcome says:
  succeeded, failed (some files failed, or an error stopped it), or cancelled.
- Each publish also reads the job's cancel flag. ``skyhaul jobs cancel`` in any process
  sets it; the owner then sets the run's cancel event, the same one Ctrl-C sets, so the
  run stops within about two seconds and every file stays resumable.
- An owner that finds the job no longer its own (recovered as interrupted after its
  publishes stopped for a lease) stops its run too: another process may resume it.
- A job whose process died stays RUNNING until its lease expires, then shows as
  interrupted (``recover_jobs``), as files do; on this host a dead owner is seen at once.
- Publishing keeps real time, like the engine's heartbeat: other processes read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.errors import SkyhaulError, UsageError
from skyhaul.ports.catalog import JobStore
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.owners import new_owner, owner_is_dead_here
from skyhaul.services.wiring import async_catalog

__all__ = [
    "PUBLISH_EVERY",
    "JobOutcome",
    "create_job",
    "recover_jobs",
    "requeue",
    "run_job",
]

log = logging.getLogger("skyhaul.jobs")

T = TypeVar("T")

#: Seconds between two progress publishes (and two reads of the cancel flag).
PUBLISH_EVERY = 1.0


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a finished run ends its job.

    Parameters
    ----------
    state : JobState
        Succeeded, failed or cancelled.
    summary : Mapping or None
        The run's JSON-ready summary.
    """

    state: JobState
    summary: Mapping[str, Any] | None


def create_job(
    catalog: Catalog, kind: JobKind, params: Mapping[str, Any], *, clock: Clock = SYSTEM_CLOCK
) -> int:
    """Queue a job of ``kind`` whose ``params`` (JSON-ready) reproduce it; return its id."""
    return catalog.create_job(kind, params, now=clock.now())


def requeue(catalog: Catalog, job: JobRecord, *, clock: Clock = SYSTEM_CLOCK) -> None:
    """Queue ``job`` again to resume it (compare-and-set).

    Raises
    ------
    UsageError
        It is not failed, cancelled or interrupted (it runs, or it succeeded).
    """
    if not catalog.requeue_job(job.id, now=clock.now()):
        raise UsageError(
            f"job {job.id} is {job.state.value}: only a failed, cancelled or interrupted job"
            " resumes"
        )


def recover_jobs(catalog: Catalog, *, clock: Clock = SYSTEM_CLOCK) -> int:
    """Mark interrupted the running jobs whose process is gone; return how many.

    A job whose lease expired is interrupted (its process died or hung, on any host); a job
    owned by a process of this host that no longer exists is interrupted at once.
    """
    now = clock.now()
    recovered = catalog.recover_interrupted_jobs(now=now)
    for job in catalog.list_jobs(states=[JobState.RUNNING]):
        if job.owner is not None and owner_is_dead_here(job.owner):
            ended = catalog.finish_job(
                job.id,
                job.owner,
                JobState.INTERRUPTED,
                now=now,
                summary=None,
                error="its process ended without finishing it",
            )
            recovered += int(ended)
    return recovered


async def run_job(
    catalog: Catalog,
    job_id: int,
    work: Callable[[], Awaitable[T]],
    *,
    cancel: asyncio.Event,
    progress: Callable[[], JobProgress],
    outcome: Callable[[T], JobOutcome],
    lease_seconds: float,
    clock: Clock = SYSTEM_CLOCK,
    every: float = PUBLISH_EVERY,
) -> T:
    """Run ``work`` as job ``job_id``: start it, publish its progress, finish it.

    Parameters
    ----------
    catalog : Catalog
        Where the job lives (its calls run off the event loop).
    job_id : int
        A queued job.
    work : callable
        The run; it must honour ``cancel``.
    cancel : asyncio.Event
        The run's cancel event: set here when the job's cancel flag is seen.
    progress : callable
        The run's progress now (published about once a second).
    outcome : callable
        The job's final state and summary from what ``work`` returned.
    lease_seconds : float
        The job's lease; each publish renews it.
    clock : Clock
        Wall clock of the job's times.
    every : float
        Seconds between publishes.

    Raises
    ------
    UsageError
        The job is not queued (another process started it, or it ended).
    """
    owner = new_owner()
    async with async_catalog(catalog) as store:
        if not await store.start_job(job_id, owner, now=clock.now(), lease_seconds=lease_seconds):
            raise UsageError(f"job {job_id} is not queued (see `skyhaul jobs show {job_id}`)")
        publisher = _Publisher(store, job_id, owner, progress, cancel, clock, lease_seconds)
        publishing = asyncio.ensure_future(publisher.every(every))
        try:
            result = await work()
        except BaseException as exc:
            await _stop(publishing)
            await _finish_quietly(store, job_id, owner, clock, _failure(exc), _error_text(exc))
            raise
        await _stop(publishing)
        await publisher.once()
        ended = outcome(result)
        await store.finish_job(job_id, owner, ended.state, now=clock.now(), summary=ended.summary)
        return result


@dataclass(slots=True)
class _Publisher:
    store: JobStore
    job_id: int
    owner: str
    progress: Callable[[], JobProgress]
    cancel: asyncio.Event
    clock: Clock
    lease_seconds: float

    async def every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.once()

    async def once(self) -> None:
        try:
            asked = await self.store.publish_job_progress(
                self.job_id,
                self.owner,
                self.progress(),
                now=self.clock.now(),
                lease_seconds=self.lease_seconds,
            )
        except SkyhaulError as exc:  # the catalog is down for a moment: the run goes on
            log.warning("job %d: progress not published: %s", self.job_id, exc)
            return
        if asked is None and not self.cancel.is_set():
            log.warning("job %d is no longer this process's; stopping", self.job_id)
            self.cancel.set()
        elif asked and not self.cancel.is_set():
            log.warning("job %d: cancel requested; stopping (files stay resumable)", self.job_id)
            self.cancel.set()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _failure(error: BaseException) -> JobState:
    if isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
        return JobState.INTERRUPTED
    return JobState.FAILED


def _error_text(error: BaseException) -> str:
    if isinstance(error, SkyhaulError):
        return error.message
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def _finish_quietly(
    store: JobStore, job_id: int, owner: str, clock: Clock, state: JobState, error: str
) -> None:
    """End the job after its run raised; the run's error matters more than this one."""
    try:
        await store.finish_job(job_id, owner, state, now=clock.now(), summary=None, error=error)
    except SkyhaulError as exc:
        log.warning("job %d: could not record its end: %s", job_id, exc)
