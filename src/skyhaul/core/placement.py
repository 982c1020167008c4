"""Physical copies: where the bytes of a raw file or a package are, and their deletion.

Rules:
- A physical copy is one file or one package (a tar) at one location and path; a
  location holds at most one copy at a path.
- Its status changes only through ``COPY_STATUSES``; deletion goes through steps so that
  a worker killed half way leaves a status that says what to do next::

      PRESENT | STAGED --mark_deletable--> DELETION_POSSIBLE
      PRESENT | STAGED | DELETION_POSSIBLE | DELETION_FAILED
          --schedule_deletion--> DELETION_SCHEDULED
      DELETION_SCHEDULED --start_deletion--> DELETION_IN_PROGRESS
      DELETION_IN_PROGRESS --deleted--> DELETED
      DELETION_IN_PROGRESS --deletion_failed--> DELETION_FAILED
      DELETION_IN_PROGRESS --lease_expired--> DELETION_SCHEDULED
      DELETION_POSSIBLE | DELETION_SCHEDULED | DELETION_FAILED --keep--> PRESENT
      PRESENT | STAGED --lost (found missing or damaged)--> DELETED
      DELETED --restored (written again)--> PRESENT
      DELETED --restaged (staged again)--> STAGED

- Whether a copy may be deleted at all is :func:`skyhaul.core.deletion.may_delete`'s
  call, made again right before the bytes go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from skyhaul.core.statetable import StateTable


class CopyStatus(StrEnum):
    """Where a physical copy stands."""

    PRESENT = "PRESENT"
    STAGED = "STAGED"
    DELETION_SCHEDULED = "DELETION_SCHEDULED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"
    DELETION_POSSIBLE = "DELETION_POSSIBLE"
    DELETED = "DELETED"
    DELETION_FAILED = "DELETION_FAILED"


class CopyEvent(StrEnum):
    """What can happen to a physical copy."""

    MARK_DELETABLE = "mark_deletable"
    SCHEDULE_DELETION = "schedule_deletion"
    START_DELETION = "start_deletion"
    DELETED = "deleted"
    DELETION_FAILED = "deletion_failed"
    LEASE_EXPIRED = "lease_expired"
    KEEP = "keep"
    LOST = "lost"
    RESTORED = "restored"
    RESTAGED = "restaged"


_S = CopyStatus
_E = CopyEvent
_TABLE: dict[tuple[CopyStatus, CopyEvent], CopyStatus] = {
    (_S.PRESENT, _E.MARK_DELETABLE): _S.DELETION_POSSIBLE,
    (_S.STAGED, _E.MARK_DELETABLE): _S.DELETION_POSSIBLE,
    (_S.DELETION_SCHEDULED, _E.START_DELETION): _S.DELETION_IN_PROGRESS,
    (_S.DELETION_IN_PROGRESS, _E.DELETED): _S.DELETED,
    (_S.DELETION_IN_PROGRESS, _E.DELETION_FAILED): _S.DELETION_FAILED,
    (_S.DELETION_IN_PROGRESS, _E.LEASE_EXPIRED): _S.DELETION_SCHEDULED,
    (_S.PRESENT, _E.LOST): _S.DELETED,
    (_S.STAGED, _E.LOST): _S.DELETED,
    (_S.DELETED, _E.RESTORED): _S.PRESENT,
    (_S.DELETED, _E.RESTAGED): _S.STAGED,
}
for _source in (_S.PRESENT, _S.STAGED, _S.DELETION_POSSIBLE, _S.DELETION_FAILED):
    _TABLE[(_source, _E.SCHEDULE_DELETION)] = _S.DELETION_SCHEDULED
for _source in (_S.DELETION_POSSIBLE, _S.DELETION_SCHEDULED, _S.DELETION_FAILED):
    _TABLE[(_source, _E.KEEP)] = _S.PRESENT
COPY_STATUSES: StateTable[CopyStatus, CopyEvent] = StateTable("copy", _TABLE)
del _S, _E, _TABLE, _source

#: The statuses a copy is recorded in (written, or staged), and the event by which a
#: copy recorded DELETED comes back in each.
RECORDED_STATUSES = {CopyStatus.PRESENT: CopyEvent.RESTORED, CopyStatus.STAGED: CopyEvent.RESTAGED}
#: Statuses of a copy whose bytes are there to be read.
READABLE_STATUSES = frozenset(
    {
        CopyStatus.PRESENT,
        CopyStatus.STAGED,
        CopyStatus.DELETION_POSSIBLE,
        CopyStatus.DELETION_SCHEDULED,
        CopyStatus.DELETION_FAILED,
    }
)


def next_copy_status(status: CopyStatus, event: CopyEvent) -> CopyStatus:
    """Return the status ``event`` moves a copy in ``status`` to.

    Raises
    ------
    IllegalTransitionError
        When the table has no such transition.
    """
    return COPY_STATUSES.next(status, event)


@dataclass(frozen=True, slots=True)
class PhysicalCopy:
    """A copy of one raw file or one package at a location (``location``: its id).

    ``verified_at`` is when its bytes were last hashed and found to be ``sha256``
    (None: never verified).
    """

    id: int
    location: int
    file_id: int | None
    package_id: int | None
    path: str
    status: CopyStatus
    verified_at: datetime | None
    sha256: str | None

    def __post_init__(self) -> None:
        if (self.file_id is None) == (self.package_id is None):
            raise ValueError("a physical copy is of one file or of one package")

    @property
    def verified(self) -> bool:
        """True when it is PRESENT and its bytes were verified: a copy that counts as
        safe. One on its way out (any deletion status) or staged for use never does."""
        return self.verified_at is not None and self.status is CopyStatus.PRESENT
