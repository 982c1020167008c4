"""The observatory pipeline run by workers on per-location queues: the job that asks for
it, which queues have work, one worker's pass over a queue, and when the run is over.

Rules (the catalog is the single source of truth; a message only says "work is
available" on queue ``{site}_{location}_{kind}``, :mod:`skyhaul.core.opqueues`):
- A queued run is a PIPELINE job, QUEUED with the settings that reproduce it
  (:class:`PipelineJob`). Many workers share it; its follower holds it RUNNING
  (:class:`~skyhaul.services.held_job.HeldJob`, ``follow_step``) with its progress:
  operations done/total as files (``pipeline_progress``). Workers work on a job QUEUED
  or RUNNING. It is ended once idle (``finish_idle``) by its holder, or, QUEUED (detached,
  or its follower stopped), by whoever sees that first, compare-and-set. The manager
  queues again a job whose follower died (INTERRUPTED once its lease passed). A cancel sets the
  flag: the follower ends the job CANCELLED; workers look at the job only when a message
  starts their pass, so a pass under way runs to its end.
- Planning (new packages, deletions) reads and writes only the catalog, so it needs no
  storage and no queue: it runs where the job is followed (``pipeline --executor
  celery``) and in every manager round. Two planners at once are harmless: a package is
  created in one transaction that loses a race, and enqueueing an open operation again
  finds the open one.
- ``queues_with_work`` names the queues with operations claimable now or whose lease
  expired: a publisher (follower, manager, a worker that completed something) sends one
  message to each. A lost message costs latency, a needless one finds nothing to claim.
- ``work_on_queue`` claims operations of the queue's kind whose *home* is the queue's
  location only (never another's), in passes of :func:`.stagework.run_operations`
  (leases, heartbeats, the failure policy) until a pass finds nothing to do. Each
  operation it runs is logged with its own home location.
- A run is idle when no operation of its stages' kinds is open (pending, scheduled or
  leased) and its planners, run right then, find nothing new. It ended well if no
  operation failed for good since the job was created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.core.operations import OPEN_STATUSES, Operation, OperationKind, OperationStatus
from skyhaul.core.opqueues import colliding_locations, operation_home, operation_queue
from skyhaul.errors import ConfigError, InterruptedRun
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.held_job import HeldJob
from skyhaul.services.jobs import create_job
from skyhaul.services.observatory.pipeline import DEFAULT_STAGES, STAGE_NAMES, STAGES, Stage
from skyhaul.services.observatory.stagework import (
    Failure,
    Handler,
    Outcome,
    PipelineSettings,
    StageContext,
    StageCounts,
    Storages,
    run_operations,
)
from skyhaul.services.owners import new_owner

__all__ = [
    "PipelineJob",
    "Publish",
    "QueueWork",
    "RunState",
    "finish_idle",
    "follow_step",
    "manager_round",
    "open_operations",
    "pipeline_jobs",
    "pipeline_progress",
    "plan_pipeline",
    "queues_with_work",
    "run_state",
    "submit_pipeline",
    "work_on_queue",
]

log = logging.getLogger("skyhaul.worker")


@dataclass(frozen=True, slots=True)
class PipelineJob:
    """What a queued pipeline run does: its stages and settings (the job's params)."""

    stages: tuple[str, ...] = DEFAULT_STAGES
    settings: PipelineSettings = field(default_factory=PipelineSettings)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.stages) - set(STAGE_NAMES))
        if unknown or not self.stages:
            raise ValueError(
                f"unknown stage(s) {', '.join(unknown) or '(none)'}; use {', '.join(STAGE_NAMES)}"
            )

    @property
    def chosen(self) -> list[Stage]:
        """Its stages, in the pipeline's order."""
        return [STAGES[name] for name in STAGE_NAMES if name in self.stages]

    @property
    def kinds(self) -> list[OperationKind]:
        """The operation kinds its stages run."""
        return [stage.kind for stage in self.chosen]

    def params(self, executor: str) -> dict[str, Any]:
        """The job's JSON-ready params."""
        settings = asdict(self.settings)
        settings["retention"] = self.settings.retention.total_seconds()
        return {"executor": executor, "stages": list(self.stages), "settings": settings}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PipelineJob:
        """The run a job's params describe."""
        settings = dict(params.get("settings", {}))
        settings["retention"] = timedelta(seconds=float(settings.get("retention", 86400)))
        return cls(tuple(params.get("stages", DEFAULT_STAGES)), PipelineSettings(**settings))


@dataclass(frozen=True, slots=True)
class QueueWork:
    """A queue with work: the location (``site/location``) and kind it serves."""

    site: str
    location: str
    kind: OperationKind

    @property
    def queue(self) -> str:
        """The queue's name."""
        return operation_queue(self.site, self.location, self.kind)


#: The states in which a run's operations are worked on (RUNNING: its follower holds it).
_ACTIVE = (JobState.QUEUED, JobState.RUNNING)

#: Sends one message: (job id, queue) -> None.
Publish = Callable[[int, QueueWork], None]


@dataclass(frozen=True, slots=True)
class RunState:
    """Where a queued run stands: operations open, and what failed for good since it began."""

    open: int
    failures: list[Failure]
    done: dict[str, int]

    @property
    def idle(self) -> bool:
        """Nothing pending or leased."""
        return self.open == 0


def submit_pipeline(catalog: Catalog, job: PipelineJob, executor: str) -> int:
    """Queue a PIPELINE job for ``executor``; return its id."""
    return create_job(catalog, JobKind.PIPELINE, job.params(executor))


def pipeline_jobs(catalog: Catalog, executor: str) -> list[JobRecord]:
    """The active (queued or held) pipeline jobs of ``executor``, by id."""
    jobs = catalog.list_jobs(states=list(_ACTIVE), limit=10_000)
    found = [j for j in jobs if j.kind is JobKind.PIPELINE and j.params.get("executor") == executor]
    return sorted(found, key=lambda j: j.id)


def _context(catalog: Catalog, job: PipelineJob) -> StageContext:
    return StageContext(catalog, Storages(), new_owner(), job.settings, SYSTEM_CLOCK)


def plan_pipeline(catalog: Catalog, job: PipelineJob) -> int:
    """Run the planners of ``job``'s stages once; return how much they planned."""

    async def plan() -> int:
        ctx = _context(catalog, job)
        planned = 0
        try:
            for stage in job.chosen:
                if stage.planner is not None:
                    planned += (await stage.planner(ctx)).done
        finally:
            await ctx.storages.aclose()
        return planned

    return asyncio.run(plan())


def queues_with_work(catalog: Catalog, kinds: Collection[OperationKind]) -> list[QueueWork]:
    """The queues of ``kinds`` with operations claimable now or whose lease expired.

    Raises
    ------
    ConfigError
        When two locations would share a queue name (see :mod:`skyhaul.core.opqueues`).
    """
    locations = {loc.id: loc for loc in catalog.list_locations()}
    clashes = colliding_locations((loc.site, loc.name) for loc in locations.values())
    if clashes:
        pairs = "; ".join(f"{a} and {b}" for a, b in clashes)
        raise ConfigError(f"locations whose queues would have one name: {pairs}")
    waiting = catalog.waiting_operation_work(now=SYSTEM_CLOCK.now(), kinds=kinds)
    found = []
    for kind, home in waiting:
        location = locations.get(home) if home is not None else None
        if location is None:
            log.warning("%s operations with no home location: no queue serves them", kind)
            continue
        found.append(QueueWork(location.site, location.name, kind))
    return sorted(found, key=lambda work: work.queue)


def _logged(handler: Handler) -> Handler:
    async def run(ctx: StageContext, operation: Operation) -> Outcome:
        home = await ctx.location(operation_home(operation))
        log.info("operation %d %s at %s: started", operation.id, operation.kind, home.ref)
        return await handler(ctx, operation)

    return run


def work_on_queue(catalog: Catalog, job_id: int, work: QueueWork) -> StageCounts:
    """Run what is claimable on ``work``'s queue for job ``job_id`` (see the rules).

    Returns empty counts for a job that is unknown or no longer queued or running.

    Raises
    ------
    ConfigError
        When the queue's location is not in the catalog.
    """
    record = catalog.get_job(job_id)
    if record is None or record.state not in _ACTIVE:
        return StageCounts()
    job = PipelineJob.from_params(record.params)
    location = catalog.location(work.site, work.location)
    if location is None:
        raise ConfigError(f"location {work.site}/{work.location} is not in the catalog")
    [stage] = [s for s in STAGES.values() if s.kind is work.kind]
    handler = _logged(stage.handler)

    async def passes() -> StageCounts:
        ctx = _context(catalog, job)
        total = StageCounts()
        try:
            while True:
                counts = await run_operations(ctx, work.kind, handler, at_location=location.id)
                total.add(counts)
                if not counts.busy:
                    return total
        finally:
            await ctx.storages.aclose()

    return asyncio.run(passes())


def open_operations(catalog: Catalog, job: PipelineJob) -> int:
    """Operations of ``job``'s kinds still pending, scheduled or leased."""
    return sum(catalog.count_operations(kinds=job.kinds, statuses=OPEN_STATUSES).values())


def run_state(catalog: Catalog, record: JobRecord) -> RunState:
    """Where the run of job ``record`` stands."""
    job = PipelineJob.from_params(record.params)
    done: dict[str, int] = {}
    since = record.created_at
    counts = catalog.count_operations(
        kinds=job.kinds, statuses=[OperationStatus.COMPLETED], updated_since=since
    )
    for (kind, _), count in sorted(counts.items()):
        done[kind.value] = count
    failed = catalog.operations(kinds=job.kinds, statuses=[OperationStatus.FAILED])
    failures = [
        Failure(op.kind, _package_name(catalog, op.package_id), op.error or "")
        for op in failed
        if op.updated_at >= since
    ]
    return RunState(open_operations(catalog, job), failures, done)


def _package_name(catalog: Catalog, package_id: int | None) -> str | None:
    package = None if package_id is None else catalog.package(package_id)
    return None if package is None else package.name


def pipeline_progress(catalog: Catalog, job_id: int) -> JobProgress:
    """The progress of pipeline job ``job_id``: its operations done (completed since it
    began) of those done, failed for good and still open, as files."""
    record = catalog.get_job(job_id)
    if record is None:
        return JobProgress()
    state = run_state(catalog, record)
    done, failed = sum(state.done.values()), len(state.failures)
    return JobProgress(files_done=done, files_total=done + failed + state.open, files_failed=failed)


def _summary(state: RunState) -> dict[str, Any]:
    return {
        "operations": state.done,
        "failures": [
            {"kind": f.kind.value, "package": f.package, "error": f.error} for f in state.failures
        ],
    }


def follow_step(catalog: Catalog, held: HeldJob) -> RunState | None:
    """One look of a follower at its job: hold it, publish its progress, end it if idle;
    return the run's state once it ended (by this follower or someone else), else None.

    Raises
    ------
    InterruptedRun
        The job was cancelled (``skyhaul jobs cancel``); a held job is ended CANCELLED.
    """
    job_id = held.job_id
    held.take()
    if held.held and held.publish():
        record = catalog.get_job(job_id)
        summary = None if record is None else _summary(run_state(catalog, record))
        held.end(JobState.CANCELLED, summary)
    record = catalog.get_job(job_id)
    if record is None or record.state is JobState.CANCELLED:
        raise InterruptedRun(f"pipeline job {job_id} was cancelled")
    if record.state in _ACTIVE or record.state is JobState.INTERRUPTED:
        return finish_idle(catalog, job_id, held=held)
    return run_state(catalog, record)  # someone else ended it


def finish_idle(catalog: Catalog, job_id: int, *, held: HeldJob | None = None) -> RunState | None:
    """End job ``job_id`` if its run is idle (SUCCEEDED, or FAILED if something failed
    for good); return its state then, else None.

    ``held`` is the job's hold when the caller is its follower: the job is ended as its
    holder (compare-and-set); without it only a QUEUED job is ended, and one held by
    someone else is left to its holder (None). The planners run first when nothing is
    open, so work that only now became due (the deletions of packages just archived)
    keeps the run going instead of being missed.
    """
    record = catalog.get_job(job_id)
    mine = held is not None and held.held
    if record is None or record.state is not (JobState.RUNNING if mine else JobState.QUEUED):
        return None
    job = PipelineJob.from_params(record.params)
    if open_operations(catalog, job) or plan_pipeline(catalog, job):
        return None
    state = run_state(catalog, record)
    if not state.idle:
        return None
    final = JobState.FAILED if state.failures else JobState.SUCCEEDED
    if held is not None and mine:
        held.publish()  # the last progress: every operation counted
        held.end(final, _summary(state))  # compare-and-set on the holder
        return state
    owner, now = new_owner(), SYSTEM_CLOCK.now()
    # Compare-and-set: of the managers that see it idle, one ends it.
    if catalog.start_job(job_id, owner, now=now, lease_seconds=60.0):
        catalog.finish_job(job_id, owner, final, now=now, summary=_summary(state))
    return state


def manager_round(catalog: Catalog, executor: str, publish: Publish) -> int:
    """Queue again the pipeline jobs of ``executor`` whose follower died; for every active
    one, newest first: plan, end it if idle (a QUEUED one), else publish each queue with
    work (once a round, for the newest job that has it: its settings are the ones a
    worker uses). Return the messages sent."""
    published: set[str] = set()
    for lost in catalog.list_jobs(states=[JobState.INTERRUPTED], limit=10_000):
        if lost.kind is JobKind.PIPELINE and lost.params.get("executor") == executor:
            catalog.requeue_job(lost.id, now=SYSTEM_CLOCK.now())  # its follower died
    for record in reversed(pipeline_jobs(catalog, executor)):
        job = PipelineJob.from_params(record.params)
        plan_pipeline(catalog, job)
        if finish_idle(catalog, record.id) is not None:
            continue
        for work in queues_with_work(catalog, job.kinds):
            if work.queue not in published:
                published.add(work.queue)
                publish(record.id, work)
    return len(published)
