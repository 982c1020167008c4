"""When a watch counts as failing: its last cycles, as ``services.watch`` judges them."""

from __future__ import annotations

from datetime import UTC, datetime

from skyhaul.core.model import RunSummary
from skyhaul.core.window import TimeWindow
from skyhaul.services.watch import WATCH_FAILING_CYCLES, CycleReport, failing_cycles

WINDOW = TimeWindow(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))


def _cycle(number: int, outcome: str) -> CycleReport:
    """A cycle that was ``ok``, whose ``listing`` failed, whose ``file`` failed, or that
    was ``interrupted``."""
    summary = RunSummary(
        abandoned=1 if outcome == "file" else 0, interrupted=outcome == "interrupted"
    )
    error = "HTTP 500" if outcome == "listing" else None
    return CycleReport(number, WINDOW, None, summary, listing_error=error)


def _watch(*outcomes: str) -> list[CycleReport]:
    return [_cycle(n, outcome) for n, outcome in enumerate(outcomes, 1)]


def test_the_last_cycles_all_failed_make_a_failing_watch() -> None:
    assert WATCH_FAILING_CYCLES == 3  # the README says so
    reports = _watch("ok", "listing", "file", "listing")
    assert [r.number for r in failing_cycles(reports)] == [2, 3, 4]


def test_a_watch_that_recovered_is_not_failing() -> None:
    assert failing_cycles(_watch("listing", "listing", "listing", "ok")) == []
    assert failing_cycles(_watch("listing", "ok", "listing", "listing")) == []


def test_fewer_cycles_than_the_limit_fail_when_every_one_failed() -> None:
    assert [r.number for r in failing_cycles(_watch("listing", "listing"))] == [1, 2]
    assert failing_cycles(_watch("ok", "listing")) == []
    assert failing_cycles([]) == []


def test_a_cycle_interrupted_by_the_stop_is_left_out() -> None:
    reports = _watch("listing", "listing", "listing", "interrupted")
    assert [r.number for r in failing_cycles(reports)] == [1, 2, 3]
    assert failing_cycles(_watch("interrupted")) == []
