"""The longest-observation fact: it bounds observation windows from below for the index,
so it must always cover every registered observation, or files would go missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.facts import LONGEST_OBSERVATION
from skyhaul.adapters.catalog.schema import catalog_facts
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileSpec, Selection

NOW = datetime(2026, 1, 1, tzinfo=UTC)
START = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _longest(catalog: Catalog) -> int:
    return int(
        catalog._db.read(
            lambda c: c.scalar(
                select(catalog_facts.c.value).where(catalog_facts.c.name == LONGEST_OBSERVATION)
            )
        )
    )


def test_a_long_observation_is_found_by_a_window_near_its_end(
    catalog: Catalog, tmp_path: object
) -> None:
    short = FileSpec(
        url="http://x/short", path="short", obs_start=START, obs_end=START + timedelta(minutes=1)
    )
    catalog.register([short], "/data", now=NOW)
    assert _longest(catalog) == 60
    month = FileSpec(
        url="http://x/month", path="month", obs_start=START, obs_end=START + timedelta(days=30)
    )
    catalog.register([month], "/data", now=NOW)
    assert _longest(catalog) == 30 * 86400
    window = Selection(
        obs_start=START + timedelta(days=29), obs_end=START + timedelta(days=29, hours=1)
    )
    assert [r.path for r in catalog.list_files(window)] == ["month"]
    assert catalog.count_files(window) == 1
    assert catalog.expected_totals(selection=window) == (1, None)
    claimed = catalog.claim_batch("w", 10, now=NOW, lease_seconds=60, selection=window)
    assert [r.path for r in claimed] == ["month"]
    assert claimed[0].state is FileState.DOWNLOADING


def test_the_fact_only_grows(catalog: Catalog) -> None:
    long = FileSpec(url="http://x/a", path="a", obs_start=START, obs_end=START + timedelta(hours=2))
    catalog.register([long], "/data", now=NOW)
    short = FileSpec(
        url="http://x/b", path="b", obs_start=START, obs_end=START + timedelta(seconds=5)
    )
    catalog.register([short], "/data", now=NOW)
    assert _longest(catalog) == 7200


FIRST = datetime.min.replace(tzinfo=UTC)
LAST = datetime.max.replace(tzinfo=UTC)


def test_windows_at_the_calendar_edges_are_answered(catalog: Catalog) -> None:
    # The bound a window implies (its start less the longest observation) would fall
    # before the calendar's first instant: it is held there, not an OverflowError.
    early = FileSpec(url="http://x/early", path="early", obs_start=FIRST, obs_end=FIRST + DAY)
    late = FileSpec(url="http://x/late", path="late", obs_start=LAST - DAY, obs_end=LAST)
    catalog.register([early, late], "/data", now=NOW)
    for window, found in [
        (Selection(obs_start=FIRST, obs_end=NOW), ["early"]),
        (Selection(obs_start=FIRST + timedelta(hours=1), obs_end=FIRST + DAY), ["early"]),
        (Selection(obs_start=LAST - timedelta(hours=1), obs_end=LAST), ["late"]),
        (Selection(obs_start=FIRST, obs_end=LAST), ["early", "late"]),
        (Selection(obs_start=FIRST), ["early", "late"]),
    ]:
        assert [r.path for r in catalog.list_files(window)] == found, window
        assert catalog.count_files(window) == len(found)
