from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyhaul.core.placement import (
    COPY_STATUSES,
    READABLE_STATUSES,
    CopyEvent,
    CopyStatus,
    PhysicalCopy,
    next_copy_status,
)
from skyhaul.errors import IllegalTransitionError

S = CopyStatus
E = CopyEvent
NOW = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "events", "final"),
    [
        (S.PRESENT, [E.SCHEDULE_DELETION, E.START_DELETION, E.DELETED], S.DELETED),
        (S.PRESENT, [E.MARK_DELETABLE, E.SCHEDULE_DELETION, E.KEEP], S.PRESENT),
        (
            S.PRESENT,
            [E.SCHEDULE_DELETION, E.START_DELETION, E.DELETION_FAILED, E.SCHEDULE_DELETION],
            S.DELETION_SCHEDULED,
        ),
        (S.PRESENT, [E.SCHEDULE_DELETION, E.START_DELETION, E.LEASE_EXPIRED], S.DELETION_SCHEDULED),
        (S.STAGED, [E.SCHEDULE_DELETION, E.START_DELETION, E.DELETED, E.RESTAGED], S.STAGED),
        (S.PRESENT, [E.LOST, E.RESTORED], S.PRESENT),
    ],
)
def test_copies_move_through_the_table(
    start: CopyStatus, events: list[CopyEvent], final: CopyStatus
) -> None:
    status = start
    for event in events:
        status = next_copy_status(status, event)
    assert status is final


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (S.PRESENT, E.START_DELETION),  # never deleted without being scheduled first
        (S.PRESENT, E.DELETED),
        (S.DELETED, E.SCHEDULE_DELETION),
        (S.DELETION_IN_PROGRESS, E.KEEP),  # too late to keep: bytes may be half gone
        (S.DELETED, E.KEEP),
    ],
)
def test_illegal_copy_transitions_raise(status: CopyStatus, event: CopyEvent) -> None:
    with pytest.raises(IllegalTransitionError, match="illegal copy transition"):
        next_copy_status(status, event)


def test_deleted_is_reached_only_from_deletion_in_progress_or_a_loss() -> None:
    into_deleted = {
        pair for pair, target in COPY_STATUSES.transitions.items() if target is S.DELETED
    }
    assert into_deleted == {
        (S.DELETION_IN_PROGRESS, E.DELETED),
        (S.PRESENT, E.LOST),
        (S.STAGED, E.LOST),
    }


def test_a_copy_is_of_one_file_or_one_package() -> None:
    PhysicalCopy(1, 2, 3, None, "a", S.PRESENT, None, None)
    PhysicalCopy(1, 2, None, 3, "a.tar", S.PRESENT, None, None)
    for file_id, package_id in ((None, None), (1, 1)):
        with pytest.raises(ValueError, match="one file or of one package"):
            PhysicalCopy(1, 2, file_id, package_id, "a", S.PRESENT, None, None)


def test_only_a_present_verified_copy_counts_as_verified() -> None:
    def copy(status: CopyStatus, verified_at: datetime | None = NOW) -> PhysicalCopy:
        return PhysicalCopy(1, 2, 3, None, "a", status, verified_at, "0" * 64)

    assert copy(S.PRESENT).verified
    assert not copy(S.PRESENT, None).verified
    assert not any(copy(s).verified for s in CopyStatus if s is not S.PRESENT)
    assert S.DELETED not in READABLE_STATUSES and S.DELETION_IN_PROGRESS not in READABLE_STATUSES
