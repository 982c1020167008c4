from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from skyhaul.core.deletion import may_delete
from skyhaul.core.packages import PackageState
from skyhaul.core.placement import CopyStatus, PhysicalCopy
from skyhaul.core.sites import LocationType

NOW = datetime(2025, 3, 10, tzinfo=UTC)
DAY = timedelta(days=1)


def copy(status: CopyStatus = CopyStatus.PRESENT) -> PhysicalCopy:
    return PhysicalCopy(1, 2, None, 3, "u_m_001.tar", status, NOW - 5 * DAY, "0" * 64)


SAFE: dict[str, Any] = {
    "location_type": LocationType.BUFFER,
    "package_state": PackageState.ARCHIVED,
    "archive_verified_at": NOW - 2 * DAY,
    "retention": DAY,
    "now": NOW,
    "in_use": False,
    "verified_elsewhere": 1,
}


def test_a_buffer_or_source_copy_safe_in_an_archive_may_go() -> None:
    for location_type in (LocationType.BUFFER, LocationType.SOURCE):
        verdict = may_delete(copy(), **{**SAFE, "location_type": location_type})
        assert verdict.allowed, verdict.reason
    assert may_delete(copy(CopyStatus.DELETION_SCHEDULED), **SAFE).allowed


def test_retention_counts_from_the_archive_verification_inclusive() -> None:
    exactly = {**SAFE, "archive_verified_at": NOW - DAY}
    assert may_delete(copy(), **exactly).allowed
    early = {**SAFE, "archive_verified_at": NOW - DAY + timedelta(seconds=1)}
    verdict = may_delete(copy(), **early)
    assert not verdict.allowed and "retention" in verdict.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"location_type": LocationType.LONG_TERM_ARCHIVE}, "long_term_archive location"),
        ({"location_type": LocationType.PROCESSING}, "processing location"),
        ({"package_state": PackageState.TRANSFERRING}, "not archived (TRANSFERRING)"),
        ({"package_state": PackageState.FAILED}, "not archived"),
        ({"package_state": None}, "in no package"),
        ({"archive_verified_at": None}, "no archive copy has a verified checksum"),
        ({"in_use": True}, "staging"),
        ({"verified_elsewhere": 0}, "last verified copy"),
    ],
)
def test_each_rule_alone_keeps_the_copy(change: dict[str, Any], reason: str) -> None:
    verdict = may_delete(copy(), **{**SAFE, **change})
    assert not verdict.allowed
    assert reason in verdict.reason


@pytest.mark.parametrize("status", [CopyStatus.DELETED, CopyStatus.DELETION_IN_PROGRESS])
def test_a_copy_going_or_gone_is_not_deleted_again(status: CopyStatus) -> None:
    verdict = may_delete(copy(status), **SAFE)
    assert not verdict.allowed and "already" in verdict.reason


def test_negative_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="retention"):
        may_delete(copy(), **{**SAFE, "retention": -DAY})
