"""A job held RUNNING by the process that follows it while workers do its work elsewhere.

Rules:
- The sibling of :class:`~skyhaul.services.job_steward.JobSteward` for jobs whose work is
  not their files (a backfill's days, a pipeline's operations): the follower takes the
  job compare-and-set (``take_job``: a dead steward's job is recovered and taken over),
  publishes the progress its ``progress`` callable reads from the catalog (renewing its
  lease) and ends it with the summary its caller builds. The job then shows RUNNING with
  progress, like a job run in one process.
- :meth:`HeldJob.publish` returns the cancel flag; None when the job is no longer held
  (someone else ended it, or it was recovered after its publishes stopped for a lease).
  A catalog that fails for a moment costs a publish, not the hold.
- :meth:`HeldJob.release` gives the job back QUEUED (the follower was stopped, Ctrl-C):
  its workers go on and the manager ends it, as for a detached job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobRecord, JobState
from skyhaul.errors import SkyhaulError
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.job_steward import take_job
from skyhaul.services.owners import new_owner

__all__ = ["HeldJob"]

log = logging.getLogger("skyhaul.steward")


@dataclass(slots=True)
class HeldJob:
    """One job its follower holds RUNNING.

    Parameters
    ----------
    catalog : Catalog
        Where the job lives.
    job_id : int
        The job.
    progress : callable
        Reads the job's progress from the catalog.
    lease : float
        Seconds the hold outlasts the last publish.
    clock : Clock
        Wall clock of the job's times.
    owner : str
        The holder's owner id (a new one by default).
    """

    catalog: Catalog
    job_id: int
    progress: Callable[[], JobProgress]
    lease: float = 60.0
    clock: Clock = SYSTEM_CLOCK
    owner: str = field(default_factory=new_owner)
    held: bool = False

    def take(self) -> bool:
        """Hold the job if nobody does (compare-and-set); True when it is held."""
        if not self.held:
            self.held = take_job(self.catalog, self.job_id, self.owner, self._lease_of, self.clock)
            if self.held:
                log.info("job %d: held by its follower %s", self.job_id, self.owner)
        return self.held

    def _lease_of(self, _job: JobRecord) -> float:
        return self.lease

    def publish(self) -> bool | None:
        """Publish the job's progress; return the cancel flag (None: no longer held)."""
        if not self.held:
            return None
        try:
            asked = self.catalog.publish_job_progress(
                self.job_id,
                self.owner,
                self.progress(),
                now=self.clock.now(),
                lease_seconds=self.lease,
            )
        except SkyhaulError as exc:  # the catalog is down for a moment: the lease holds
            log.warning("job %d: progress not published this time: %s", self.job_id, exc)
            return False
        if asked is None:
            self.held = False
        return asked

    def end(
        self,
        state: JobState,
        summary: Mapping[str, Any] | None,
        error: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """End the job in ``state`` at ``now`` (the clock's by default; a summary's times
        end there) compare-and-set; False when it was no longer held."""
        at = self.clock.now() if now is None else now
        ended = self.held and self.catalog.finish_job(
            self.job_id, self.owner, state, now=at, summary=summary, error=error
        )
        self.held = False
        return ended

    def release(self) -> None:
        """Give the job back QUEUED for the workers and the manager."""
        if self.end(JobState.INTERRUPTED, None, "its follower stopped"):
            self.catalog.requeue_job(self.job_id, now=self.clock.now())
