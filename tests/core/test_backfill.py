"""The backfill decision table (exhaustively), the plan with limit-days, days and chunks."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from skyhaul.core.backfill import (
    Action,
    ArtifactCheck,
    DayRun,
    DayStatus,
    availability_pct,
    chunk_windows,
    day_window,
    decide,
    iter_days,
    plan_days,
)

D1 = date(2024, 1, 1)


def row(day: date, status: DayStatus, path: str | None = None) -> DayRun:
    start, end = day_window(day)
    return DayRun(
        run_id="r",
        source="reach",
        day=day,
        status=status,
        window_start=start,
        window_end=end,
        started_at=start,
        path=path,
    )


def expected_action(
    status: DayStatus | None, artifact: ArtifactCheck | None, retry_failed: bool
) -> Action:
    """The table of the issue, written out independently of the implementation."""
    table: dict[DayStatus | None, Action] = {
        None: Action.RUN,
        DayStatus.SKIPPED_NO_DATA: Action.SKIP_NO_DATA,
        DayStatus.PENDING: Action.RUN,
        DayStatus.FAILED: Action.RUN if retry_failed else Action.SKIP_FAILED,
    }
    if status is DayStatus.DOWNLOADED:
        return Action.SKIP_EXISTING if artifact is ArtifactCheck.INTACT else Action.RUN
    return table[status]


@pytest.mark.parametrize(
    ("status", "artifact", "retry_failed"),
    list(itertools.product([None, *DayStatus], [None, *ArtifactCheck], [False, True])),
)
def test_decision_table_is_total_and_matches_the_issue(
    status: DayStatus | None, artifact: ArtifactCheck | None, retry_failed: bool
) -> None:
    prior = None if status is None else row(D1, status)
    assert decide(prior, artifact, retry_failed) is expected_action(status, artifact, retry_failed)


def test_only_run_needs_work() -> None:
    assert [a for a in Action if a.needs_work] == [Action.RUN]


def test_plan_checks_artifacts_of_downloaded_days_only() -> None:
    days = list(iter_days(D1, D1 + timedelta(days=3)))
    latest = {
        days[0]: row(days[0], DayStatus.DOWNLOADED, "/a"),
        days[1]: row(days[1], DayStatus.DOWNLOADED, "/b"),
        days[2]: row(days[2], DayStatus.FAILED),
    }
    checked: list[str | None] = []

    def check(run: DayRun) -> ArtifactCheck:
        checked.append(run.path)
        return ArtifactCheck.INTACT if run.path == "/a" else ArtifactCheck.CHANGED

    plan = plan_days(days, latest, check)
    assert [p.action for p in plan] == [
        Action.SKIP_EXISTING,
        Action.RUN,
        Action.SKIP_FAILED,
        Action.RUN,
    ]
    assert checked == ["/a", "/b"]
    assert plan[2].prior is latest[days[2]]
    assert plan[3].prior is None


def test_limit_days_counts_only_days_that_need_work_from_the_first_such_day() -> None:
    days = list(iter_days(D1, D1 + timedelta(days=6)))
    done = {d: row(d, DayStatus.DOWNLOADED, "/x") for d in days[:2]}
    done[days[3]] = row(days[3], DayStatus.SKIPPED_NO_DATA)
    plan = plan_days(days, done, lambda _: ArtifactCheck.INTACT, limit_days=2)
    # Two skips, then day 2 (work 1), day 3 (skip, not counted), day 4 (work 2); stops.
    assert [(p.day - D1).days for p in plan] == [0, 1, 2, 3, 4]
    assert sum(p.action.needs_work for p in plan) == 2


def test_limit_days_zero_plans_only_the_leading_skips() -> None:
    days = list(iter_days(D1, D1 + timedelta(days=2)))
    latest = {days[0]: row(days[0], DayStatus.DOWNLOADED, "/x")}
    plan = plan_days(days, latest, lambda _: ArtifactCheck.INTACT, limit_days=0)
    assert [p.action for p in plan] == [Action.SKIP_EXISTING]


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit_days"):
        plan_days([D1], {}, lambda _: ArtifactCheck.INTACT, limit_days=-1)


def test_retry_failed_makes_failed_days_count_against_the_limit() -> None:
    days = list(iter_days(D1, D1 + timedelta(days=2)))
    latest = {days[0]: row(days[0], DayStatus.FAILED)}
    plan = plan_days(days, latest, lambda _: ArtifactCheck.INTACT, retry_failed=True, limit_days=1)
    assert [(p.day, p.action) for p in plan] == [(days[0], Action.RUN)]


def test_days_are_inclusive_and_backwards_ranges_raise() -> None:
    assert list(iter_days(D1, D1)) == [D1]
    assert len(list(iter_days(date(2024, 2, 28), date(2024, 3, 1)))) == 3  # leap year
    with pytest.raises(ValueError, match="before start date"):
        list(iter_days(D1, D1 - timedelta(days=1)))


def test_day_window_is_the_utc_day() -> None:
    start, end = day_window(D1)
    assert start == datetime(2024, 1, 1, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_chunks_tile_the_window_in_order() -> None:
    start, end = day_window(D1)
    chunks = chunk_windows(start, end, timedelta(minutes=5))
    assert len(chunks) == 288
    assert chunks[0][0] == start and chunks[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    odd = chunk_windows(start, start + timedelta(minutes=12), timedelta(minutes=5))
    assert [b - a for a, b in odd] == [timedelta(minutes=5)] * 2 + [timedelta(minutes=2)]
    with pytest.raises(ValueError, match="positive"):
        chunk_windows(start, end, timedelta(0))


def test_availability() -> None:
    assert availability_pct(34_560, 34_560) == 100.0
    assert availability_pct(0, 10) == 0.0
    assert availability_pct(5, None) is None
    assert availability_pct(5, 0) is None


def test_the_calendars_last_day_is_refused_not_overflowed() -> None:
    # 9999-12-31's window would end at 10000-01-01, which no datetime holds.
    assert list(iter_days(date(9999, 12, 30), date.max)) == [date(9999, 12, 30), date.max]
    assert day_window(date(9999, 12, 30))[1] == datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"^the day 9999-12-31 ends after 9999-12-31T23:59:59"):
        day_window(date.max)
