"""Reading: selections in SQL, ordering and paging, counts, progress totals, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection
from skyhaul.errors import UsageError

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def mission(catalog: Catalog, now) -> Catalog:
    """Files with observation intervals, instants, downlink times, sources and slots."""
    files = [
        # name, instrument, obs_start, obs_end, downlink (minutes after T0)
        ("a", "EUV", 0, 10, 100),
        ("b", "EUV", 10, 20, 110),
        ("c", "EUV", 20, None, 120),  # an instant
        ("d", "XRS", 5, 25, 130),
        ("e", "XRS", None, None, None),
    ]
    catalog.register(
        [
            FileSpec(
                url=f"https://arch.example/{inst.lower()}/{name}%_x",
                path=f"{inst}/{name}",
                size=ord(name),
                source="goes" if inst == "XRS" else "sdo",
                instrument=inst,
                obs_start=None if start is None else _t(start),
                obs_end=None if end is None else _t(end),
                downlink_time=None if downlink is None else _t(downlink),
                slot=f"pass-{downlink}" if downlink else None,
            )
            for name, inst, start, end, downlink in files
        ],
        "/d",
        now=now,
    )
    return catalog


def _names(catalog: Catalog, selection: Selection) -> list[str]:
    names = [r.path.rsplit("/", 1)[1] for r in catalog.list_files(selection)]
    assert catalog.count_files(selection) == len(names)
    return names


def test_observation_window_overlap(mission: Catalog) -> None:
    assert _names(mission, Selection(obs_start=_t(10), obs_end=_t(20))) == ["b", "d"]
    # Half-open: a file ending exactly at the window start is out; an instant at it is in.
    assert _names(mission, Selection(obs_start=_t(20), obs_end=_t(21))) == ["c", "d"]
    assert _names(mission, Selection(obs_start=_t(9), obs_end=_t(10))) == ["a", "d"]
    assert _names(mission, Selection(obs_start=_t(19), obs_end=_t(20))) == ["b", "d"]
    assert _names(mission, Selection(obs_end=_t(5))) == ["a"]
    assert _names(mission, Selection(obs_start=_t(21))) == ["d"]
    assert _names(mission, Selection(instrument="EUV", obs_start=_t(0), obs_end=_t(60))) == [
        "a",
        "b",
        "c",
    ]


def test_downlink_window_is_half_open(mission: Catalog) -> None:
    window = Selection(downlink_start=_t(110), downlink_end=_t(130))
    assert _names(mission, window) == ["b", "c"]


def test_other_fields(mission: Catalog) -> None:
    assert _names(mission, Selection(source="goes")) == ["d", "e"]
    assert _names(mission, Selection(instrument="XRS")) == ["d", "e"]
    # The prefix is literal: % and _ are not wildcards.
    assert _names(mission, Selection(url_prefix="https://arch.example/euv/")) == ["a", "b", "c"]
    assert _names(mission, Selection(url_prefix="https://arch.example/euv/a%_")) == ["a"]
    assert _names(mission, Selection(url_prefix="https://arch.example/euv/a__")) == []
    ids = tuple(r.id for r in mission.list_files())
    assert _names(mission, Selection(ids=ids[1:3])) == ["b", "c"]
    assert _names(mission, Selection(states=frozenset({FileState.FAILED}))) == []
    assert _names(mission, Selection(states=frozenset())) == []


def test_order_limit_offset(mission: Catalog) -> None:
    by_size = [r.size for r in mission.list_files(order="-size")]
    assert by_size == sorted(by_size, reverse=True)
    page = mission.list_files(order="path", limit=2, offset=1)
    assert [r.path for r in page] == ["EUV/b", "EUV/c"]
    with pytest.raises(UsageError, match="cannot order files by 'checksum'"):
        mission.list_files(order="checksum")


def test_counts_and_expected_totals(mission: Catalog, now) -> None:
    assert mission.count_files() == 5
    assert mission.count_files(Selection(states=frozenset({FileState.DISCOVERED}))) == 5
    assert mission.expected_totals() == (5, sum(map(ord, "abcde")))
    euv = Selection(instrument="EUV")
    assert mission.expected_totals(selection=euv) == (3, sum(map(ord, "abc")))
    [claimed] = mission.claim_batch("w", 1, now=now, lease_seconds=30, selection=euv)
    mission.complete(claimed.id, "w", now=now, size=1, sha256="s", validator=None)
    assert mission.expected_totals(selection=euv) == (2, sum(map(ord, "bc")))
    assert mission.expected_totals() == (4, sum(map(ord, "bcde")))
    downloaded = Selection(states=frozenset({FileState.DOWNLOADED}))
    assert mission.expected_totals(selection=downloaded) == (0, 0)
    assert mission.get(claimed.id) is not None
    assert mission.get(987_654) is None


def test_next_attempt_due_follows_the_selection(mission: Catalog, now) -> None:
    batch = mission.claim_batch("w", 5, now=now, lease_seconds=30)
    for offset, record in enumerate(batch):
        mission.fail(
            record.id,
            "w",
            now=now,
            error_class="server",
            message="500",
            next_attempt_at=now + timedelta(minutes=10 - offset),
            permanent=False,
        )
    assert mission.next_attempt_due() == now + timedelta(minutes=6)
    euv = Selection(instrument="EUV")
    assert mission.next_attempt_due(selection=euv) == now + timedelta(minutes=8)
    discovered_only = Selection(states=frozenset({FileState.DISCOVERED}))
    assert mission.next_attempt_due(selection=discovered_only) is None


def test_datetimes_round_trip_as_utc(catalog: Catalog) -> None:
    tokyo = timezone(timedelta(hours=9))
    start = datetime(2024, 6, 1, 9, 30, 15, 123456, tzinfo=tokyo)
    catalog.register(
        [FileSpec(url="https://x.example/1", path="1", obs_start=start)],
        "/d",
        now=datetime(2024, 6, 1, 0, 0, tzinfo=tokyo),
    )
    [record] = catalog.list_files()
    assert record.obs_start == start
    assert record.obs_start is not None and record.obs_start.tzinfo is UTC
    assert record.obs_start.hour == 0 and record.obs_start.microsecond == 123456
    assert record.created_at == datetime(2024, 5, 31, 15, 0, tzinfo=UTC)
    assert record.created_at is not None and record.created_at.tzinfo is UTC


def test_naive_datetimes_are_refused(catalog: Catalog, specs) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        catalog.register(specs(1), "/d", now=datetime(2024, 1, 1))
    assert catalog.count_files() == 0


def test_an_empty_selection_counts_every_file(catalog: Catalog) -> None:
    catalog.register(
        [FileSpec(url=f"https://a.example/{i}", path=f"{i}.fits") for i in range(3)],
        "/data",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert catalog.count_files(Selection()) == catalog.count_files(None) == 3
