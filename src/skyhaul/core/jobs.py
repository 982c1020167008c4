"""Jobs: a run's identity, one transition table, and the record another process reads.

Rules:
- Every state change of a job is an ``(state, event) -> state`` lookup in ``TRANSITIONS``;
  a pair that is not in the table raises ``IllegalTransitionError``.
- The catalog persists job states with compare-and-set updates and asks this table which
  state comes next; it never decides one.
- A new job is QUEUED. Only its owner (the process that started it) publishes progress or
  finishes it, and only while it is RUNNING under a lease that publishing renews. A job
  whose lease expired (its process died) becomes INTERRUPTED: the same lease rule as files.
- Cancelling is a flag any process may set on a RUNNING job; the owner sees it when it
  publishes, stops, and finishes the job CANCELLED. A QUEUED job nobody runs yet is
  cancelled at once.
- A finished job (succeeded, failed, cancelled, interrupted) is never taken up again on
  its own; ``resume`` queues a failed, cancelled or interrupted one again.

::

    QUEUED --start--> RUNNING --succeed--> SUCCEEDED
    RUNNING --fail--> FAILED
    QUEUED | RUNNING --cancel--> CANCELLED
    RUNNING --interrupt (the owner says so) | lease_expired--> INTERRUPTED
    FAILED | CANCELLED | INTERRUPTED --resume--> QUEUED
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from skyhaul.core.jobprogress import JobProgress
from skyhaul.errors import IllegalTransitionError

__all__ = [
    "ACTIVE_STATES",
    "HELD_STATE",
    "NEW_JOB_STATE",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "JobEvent",
    "JobKind",
    "JobRecord",
    "JobState",
    "finish_event",
    "next_job_state",
    "sources_of",
]


class JobKind(StrEnum):
    """What a job does (the command or service that runs it)."""

    GET = "get"
    DOWNLOAD = "download"
    BACKFILL = "backfill"
    WATCH_CYCLE = "watch_cycle"
    IMPORT = "import"
    PACKAGE = "package"
    STREAM = "stream"
    PIPELINE = "pipeline"


class JobState(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class JobEvent(StrEnum):
    """What can happen to a job."""

    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    INTERRUPT = "interrupt"
    LEASE_EXPIRED = "lease_expired"
    RESUME = "resume"


S = JobState
E = JobEvent

TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (S.QUEUED, E.START): S.RUNNING,
    (S.RUNNING, E.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.RUNNING, E.CANCEL): S.CANCELLED,
    (S.QUEUED, E.CANCEL): S.CANCELLED,
    (S.RUNNING, E.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, E.LEASE_EXPIRED): S.INTERRUPTED,
    (S.FAILED, E.RESUME): S.QUEUED,
    (S.CANCELLED, E.RESUME): S.QUEUED,
    (S.INTERRUPTED, E.RESUME): S.QUEUED,
}

#: The event by which an owner ends its running job in each final state.
_FINISH: dict[JobState, JobEvent] = {
    S.SUCCEEDED: E.SUCCEED,
    S.FAILED: E.FAIL,
    S.CANCELLED: E.CANCEL,
    S.INTERRUPTED: E.INTERRUPT,
}

del S, E

#: The state of a job when it is created.
NEW_JOB_STATE = JobState.QUEUED
#: The state in which a job has an owner, a lease, progress and a cancel flag that counts.
HELD_STATE = JobState.RUNNING
#: States no process works on and none leaves on its own (``resume`` may requeue some).
TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED}
)
#: States of a job that is still to run or running: the ones a cancel applies to.
ACTIVE_STATES = frozenset(JobState) - TERMINAL_STATES


def next_job_state(state: JobState, event: JobEvent) -> JobState:
    """Return the state that ``event`` moves a job in ``state`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransitionError(
            f"illegal job transition: {event.value} from {state.value}",
            state=state.value,
            event=event.value,
        ) from None


def sources_of(event: JobEvent) -> frozenset[JobState]:
    """Return every state from which ``event`` is legal (used to build CAS updates)."""
    return frozenset(state for (state, ev) in TRANSITIONS if ev is event)


def finish_event(state: JobState) -> JobEvent:
    """Return the event by which a running job ends in ``state``.

    Raises
    ------
    IllegalTransitionError
        When ``state`` is not one a running job can end in (queued, running).
    """
    try:
        return _FINISH[state]
    except KeyError:
        raise IllegalTransitionError(
            f"a job cannot finish {state.value}", state=state.value
        ) from None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the catalog holds it.

    Parameters
    ----------
    id : int
        Catalog id.
    kind : JobKind
        What the job does.
    params : mapping
        JSON-ready parameters that reproduce the job (its selection, options, ...).
    state : JobState
        Where it stands.
    created_at : datetime
        When it was queued first.
    started_at, finished_at : datetime or None
        When its latest run started and ended.
    owner : str or None
        The process that runs (or last ran) it, e.g. ``host:pid``.
    lease_expires_at : datetime or None
        While RUNNING: when the owner's lease runs out unless progress renews it.
    cancel_requested : bool
        Someone asked the running job to stop.
    progress : JobProgress or None
        The latest progress its owner published (kept when it ends).
    progress_at : datetime or None
        When that progress was published.
    summary : mapping or None
        The final summary (JSON-ready) of its latest run.
    error : str or None
        Why its latest run failed or was interrupted.
    updated_at : datetime
        When its state (or cancel flag) last changed.
    """

    id: int
    kind: JobKind
    params: Mapping[str, Any]
    state: JobState
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    progress: JobProgress | None = None
    progress_at: datetime | None = None
    summary: Mapping[str, Any] | None = None
    error: str | None = None
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the job is in a terminal state."""
        return self.state in TERMINAL_STATES

    def as_json(self) -> dict[str, Any]:
        """Return the job as a JSON-ready dict (times in ISO 8601)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "state": self.state.value,
            "params": dict(self.params),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "updated_at": _iso(self.updated_at),
            "owner": self.owner,
            "lease_expires_at": _iso(self.lease_expires_at),
            "cancel_requested": self.cancel_requested,
            "progress": None if self.progress is None else self.progress.as_json(),
            "progress_at": _iso(self.progress_at),
            "summary": None if self.summary is None else dict(self.summary),
            "error": self.error,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
