"""Backfill jobs run by workers elsewhere: queue the days, claim and fetch them, follow.

Rules (the catalog is the single source of truth; a broker message only says "work is
available"):
- ``queue_backfill`` plans the range from the ledger, as one process does, and records
  the plan as the job's day claims (:mod:`skyhaul.adapters.catalog.day_claims`); it runs
  nothing. The job's parameters are a backfill's (``resume_backfill`` reads them) plus
  ``executor``, ``lease`` (seconds) and ``run_id``, the ledger rows' run id.
- ``work_on_backfill`` claims one day at a time compare-and-set under a lease, fetches it
  with the backfill's day machinery (one host gate for the whole task, so what a day
  learnt of the server's limit carries over), records it in the ledger, marks the claim
  done and claims again, until no day is claimable. A duplicate or redelivered message
  finds nothing to claim and returns at once. The lease is renewed every third of itself
  while the day runs; a worker that lost it (or whose job was cancelled) stops the day,
  which stays PENDING for whoever holds it now.
- A failed day is done (as in one process, it is not retried in the same job). A day
  whose workers died on it ``MAX_ATTEMPTS`` times is abandoned: it counts as failed.
  Refused credentials or a full disk stop the range: the day is released and the job
  ends failed with the error, which the follower reports (exit 2).
- The follower (``follow_backfill``) holds the job RUNNING (:class:`.held_job.HeldJob`)
  and publishes its progress about once a second: days done/total as files, the day
  files written as bytes (:func:`skyhaul.core.dayprogress.days_progress`). Workers work on
  a job QUEUED or RUNNING; a cancel (``jobs cancel``) sets the flag, the follower ends the
  job CANCELLED and raises :class:`InterruptedRun`, and the workers, seeing it ended, stop
  their days within a third of a lease. Ctrl-C gives the job back QUEUED. A detached
  job stays QUEUED until it ends (the manager does not hold it).
- A job is settled when no day is waiting or held; ``finish_backfill`` then ends it
  (compare-and-set: its holder, else whoever takes it QUEUED first), failed when a day
  failed, with the summary built from the plan and the ledger. A worker that stops the
  range ends a held job FAILED in its holder's name (compare-and-set on that owner).
- ``republish_backfills`` (the manager) publishes again the active jobs with a waiting
  day (never claimed, or its lease expired), queues again those whose follower died
  (INTERRUPTED), and ends the settled QUEUED ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources.records_api import RecordsApiSettings, RecordsClient
from skyhaul.core.backfill import Action, DayPlan, DayStatus
from skyhaul.core.dayprogress import days_progress
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.errors import (
    DiskFullError,
    InterruptedRun,
    RangeStoppedError,
    SourceAuthError,
    UsageError,
)
from skyhaul.services.backfill import (
    BackfillRequest,
    BackfillRun,
    BackfillSummary,
    count_skip,
    host_gate,
    plan_backfill,
    tidy_spool,
)
from skyhaul.services.backfill_job import LEASE_SECONDS, backfill_params, resume_backfill
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.held_job import HeldJob
from skyhaul.services.jobs import PUBLISH_EVERY, create_job
from skyhaul.services.owners import new_owner
from skyhaul.services.wiring import async_catalog

__all__ = [
    "MAX_ATTEMPTS",
    "backfill_jobs_with_work",
    "backfill_progress",
    "backfill_summary",
    "finish_backfill",
    "follow_backfill",
    "queue_backfill",
    "republish_backfills",
    "work_on_backfill",
]

log = logging.getLogger("skyhaul.backfill")

#: Claims of one day before it is abandoned (each one's worker died on it).
MAX_ATTEMPTS = 3
#: The states in which a job's days are worked on (RUNNING: its follower holds it).
_ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})


def queue_backfill(
    catalog: Catalog,
    settings: RecordsApiSettings,
    request: BackfillRequest,
    *,
    config: Path | None,
    executor: str,
    lease_seconds: float = LEASE_SECONDS,
) -> int:
    """Queue backfill ``request`` for ``executor``'s workers with its days planned; return
    the job id. ``config`` is the configuration file read.

    Raises
    ------
    UsageError
        ``request`` is a dry run.
    """
    if request.dry_run:
        raise UsageError("a dry run is not a job: it touches nothing")
    plan = plan_backfill(catalog, settings.name, request)
    params = {
        **backfill_params(settings.name, request, config=config),
        "executor": executor,
        "lease": lease_seconds,
        "run_id": str(uuid.uuid4()),
    }
    job_id = create_job(catalog, JobKind.BACKFILL, params)
    catalog.plan_day_claims(
        job_id, [(p.day, p.action.value, not p.action.needs_work) for p in plan]
    )
    return job_id


def work_on_backfill(
    catalog: Catalog,
    job_id: int,
    *,
    client: RecordsClient | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> BackfillSummary | None:
    """Fetch the claimable days of backfill job ``job_id`` one at a time; return what this
    worker did (None for a job that is unknown, not a backfill, or no longer queued)."""
    record = catalog.get_job(job_id)
    if record is None or record.kind is not JobKind.BACKFILL:
        return None
    if record.state not in _ACTIVE:
        return None
    job = resume_backfill(catalog, job_id)
    run = BackfillRun(job.settings, job.request, now=clock.now)
    run.summary.job_id = job_id
    run.summary.run_id = str(record.params.get("run_id", run.summary.run_id))
    worker = _DayWorker(catalog, job_id, run, _lease(record), clock)
    try:
        asyncio.run(worker.work(client))
    except (SourceAuthError, DiskFullError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        _end(catalog, job_id, JobState.FAILED, None, now=clock.now(), error=error)
        log.warning("job %d: the range stopped: %s", job_id, exc)
    return run.summary


class _DayWorker:
    """Claims, fetches and settles days of one job for one task."""

    def __init__(
        self, catalog: Catalog, job_id: int, run: BackfillRun, lease: float, clock: Clock
    ) -> None:
        self.catalog = catalog
        self.job_id = job_id
        self.run = run
        self.lease = lease
        self.clock = clock
        self.owner = new_owner()

    async def work(self, client: RecordsClient | None) -> None:
        settings = self.run.settings
        http = client or RecordsClient(settings)
        gate = host_gate(settings)
        try:
            async with async_catalog(self.catalog) as ledger:
                while (day := await asyncio.to_thread(self._claim)) is not None:
                    cancel = asyncio.Event()
                    async with self._leased(day, cancel):
                        try:
                            await self.run.run_day(ledger, http, gate, day, cancel)
                        except InterruptedRun:
                            log.warning("%s: lease lost or job ended; left PENDING", day)
                            await asyncio.to_thread(self._settle, day, False)
                            continue
                        except (SourceAuthError, DiskFullError):
                            await asyncio.to_thread(self._settle, day, False)
                            raise
                    await asyncio.to_thread(self._settle, day, True)
        finally:
            if client is None:
                await http.aclose()
            tidy_spool(self.run.request.output_dir, settings.name)

    def _claim(self) -> date | None:
        record = self.catalog.get_job(self.job_id)
        if record is None or record.state not in _ACTIVE:
            return None
        return self.catalog.claim_day(
            self.job_id,
            self.owner,
            now=self.clock.now(),
            lease_seconds=self.lease,
            max_attempts=MAX_ATTEMPTS,
        )

    def _settle(self, day: date, done: bool) -> None:
        if not self.catalog.settle_day(self.job_id, day, self.owner, done=done):
            log.warning("%s: the lease had passed to another worker before it settled", day)

    def _renew(self, day: date) -> bool:
        """Renew the lease on ``day``; False when it was lost or the job no longer runs."""
        record = self.catalog.get_job(self.job_id)
        if record is None or record.state not in _ACTIVE:
            return False
        now = self.clock.now()
        return self.catalog.renew_day(
            self.job_id, day, self.owner, now=now, lease_seconds=self.lease
        )

    @contextlib.asynccontextmanager
    async def _leased(self, day: date, cancel: asyncio.Event) -> AsyncIterator[None]:
        """Renew the lease on ``day`` while the block runs; set ``cancel`` if it is lost."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.lease / 3)
                if not await asyncio.to_thread(self._renew, day):
                    cancel.set()
                    return

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper


def _lease(record: JobRecord) -> float:
    lease = record.params.get("lease", LEASE_SECONDS)
    return float(lease) if isinstance(lease, int | float) and lease > 0 else LEASE_SECONDS


def backfill_summary(catalog: Catalog, job_id: int, *, now: datetime) -> BackfillSummary:
    """The summary of backfill job ``job_id`` so far, from its plan and the ledger.

    A day left PENDING (abandoned) counts as failed, with a row saying why.
    """
    record = catalog.get_job(job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in this catalog (see 'skyhaul jobs')")
    params = record.params
    source = str(params["source"])
    first, last = date.fromisoformat(params["first"]), date.fromisoformat(params["last"])
    actions = catalog.day_claim_actions(job_id)
    latest = catalog.latest_day_runs(source, first, last)
    run_id = str(params.get("run_id", f"job-{job_id}"))
    summary = BackfillSummary(run_id=run_id, job_id=job_id, planned=len(actions))
    for day, text in actions.items():
        action = Action(text)
        prior = latest.get(day)
        summary.plan.append(DayPlan(day, action, prior))
        if action is not Action.RUN:
            count_skip(summary, action)
            continue
        if prior is None or prior.run_id != run_id:
            continue  # not reached yet
        status = prior.status
        if status is DayStatus.PENDING:
            prior = replace(
                prior,
                status=DayStatus.FAILED,
                error_type="Abandoned",
                error_message=f"claimed {MAX_ATTEMPTS} times, its workers died each time",
            )
            status = DayStatus.FAILED
        if status is DayStatus.DOWNLOADED:
            summary.downloaded += 1
            summary.records += prior.records or 0
        elif status is DayStatus.SKIPPED_NO_DATA:
            summary.skipped_no_data += 1
        else:
            summary.failed += 1
        summary.requests += prior.requests
        summary.throttled += prior.throttled
        summary.outcomes.append(prior)
    summary.seconds = ((record.finished_at or now) - record.created_at).total_seconds()
    return summary


def backfill_progress(catalog: Catalog, job_id: int, *, now: datetime) -> JobProgress:
    """The progress of backfill job ``job_id``: its days done/total as files, the day
    files written as bytes (a day in flight, PENDING in the ledger, is neither)."""
    record = catalog.get_job(job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in this catalog (see 'skyhaul jobs')")
    params = record.params
    first, last = date.fromisoformat(params["first"]), date.fromisoformat(params["last"])
    actions = catalog.day_claim_actions(job_id)
    latest = catalog.latest_day_runs(str(params["source"]), first, last)
    run_id = str(params.get("run_id", f"job-{job_id}"))
    done = size = 0
    failed = catalog.day_claim_counts(job_id, now=now, max_attempts=MAX_ATTEMPTS).abandoned
    for day, text in actions.items():
        prior = latest.get(day)
        if Action(text) is not Action.RUN:
            done += 1
        elif prior is None or prior.run_id != run_id:
            continue  # not reached yet
        elif prior.status in (DayStatus.DOWNLOADED, DayStatus.SKIPPED_NO_DATA):
            done += 1
            size += prior.size or 0
        elif prior.status is DayStatus.FAILED:
            failed += 1
    seconds = (now - (record.started_at or record.created_at)).total_seconds()
    return days_progress(len(actions), done, failed, size, seconds)


def finish_backfill(
    catalog: Catalog, job_id: int, *, clock: Clock = SYSTEM_CLOCK, held: HeldJob | None = None
) -> BackfillSummary | None:
    """End backfill job ``job_id`` if its days are settled; return its summary, else None.

    ``held`` is the job's hold when the caller is its follower: the job is ended as its
    holder (compare-and-set); without it only a QUEUED job is ended (a detached one).
    """
    now = clock.now()
    counts = catalog.day_claim_counts(job_id, now=now, max_attempts=MAX_ATTEMPTS)
    if not counts.settled:
        return None
    summary = backfill_summary(catalog, job_id, now=now)  # its seconds end at ``now``
    state = JobState.FAILED if summary.failed else JobState.SUCCEEDED
    if held is not None and held.held:
        held.publish()  # the last progress: all days counted
        held.end(state, summary.as_json(), now=now)
    else:
        _end(catalog, job_id, state, summary, now=now)
    return summary


def _end(
    catalog: Catalog,
    job_id: int,
    state: JobState,
    summary: BackfillSummary | None,
    *,
    now: datetime,
    error: str | None = None,
) -> None:
    """End the queued job ``job_id`` in ``state`` unless someone else ended it first; with
    an ``error`` (a worker stopped the range), a held job is ended in its holder's name."""
    document = None if summary is None else summary.as_json()
    owner = new_owner()
    if catalog.start_job(job_id, owner, now=now, lease_seconds=LEASE_SECONDS):
        catalog.finish_job(job_id, owner, state, now=now, summary=document, error=error)
        return
    record = catalog.get_job(job_id)
    if error is not None and record is not None and record.state is JobState.RUNNING:
        holder = record.owner or ""  # compare-and-set on the holder: it sees the job ended
        catalog.finish_job(job_id, holder, state, now=now, summary=document, error=error)


def follow_backfill(
    catalog: Catalog,
    job_id: int,
    *,
    sleep: Callable[[float], None],
    every: float = 0.2,
    clock: Clock = SYSTEM_CLOCK,
) -> BackfillSummary:
    """Hold backfill job ``job_id`` RUNNING with its progress until its days are settled,
    then end it; return its summary.

    Raises
    ------
    InterruptedRun
        The job was cancelled (``skyhaul jobs cancel``).
    RangeStoppedError
        A worker stopped the range (refused credentials, a full disk).
    KeyboardInterrupt
        The follower was stopped; the job is given back QUEUED first.
    """
    held = HeldJob(
        catalog,
        job_id,
        lambda: backfill_progress(catalog, job_id, now=clock.now()),
        lease=LEASE_SECONDS,
        clock=clock,
    )
    published = -PUBLISH_EVERY
    try:
        while True:
            held.take()
            if (summary := _ended(catalog, job_id, clock)) is not None:
                return summary
            if held.held and clock.monotonic() - published >= PUBLISH_EVERY:
                published = clock.monotonic()
                if held.publish():
                    log.warning("job %d: cancel requested; its workers stop", job_id)
                    sofar = backfill_summary(catalog, job_id, now=clock.now())
                    held.end(JobState.CANCELLED, sofar.as_json())
                    continue  # _ended raises InterruptedRun
            if finish_backfill(catalog, job_id, clock=clock, held=held) is not None:
                continue  # ended by this follower, or by someone else first: _ended says
            sleep(every)
    except KeyboardInterrupt:
        held.release()
        raise


def _ended(catalog: Catalog, job_id: int, clock: Clock) -> BackfillSummary | None:
    """The summary of job ``job_id`` if it ended well or with failed days, else None.

    Raises as :func:`follow_backfill` says when it was cancelled or its range stopped.
    """
    record = catalog.get_job(job_id)
    if record is None:
        raise UsageError(f"no job {job_id} in this catalog (see 'skyhaul jobs')")
    if record.state is JobState.CANCELLED:
        raise InterruptedRun(f"job {job_id} was cancelled; 'skyhaul jobs resume' finishes it")
    if record.state is JobState.FAILED and record.error:
        raise RangeStoppedError(f"job {job_id}: {record.error}")
    if record.state in _ACTIVE or record.state is JobState.INTERRUPTED:
        return None
    return backfill_summary(catalog, job_id, now=clock.now())


def backfill_jobs_with_work(catalog: Catalog, executor: str, *, now: datetime) -> list[int]:
    """The active backfill jobs of ``executor`` with a day waiting to be claimed."""
    found = []
    for job in _backfills(catalog, executor, _ACTIVE):
        counts = catalog.day_claim_counts(job.id, now=now, max_attempts=MAX_ATTEMPTS)
        if counts.waiting:
            found.append(job.id)
    return sorted(found)


def republish_backfills(
    catalog: Catalog,
    executor: str,
    publish: Callable[[int], None],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> list[int]:
    """Publish (``publish(job_id)``) the backfill jobs of ``executor`` with a day waiting,
    queue again those whose follower died, and end the settled queued ones; return the
    ids published."""
    for job in _backfills(catalog, executor, [JobState.INTERRUPTED]):
        catalog.requeue_job(job.id, now=clock.now())  # its workers go on; nobody holds it
    jobs = backfill_jobs_with_work(catalog, executor, now=clock.now())
    for job_id in jobs:
        publish(job_id)
    for job in _backfills(catalog, executor, [JobState.QUEUED]):
        if job.id not in jobs:
            finish_backfill(catalog, job.id, clock=clock)
    return jobs


def _backfills(catalog: Catalog, executor: str, states: Iterable[JobState]) -> list[JobRecord]:
    return [
        job
        for job in catalog.list_jobs(states=list(states), limit=10_000)
        if job.kind is JobKind.BACKFILL and job.params.get("executor") == executor
    ]
