"""When a copy at a source or a buffer may be deleted: never before it is safe elsewhere.

Rules (all must hold; the first that does not is the reason given):
- Only copies at a SOURCE or a BUFFER are ever deleted by the pipeline; archives and
  processing locations are not its to clean.
- The copy's package is ARCHIVED.
- An archive copy's checksum was verified (``archive_verified_at``), and at least
  ``retention`` has passed since.
- No staging is reading it (``in_use``).
- It is never the last verified copy: some other copy of the same bytes is PRESENT and
  verified (``verified_elsewhere``).
- A copy already deleted, or being deleted, is not deleted again.

The caller gathers the facts from the catalog and asks again right before deleting, so
that a change in between (an archive copy found damaged) stops the deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from skyhaul.core.packages import PackageState
from skyhaul.core.placement import CopyStatus, PhysicalCopy
from skyhaul.core.sites import LocationType

#: Location types whose copies the pipeline deletes once they are safe in an archive.
DELETABLE_TYPES = frozenset({LocationType.SOURCE, LocationType.BUFFER})
_GONE = frozenset({CopyStatus.DELETED, CopyStatus.DELETION_IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class DeletionVerdict:
    """Whether a copy may be deleted, and why (or why not), in words for users."""

    allowed: bool
    reason: str


def may_delete(
    copy: PhysicalCopy,
    *,
    location_type: LocationType,
    package_state: PackageState | None,
    archive_verified_at: datetime | None,
    retention: timedelta,
    now: datetime,
    in_use: bool,
    verified_elsewhere: int,
) -> DeletionVerdict:
    """Decide whether ``copy`` may be deleted now (see the module's rules).

    Parameters
    ----------
    copy : PhysicalCopy
        The copy to delete.
    location_type : LocationType
        The type of the copy's location.
    package_state : PackageState or None
        The state of the package holding the copy's bytes (None: in no package).
    archive_verified_at : datetime or None
        When an archive copy of those bytes was last verified (None: never).
    retention : timedelta
        How long after that verification the copy is kept.
    now : datetime
        The time of the decision.
    in_use : bool
        Whether staging reads the copy (or the package's files) now.
    verified_elsewhere : int
        Other copies of the same bytes that are PRESENT and verified.

    Raises
    ------
    ValueError
        For a negative retention.
    """
    if retention < timedelta(0):
        raise ValueError(f"retention must not be negative, got {retention}")
    if copy.status in _GONE:
        return _no(f"the copy is already {copy.status.value.lower().replace('_', ' ')}")
    if location_type not in DELETABLE_TYPES:
        return _no(f"copies at a {location_type.value} location are never deleted")
    if package_state is not PackageState.ARCHIVED:
        state = "in no package" if package_state is None else package_state.value
        return _no(f"its package is not archived ({state})")
    if archive_verified_at is None:
        return _no("no archive copy has a verified checksum")
    kept = now - archive_verified_at
    if kept < retention:
        return _no(f"retention not over: archived {kept} ago, kept for {retention}")
    if in_use:
        return _no("staging is using it")
    if verified_elsewhere < 1:
        return _no("it is the last verified copy")
    return DeletionVerdict(True, "archived and verified, retention over")


def _no(reason: str) -> DeletionVerdict:
    return DeletionVerdict(False, reason)
