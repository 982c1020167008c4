"""The steward of a job that workers run elsewhere: one process owns its record.

Rules:
- Workers share a celery job's files and none owns its record; its steward does: the
  follower of ``get --executor celery``, else (a detached job, or one whose steward died)
  the manager. The job then shows RUNNING with progress, like a job run in one process.
- Taking a job is compare-and-set (``start_job``): of the follower and any managers, one
  steward holds it. A RUNNING job whose steward's lease expired, or whose steward
  process of this host is gone, is first recovered as INTERRUPTED (``recover_jobs``);
  an INTERRUPTED job of the executor is then queued again (compare-and-set) and taken:
  its workers never stopped, only its steward did.
- Each step (about once a second) reads the totals of the job's files by state,
  publishes them as the job's progress (renewing the steward's lease) and reads the
  cancel flag. A cancel ends the job CANCELLED at once; its workers see it within a
  second and release their files (``services.queued.work_on_job``). Once the files are
  settled (``services.queued.is_settled``) the steward ends the job SUCCEEDED or FAILED
  with its file counts.
- A steward that finds the job no longer its own (recovered after its publishes stopped
  for a lease) stops stewarding it; someone else may take it.
- A catalog that fails for a moment costs a step, not the stewardship: the lease
  outlasts many steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobparams import options_from_json
from skyhaul.core.jobs import TERMINAL_STATES, JobKind, JobRecord, JobState
from skyhaul.core.jobtotals import FileTotals, SpeedWindow, bytes_done, progress_from_totals
from skyhaul.core.lifecycle import FileState
from skyhaul.errors import SkyhaulError
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.jobs import PUBLISH_EVERY, recover_jobs
from skyhaul.services.owners import new_owner
from skyhaul.services.queued import FILE_JOB_KINDS, is_settled, settled_state, settled_summary

__all__ = ["JobSteward", "Stewards", "follow_job", "take_job"]

log = logging.getLogger("skyhaul.steward")


def take_job(
    catalog: Catalog,
    job_id: int,
    owner: str,
    lease_of: Callable[[JobRecord], float],
    clock: Clock = SYSTEM_CLOCK,
) -> bool:
    """Take job ``job_id`` for ``owner`` compare-and-set; True when it is held.

    A RUNNING job whose steward died is first recovered, an INTERRUPTED one queued again
    (its workers never stopped, only its steward did). ``lease_of`` gives the lease
    (seconds) of the job as read.
    """
    job = catalog.get_job(job_id)
    if job is None or job.state is JobState.SUCCEEDED:
        return False
    if job.state is JobState.RUNNING:
        recover_jobs(catalog, clock=clock)  # a dead steward's job is taken over
        job = catalog.get_job(job_id)
    if job is None:
        return False
    if job.state is JobState.INTERRUPTED:
        catalog.requeue_job(job_id, now=clock.now())
    return catalog.start_job(job_id, owner, now=clock.now(), lease_seconds=lease_of(job))


@dataclass(slots=True)
class JobSteward:
    """The would-be steward of one job.

    Parameters
    ----------
    catalog : Catalog
        Where the job lives.
    job_id : int
        The job.
    clock : Clock
        Wall clock of the job's times; its monotonic clock times the speed.
    owner : str
        This steward's owner id (a new one by default).
    """

    catalog: Catalog
    job_id: int
    clock: Clock = SYSTEM_CLOCK
    owner: str = field(default_factory=new_owner)
    held: bool = False
    _lease: float = 60.0
    _max_wait: float = 0.0
    _speed: SpeedWindow = field(default_factory=SpeedWindow)

    def take(self) -> bool:
        """Become the job's steward if nobody is (compare-and-set); True when it is held."""
        if self.held:
            return True
        self.held = take_job(self.catalog, self.job_id, self.owner, self._lease_of, self.clock)
        if self.held:
            log.info("job %d: stewarded by %s", self.job_id, self.owner)
        return self.held

    def _lease_of(self, job: JobRecord) -> float:
        options = options_from_json(job.params.get("options", {}))
        self._lease, self._max_wait = options.lease_seconds, options.max_wait
        return self._lease

    def step(self) -> JobState:
        """Publish the job's progress and end it if it is settled or cancelled.

        Returns
        -------
        JobState
            RUNNING while it goes on; the state this steward ended it in; INTERRUPTED when
            it is no longer this steward's.
        """
        try:
            return self._step()
        except SkyhaulError as exc:  # the catalog is down for a moment: the lease holds
            log.warning("job %d: not stewarded this time: %s", self.job_id, exc)
            return JobState.RUNNING

    def _step(self) -> JobState:
        totals = self.catalog.job_file_totals(self.job_id)
        speed = self._speed.add(self.clock.monotonic(), bytes_done(totals))
        asked = self.catalog.publish_job_progress(
            self.job_id,
            self.owner,
            progress_from_totals(totals, speed=speed),
            now=self.clock.now(),
            lease_seconds=self._lease,
        )
        if asked is None:
            log.warning("job %d is no longer stewarded by %s", self.job_id, self.owner)
            return self._let_go(JobState.INTERRUPTED)
        states = {state: t.count for state, t in totals.items()}
        if asked:
            log.warning("job %d: cancel requested; its workers stop", self.job_id)
            return self._end(JobState.CANCELLED, states)
        if self._settled(totals):
            return self._end(settled_state(states), states)
        return JobState.RUNNING

    def _settled(self, totals: dict[FileState, FileTotals]) -> bool:
        states = {state: t.count for state, t in totals.items()}
        failed = states.get(FileState.FAILED, 0)
        due = self.catalog.next_attempt_due(job_id=self.job_id) if failed else None
        return is_settled(states, due, now=self.clock.now(), max_wait=self._max_wait)

    def _end(self, state: JobState, states: dict[FileState, int]) -> JobState:
        ended = self.catalog.finish_job(
            self.job_id, self.owner, state, now=self.clock.now(), summary=settled_summary(states)
        )
        return self._let_go(state if ended else JobState.INTERRUPTED)

    def _let_go(self, state: JobState) -> JobState:
        self.held = False
        return state


def follow_job(
    steward: JobSteward,
    *,
    every: float = PUBLISH_EVERY,
    sleep: Callable[[float], None] = time.sleep,
) -> JobState:
    """Steward ``steward``'s job (or wait while someone else does) until it ends.

    Returns
    -------
    JobState
        The job's final state (succeeded, failed or cancelled).
    """
    while True:
        if steward.take():
            state = steward.step()
            if state is not JobState.RUNNING and state is not JobState.INTERRUPTED:
                return state
        else:
            job = steward.catalog.get_job(steward.job_id)
            if job is None:
                return JobState.FAILED
            if job.state in TERMINAL_STATES and job.state is not JobState.INTERRUPTED:
                return job.state
        sleep(every)


class Stewarded(Protocol):
    """What a manager holds: a job it can take and step (:class:`JobSteward`, and the
    followers of other kinds in :mod:`skyhaul.services.held_followers`)."""

    def take(self) -> bool:
        """Hold the job if nobody does; True when it is held."""
        ...

    def step(self) -> JobState:
        """One look: RUNNING while it goes on, else the state it ended (or was lost) in."""
        ...


#: Builds the follower of one job: catalog, job id, clock, owner.
Follower = Callable[[Catalog, int, Clock, str], Stewarded]


@dataclass(slots=True)
class Stewards:
    """The jobs a manager stewards: those of ``executor`` whose work is their files
    (``services.queued.FILE_JOB_KINDS``) that nobody else does.

    Parameters
    ----------
    catalog : Catalog
        Where the jobs live.
    executor : str
        The executor whose jobs are adopted (``params["executor"]``).
    clock : Clock
        As for :class:`JobSteward`.
    followers : mapping of JobKind to callable
        The followers of kinds whose work is not their files (backfills, pipelines:
        ``held_followers.HELD_FOLLOWERS``); jobs of other kinds are left alone.
    """

    catalog: Catalog
    executor: str
    clock: Clock = SYSTEM_CLOCK
    owner: str = field(default_factory=new_owner)
    followers: Mapping[JobKind, Follower] = field(default_factory=dict)
    held: dict[int, Stewarded] = field(default_factory=dict)

    def adopt(self) -> dict[int, JobKind]:
        """Take the executor's queued jobs and those whose steward died; return their ids
        with their kinds (which say their queues)."""
        recover_jobs(self.catalog, clock=self.clock)
        orphans = self.catalog.list_jobs(
            states=[JobState.QUEUED, JobState.INTERRUPTED], limit=10_000
        )
        taken: dict[int, JobKind] = {}
        for job in orphans:
            if job.params.get("executor") != self.executor or job.id in self.held:
                continue
            steward: Stewarded
            if job.kind in FILE_JOB_KINDS:
                steward = JobSteward(self.catalog, job.id, self.clock, self.owner)
            elif job.kind in self.followers:
                steward = self.followers[job.kind](self.catalog, job.id, self.clock, self.owner)
            else:
                continue
            if steward.take():
                self.held[job.id] = steward
                taken[job.id] = job.kind
        return taken

    def step(self) -> dict[int, JobState]:
        """Step every held job; return the final states of those that ended or were lost."""
        ended: dict[int, JobState] = {}
        for job_id, steward in list(self.held.items()):
            state = steward.step()
            if state is not JobState.RUNNING:
                ended[job_id] = state
                del self.held[job_id]
        return ended
