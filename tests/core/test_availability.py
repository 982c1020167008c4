"""Daily availability rows from ledger rows and file counts, and their summary."""

from __future__ import annotations

import pkgutil
from datetime import UTC, date, datetime

import pytest

import skyhaul.core
from skyhaul.core.availability import (
    FILES,
    NO_FILES,
    NOT_RUN,
    STATUS_ORDER,
    AvailabilityDay,
    from_day_runs,
    from_file_counts,
    summarize,
)
from skyhaul.core.backfill import DayRun, DayStatus

T0 = datetime(2024, 3, 1, tzinfo=UTC)
D1, D2, D3, D4, D5 = (date(2024, 3, n) for n in range(1, 6))


def run(
    day: date,
    status: DayStatus,
    *,
    records: int | None = None,
    expected: int | None = 1440,
) -> DayRun:
    return DayRun(
        run_id="r1",
        source="reach",
        day=day,
        status=status,
        window_start=T0,
        window_end=T0,
        started_at=T0,
        records=records,
        expected_records=expected,
    )


def row(
    day: date,
    status: str,
    count: int | None,
    expected: int | None,
    percent: float | None,
) -> AvailabilityDay:
    return AvailabilityDay(day, status, count, expected, percent)


# --- from_day_runs ---------------------------------------------------------------------


def test_every_ledger_status_and_a_missing_day_become_one_row_each_in_day_order() -> None:
    latest = {
        D1: run(D1, DayStatus.DOWNLOADED, records=1296),
        D2: run(D2, DayStatus.SKIPPED_NO_DATA),
        D3: run(D3, DayStatus.FAILED),
        D4: run(D4, DayStatus.PENDING),
    }
    assert from_day_runs([D1, D2, D3, D4, D5], latest) == [
        row(D1, "DOWNLOADED", 1296, 1440, 90.0),
        row(D2, "SKIPPED_NO_DATA", 0, 1440, 0.0),
        row(D3, "FAILED", None, 1440, None),
        row(D4, "PENDING", None, 1440, None),
        row(D5, NOT_RUN, None, None, None),
    ]


def test_status_is_the_plain_string_value() -> None:
    (only,) = from_day_runs([D1], {D1: run(D1, DayStatus.DOWNLOADED, records=1)})
    assert type(only.status) is str
    assert only.status == "DOWNLOADED"


def test_a_downloaded_day_can_hold_more_than_expected() -> None:
    (only,) = from_day_runs([D1], {D1: run(D1, DayStatus.DOWNLOADED, records=1500)})
    assert only.percent == pytest.approx(104.1666, abs=1e-3)


@pytest.mark.parametrize("expected", [None, 0])
def test_without_an_expected_count_there_is_no_percent(expected: int | None) -> None:
    latest = {
        D1: run(D1, DayStatus.DOWNLOADED, records=10, expected=expected),
        D2: run(D2, DayStatus.SKIPPED_NO_DATA, expected=expected),
    }
    assert from_day_runs([D1, D2], latest) == [
        row(D1, "DOWNLOADED", 10, expected, None),
        row(D2, "SKIPPED_NO_DATA", 0, expected, None),
    ]


def test_days_outside_the_requested_range_are_ignored() -> None:
    latest = {D2: run(D2, DayStatus.DOWNLOADED, records=1440)}
    assert from_day_runs([D1], latest) == [row(D1, NOT_RUN, None, None, None)]
    assert from_day_runs([], latest) == []


# --- from_file_counts ------------------------------------------------------------------


def test_file_counts_become_files_rows_and_days_without_files_no_files_rows() -> None:
    counts = {D1: (10, 10), D2: (4, 1), D3: (3, 0), D4: (0, 0)}
    assert from_file_counts([D1, D2, D3, D4, D5], counts) == [
        row(D1, FILES, 10, 10, 100.0),
        row(D2, FILES, 1, 4, 25.0),
        row(D3, FILES, 0, 3, 0.0),
        row(D4, NO_FILES, None, None, None),
        row(D5, NO_FILES, None, None, None),
    ]


def test_only_file_rows_say_they_come_from_a_file_source() -> None:
    (files,) = from_file_counts([D1], {D1: (1, 1)})
    (none,) = from_file_counts([D1], {})
    (records,) = from_day_runs([D1], {})
    assert files.is_file_day and none.is_file_day
    assert not records.is_file_day


# --- summarize -------------------------------------------------------------------------


def test_summary_of_a_mixed_range() -> None:
    rows = [
        row(D1, "DOWNLOADED", 1440, 1440, 100.0),
        row(D2, "DOWNLOADED", 720, 1440, 50.0),
        row(D3, "SKIPPED_NO_DATA", 0, 1440, 0.0),
        row(D4, "FAILED", None, 1440, None),
        row(D5, NOT_RUN, None, None, None),
    ]
    summary = summarize(rows)
    assert summary.days == 5
    assert summary.days_with_data == 2
    assert summary.total_count == 2160
    assert summary.total_expected == 4 * 1440
    # The FAILED day was expected and has nothing on disk: it counts as 0; NOT_RUN does not.
    assert summary.overall_percent == pytest.approx(100.0 * 2160 / (4 * 1440))
    assert summary.mean_percent == pytest.approx(50.0)
    assert summary.min_percent == 0.0
    assert summary.threshold == 90.0
    assert summary.below_threshold == (D2, D3)
    assert summary.status_counts == {
        "DOWNLOADED": 2,
        "SKIPPED_NO_DATA": 1,
        "FAILED": 1,
        NOT_RUN: 1,
    }


def test_summary_of_no_rows_has_no_percents() -> None:
    summary = summarize([])
    assert (summary.days, summary.days_with_data) == (0, 0)
    assert (summary.total_count, summary.total_expected) == (0, 0)
    assert summary.overall_percent is None
    assert summary.mean_percent is None
    assert summary.min_percent is None
    assert summary.below_threshold == ()
    assert summary.status_counts == {}


def test_summary_of_days_never_run_has_no_percents() -> None:
    summary = summarize(from_day_runs([D1, D2], {}))
    assert summary.days == 2
    assert summary.days_with_data == 0
    assert summary.overall_percent is None
    assert summary.mean_percent is None
    assert summary.below_threshold == ()
    assert summary.status_counts == {NOT_RUN: 2}


def test_counts_without_an_expected_count_add_to_the_total_but_not_to_the_percent() -> None:
    rows = [
        row(D1, "DOWNLOADED", 500, None, None),
        row(D2, "DOWNLOADED", 90, 100, 90.0),
    ]
    summary = summarize(rows)
    assert summary.total_count == 590
    assert summary.total_expected == 100
    assert summary.overall_percent == pytest.approx(90.0)
    assert summary.mean_percent == pytest.approx(90.0)


def test_an_expected_count_of_zero_gives_no_overall_percent() -> None:
    summary = summarize([row(D1, "DOWNLOADED", 0, 0, None)])
    assert summary.total_expected == 0
    assert summary.overall_percent is None
    assert summary.days_with_data == 0


def test_the_threshold_is_strict_and_adjustable() -> None:
    rows = [row(D1, FILES, 9, 10, 90.0), row(D2, FILES, 99, 100, 99.0)]
    assert summarize(rows).below_threshold == ()
    assert summarize(rows, threshold=99.5).below_threshold == (D1, D2)
    assert summarize(rows, threshold=99.0).below_threshold == (D1,)


def test_status_counts_follow_the_status_order_whatever_the_day_order() -> None:
    rows = [
        row(D1, NOT_RUN, None, None, None),
        row(D2, "FAILED", None, None, None),
        row(D3, "SOMETHING_NEW", None, None, None),
        row(D4, "DOWNLOADED", 1, 1, 100.0),
    ]
    assert list(summarize(rows).status_counts) == [
        "DOWNLOADED",
        "FAILED",
        NOT_RUN,
        "SOMETHING_NEW",
    ]


def test_the_status_order_names_every_day_status_and_the_extra_statuses() -> None:
    assert set(STATUS_ORDER) == {s.value for s in DayStatus} | {NOT_RUN, FILES, NO_FILES}
    assert len(STATUS_ORDER) == len(set(STATUS_ORDER))


def test_the_module_is_covered_by_the_core_purity_test() -> None:
    # tests/core/test_purity.py imports every module of skyhaul.core in a fresh
    # interpreter and fails on any third-party import: this module must be one of them.
    assert "availability" in {info.name for info in pkgutil.iter_modules(skyhaul.core.__path__)}
