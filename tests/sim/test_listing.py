from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from skyhaul.sim import ArchiveCache, FileVersion, build_archive, profile
from skyhaul.sim.listing import FilterError, ListingFilter, iso_z


@pytest.fixture
def versions(sim_root: Path) -> list[FileVersion]:
    archive = build_archive(profile("small"))
    return list(ArchiveCache(sim_root, archive).materialise().values())


def test_filter_from_query() -> None:
    selection = ListingFilter.from_query(
        {
            "instrument": "eui, phi",
            "start": "2024-03-01T00:00:00Z",
            "end": "2024-03-02",
            "by": "Downlink",
        }
    )
    assert selection.instruments == frozenset({"EUI", "PHI"})
    assert selection.start == datetime(2024, 3, 1, tzinfo=UTC)
    assert selection.end == datetime(2024, 3, 2, tzinfo=UTC)
    assert selection.by == "downlink"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"by": "upload"}, "by must be"),
        ({"start": "yesterday"}, "start: not an ISO 8601 time"),
        ({"start": "2024-03-02", "end": "2024-03-01"}, "before start"),
    ],
)
def test_bad_filters(query: dict[str, str], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        ListingFilter.from_query(query)


def test_observation_window_selects_overlaps(versions: list[FileVersion]) -> None:
    target = versions[0].file
    last_second = target.obs_end - timedelta(seconds=1)
    selection = ListingFilter(start=last_second, end=target.obs_end + timedelta(seconds=1))
    assert selection.accepts(versions[0])
    after = ListingFilter(start=target.obs_end)  # half-open: ending at the start is outside
    assert not after.accepts(versions[0])
    before = ListingFilter(end=target.obs_start)
    assert not before.accepts(versions[0])


def test_downlink_window(versions: list[FileVersion]) -> None:
    target = versions[0].file
    selection = ListingFilter(start=target.downlink_time, by="downlink")
    assert selection.accepts(versions[0])
    assert not ListingFilter(end=target.downlink_time, by="downlink").accepts(versions[0])


def test_iso_z() -> None:
    assert iso_z(datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC)) == "2024-03-01T01:02:03Z"
