"""The manager's hold on detached backfill and pipeline jobs run by workers.

Rules:
- A backfill or pipeline job submitted with ``--detach`` (or whose follower died) has
  nobody to hold it RUNNING and publish its progress; the manager does, as it stewards
  detached jobs of files (:class:`~skyhaul.services.job_steward.Stewards`). Each kind
  gets a follower here with the steward's two moves: ``take`` (compare-and-set, through
  :class:`~skyhaul.services.held_job.HeldJob`) and ``step`` (publish, honour a cancel,
  end the job once its work is settled), so the job shows RUNNING with progress and
  ends with the same summary as when its submitter follows it.
- ``step`` returns the job's state: RUNNING while it goes on; its final state once it
  ended (by this manager or by anyone else); INTERRUPTED when the hold was lost.
- Planning, republishing and the workers are unchanged: the manager's round still does
  them (``republish_backfills``, ``manager_round``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobs import TERMINAL_STATES, JobKind, JobState
from skyhaul.errors import InterruptedRun, SkyhaulError
from skyhaul.services.backfill_job import LEASE_SECONDS
from skyhaul.services.backfill_queue import backfill_progress, backfill_summary, finish_backfill
from skyhaul.services.clock import Clock
from skyhaul.services.held_job import HeldJob
from skyhaul.services.job_steward import Stewarded
from skyhaul.services.observatory.queued_ops import follow_step, pipeline_progress

__all__ = ["HELD_FOLLOWERS", "BackfillFollower", "PipelineFollower"]


def _state_now(catalog: Catalog, job_id: int) -> JobState:
    """RUNNING while job ``job_id`` goes on, else the state it ended in."""
    record = catalog.get_job(job_id)
    if record is None:
        return JobState.FAILED
    if record.state in TERMINAL_STATES:
        return record.state
    return JobState.RUNNING


@dataclass(slots=True)
class BackfillFollower:
    """A detached backfill job, held by the manager.

    Parameters
    ----------
    catalog : Catalog
        Where the job lives.
    job_id : int
        The job.
    clock : Clock
        Wall clock of the job's times.
    owner : str
        The manager's owner id.
    """

    catalog: Catalog
    job_id: int
    clock: Clock
    owner: str
    held: HeldJob = field(init=False)

    def __post_init__(self) -> None:
        catalog, job_id, clock = self.catalog, self.job_id, self.clock
        progress = lambda: backfill_progress(catalog, job_id, now=clock.now())  # noqa: E731
        self.held = HeldJob(catalog, job_id, progress, LEASE_SECONDS, clock, self.owner)

    def take(self) -> bool:
        """Hold the job if nobody does; True when it is held."""
        return self.held.take()

    def step(self) -> JobState:
        """Publish its progress, honour a cancel, end it once its days are settled."""
        asked = self.held.publish()
        if asked is None:  # no longer held: ended by someone else, or lost
            state = _state_now(self.catalog, self.job_id)
            return JobState.INTERRUPTED if state is JobState.RUNNING else state
        if asked:
            sofar = backfill_summary(self.catalog, self.job_id, now=self.clock.now())
            self.held.end(JobState.CANCELLED, sofar.as_json())
            return JobState.CANCELLED
        finish_backfill(self.catalog, self.job_id, clock=self.clock, held=self.held)
        return _state_now(self.catalog, self.job_id)


@dataclass(slots=True)
class PipelineFollower:
    """A detached pipeline job, held by the manager (parameters as for
    :class:`BackfillFollower`)."""

    catalog: Catalog
    job_id: int
    clock: Clock
    owner: str
    held: HeldJob = field(init=False)

    def __post_init__(self) -> None:
        catalog, job_id = self.catalog, self.job_id
        progress = lambda: pipeline_progress(catalog, job_id)  # noqa: E731
        self.held = HeldJob(catalog, job_id, progress, clock=self.clock, owner=self.owner)

    def take(self) -> bool:
        """Hold the job if nobody does; True when it is held."""
        return self.held.take()

    def step(self) -> JobState:
        """Publish its progress, honour a cancel, end it once its run is idle."""
        try:
            follow_step(self.catalog, self.held)
        except InterruptedRun:
            return JobState.CANCELLED
        except SkyhaulError:  # a bad job's parameters: left to its operator, not a crash
            return JobState.INTERRUPTED
        state = _state_now(self.catalog, self.job_id)
        if state is JobState.RUNNING and not self.held.held:
            return JobState.INTERRUPTED
        return state


#: The manager's followers of jobs whose work is not their files, by kind.
HELD_FOLLOWERS: Mapping[JobKind, Callable[[Catalog, int, Clock, str], Stewarded]] = {
    JobKind.BACKFILL: BackfillFollower,
    JobKind.PIPELINE: PipelineFollower,
}
