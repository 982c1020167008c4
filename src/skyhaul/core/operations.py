"""Operations: each step of the observatory pipeline as a unit of work one worker claims.

Rules:
- An operation (create a package, transfer it, unpack and verify it, archive it, stage
  it, delete a copy) is claimed compare-and-set under a lease, as a file is for a
  download; its owner renews the lease (heartbeat) while it works.
- Its status changes only through ``OPERATION_STATUSES``::

      PENDING --schedule--> SCHEDULED
      PENDING | SCHEDULED --start (claim)--> IN_PROGRESS --complete--> COMPLETED
      IN_PROGRESS --fail_retryable--> PENDING          (retries + 1)
      IN_PROGRESS --fail_permanent--> FAILED --retry (operator)--> PENDING
      IN_PROGRESS --lease_expired (its worker died)--> PENDING

- ``after_failure`` decides what a failure means: a retryable error class with retries
  left goes back to PENDING, counting one retry; anything else fails for good. At most
  ``DEFAULT_MAX_RETRIES`` retries, so at most four runs. Which classes are never retried
  is the retry policy's notion (:class:`skyhaul.core.retry.RetryPolicy`), and an error
  without a class (an unexpected one) is retried like a transient fault.
- A lease that expired does not count as a retry: a killed worker is not the
  operation's fault, and a kill during every stage must not use up its retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.retry import RetryPolicy
from skyhaul.core.statetable import StateTable

#: Retries of an operation after its first run.
DEFAULT_MAX_RETRIES = 3
#: Error classes never retried (a 403, a 404: running again gives the same answer).
PERMANENT_CLASSES = RetryPolicy().permanent


class OperationKind(StrEnum):
    """What an operation does."""

    CREATE_PACKAGE = "create_package"
    TRANSFER = "transfer"
    UNPACK_VERIFY = "unpack_verify"
    ARCHIVE = "archive"
    STAGE = "stage"
    DELETE = "delete"


class OperationStatus(StrEnum):
    """Where an operation stands."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class OperationEvent(StrEnum):
    """What can happen to an operation."""

    SCHEDULE = "schedule"
    START = "start"
    COMPLETE = "complete"
    FAIL_RETRYABLE = "fail_retryable"
    FAIL_PERMANENT = "fail_permanent"
    LEASE_EXPIRED = "lease_expired"
    RETRY = "retry"


_S = OperationStatus
_E = OperationEvent
OPERATION_STATUSES: StateTable[OperationStatus, OperationEvent] = StateTable(
    "operation",
    {
        (_S.PENDING, _E.SCHEDULE): _S.SCHEDULED,
        (_S.PENDING, _E.START): _S.IN_PROGRESS,
        (_S.SCHEDULED, _E.START): _S.IN_PROGRESS,
        (_S.IN_PROGRESS, _E.COMPLETE): _S.COMPLETED,
        (_S.IN_PROGRESS, _E.FAIL_RETRYABLE): _S.PENDING,
        (_S.IN_PROGRESS, _E.FAIL_PERMANENT): _S.FAILED,
        (_S.IN_PROGRESS, _E.LEASE_EXPIRED): _S.PENDING,
        (_S.FAILED, _E.RETRY): _S.PENDING,
    },
)
del _S, _E

#: Statuses of an operation still to be done or being done (at most one such operation
#: of a kind per package, copy and destination).
OPEN_STATUSES = frozenset(
    {OperationStatus.PENDING, OperationStatus.SCHEDULED, OperationStatus.IN_PROGRESS}
)


def next_operation_status(status: OperationStatus, event: OperationEvent) -> OperationStatus:
    """Return the status ``event`` moves an operation in ``status`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    return OPERATION_STATUSES.next(status, event)


@dataclass(frozen=True, slots=True)
class NewOperation:
    """An operation to enqueue. Which ids it needs depends on its kind (a DELETE names
    the copy to delete, a TRANSFER its package and the destination, ...)."""

    kind: OperationKind
    package_id: int | None = None
    copy_id: int | None = None
    source_location: int | None = None
    destination_location: int | None = None
    max_retries: int = DEFAULT_MAX_RETRIES

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def open_key(self) -> str:
        """What makes two open operations the same one (enqueueing again finds it)."""
        parts = (self.package_id, self.copy_id, self.source_location, self.destination_location)
        return ":".join([self.kind.value, *("" if part is None else str(part) for part in parts)])


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation as the catalog holds it; locations are location ids."""

    id: int
    kind: OperationKind
    status: OperationStatus
    package_id: int | None
    copy_id: int | None
    source_location: int | None
    destination_location: int | None
    retries: int
    max_retries: int
    error_class: str | None
    error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FailureDecision:
    """What becomes of an operation that failed: its new status and retry count."""

    status: OperationStatus
    retries: int
    permanent: bool

    @property
    def event(self) -> OperationEvent:
        """The event that applies the decision."""
        return OperationEvent.FAIL_PERMANENT if self.permanent else OperationEvent.FAIL_RETRYABLE


def after_failure(
    retries: int,
    max_retries: int = DEFAULT_MAX_RETRIES,
    error_class: ErrorClass | None = None,
    *,
    permanent_classes: frozenset[ErrorClass] = PERMANENT_CLASSES,
) -> FailureDecision:
    """Decide what a failed run of an operation leads to (see the module's rules).

    Parameters
    ----------
    retries : int
        Retries made before the run that failed.
    max_retries : int
        Retries allowed.
    error_class : ErrorClass or None
        Why it failed (None: an error without a class, retried).
    permanent_classes : frozenset of ErrorClass
        Classes never retried.
    """
    retryable = error_class is None or error_class not in permanent_classes
    if retryable and retries < max_retries:
        return FailureDecision(OperationStatus.PENDING, retries + 1, permanent=False)
    return FailureDecision(OperationStatus.FAILED, retries, permanent=True)
