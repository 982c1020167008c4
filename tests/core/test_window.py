"""TimeWindow: half-open UTC intervals, whole-day ends, the days a window touches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from skyhaul.core.window import (
    FIRST_INSTANT,
    LAST_INSTANT,
    BoundError,
    TimeWindow,
    day_span,
    parse_bounds,
    parse_day_range,
    shifted,
)
from skyhaul.errors import UsageError


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


# --- parse -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # A date alone as the end means the whole day, inclusive.
        ("2024-03-01", "2024-03-02", TimeWindow(t(1), t(3))),
        ("2024-03-01", "2024-03-01", TimeWindow(t(1), t(2))),
        ("2024-061", "2024-062", TimeWindow(t(1), t(3))),
        ("2024-03-01T12:00", "2024-03-02", TimeWindow(t(1, 12), t(3))),
        # A date-time end is exclusive, as given.
        ("2024-03-01", "2024-03-02T00:00:00Z", TimeWindow(t(1), t(2))),
        ("2024-03-01", "2024-03-02 06:30", TimeWindow(t(1), t(2, 6, 30))),
        ("2024-03-01", "2024-03-01T24:00", TimeWindow(t(1), t(2))),
        # Offsets are converted to UTC; a time without one is UTC, never local time.
        ("2024-03-01T13:00+01:00", "2024-03-01T14:00:00", TimeWindow(t(1, 12), t(1, 14))),
        # A date alone as the start is midnight.
        ("2024-03-01", "2024-03-01T00:00Z", TimeWindow(t(1), t(1))),
    ],
)
def test_parse_reads_user_times(start: str, end: str, expected: TimeWindow) -> None:
    window = TimeWindow.parse(start, end)
    assert window == expected
    assert window.start.tzinfo is UTC and window.end.tzinfo is UTC


def test_parse_takes_naive_times_as_utc() -> None:
    window = TimeWindow.parse("2024-03-01T10:00:00", "2024-03-01T11:00:00")
    assert window.start == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert window.end - window.start == timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-03-01T12:00Z", "2024-03-01T11:59Z"),
        ("2024-03-05", "2024-03-01T00:00"),
        ("2024-03-01T13:00Z", "2024-03-01T13:30+01:00"),
    ],
)
def test_end_before_start_is_a_one_line_value_error(start: str, end: str) -> None:
    with pytest.raises(ValueError, match="is before start") as caught:
        TimeWindow.parse(start, end)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-03-02", "2024-03-01"), ("2024-03-02T06:00", "2024-03-01"), ("2024-062", "2024-060")],
)
def test_end_day_before_start_day_is_an_error(start: str, end: str) -> None:
    # Shifted to the end of its day, "2024-03-01" would be 03-02T00:00: an empty window,
    # not the error the user's backwards order deserves.
    with pytest.raises(ValueError, match="is before start") as caught:
        TimeWindow.parse(start, end)
    assert "\n" not in str(caught.value)


def test_date_only_end_on_the_start_day_includes_the_rest_of_that_day() -> None:
    assert TimeWindow.parse("2024-03-01T12:00", "2024-03-01") == TimeWindow(t(1, 12), t(2))


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "", "2024-03-01T25:00"])
def test_unreadable_time_is_a_one_line_value_error(text: str) -> None:
    for start, end in ((text, "2024-03-01"), ("2024-03-01", text)):
        with pytest.raises(ValueError) as caught:
            TimeWindow.parse(start, end)
        assert "\n" not in str(caught.value)
        assert repr(text) in str(caught.value)


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow(datetime(2024, 3, 1), t(2))
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeWindow(t(1), datetime(2024, 3, 2))


def test_equal_bounds_make_an_empty_window() -> None:
    window = TimeWindow(t(1, 6), t(1, 6))
    assert list(window.days()) == []
    assert not window.contains(t(1, 6))


def test_str_shows_the_half_open_interval_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = TimeWindow(datetime(2024, 3, 1, 2, tzinfo=plus_two), t(2))
    assert str(window) == "[2024-03-01T00:00:00Z, 2024-03-02T00:00:00Z)"


# --- days --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "days"),
    [
        (TimeWindow(t(1), t(2)), [date(2024, 3, 1)]),
        (TimeWindow(t(1, 23), t(2, 0, 1)), [date(2024, 3, 1), date(2024, 3, 2)]),
        (TimeWindow(t(1, 6), t(3, 6)), [date(2024, 3, d) for d in (1, 2, 3)]),
        (TimeWindow(t(1, 6), t(1, 7)), [date(2024, 3, 1)]),
        (TimeWindow(t(2), t(2)), []),
        (
            TimeWindow(datetime(2023, 12, 31, 12, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC)),
            [date(2023, 12, 31), date(2024, 1, 1)],
        ),
        (
            TimeWindow.parse("2024-02-28", "2024-03-01"),
            [date(2024, 2, d) for d in (28, 29)] + [date(2024, 3, 1)],
        ),
    ],
)
def test_days_names_each_utc_date_touched(window: TimeWindow, days: list[date]) -> None:
    assert list(window.days()) == days


def test_days_are_utc_dates_whatever_the_offset_of_the_bounds() -> None:
    minus_five = timezone(timedelta(hours=-5))
    # 2024-03-01 20:00-05:00 is 2024-03-02 01:00 UTC.
    window = TimeWindow(
        datetime(2024, 3, 1, 20, tzinfo=minus_five), datetime(2024, 3, 1, 22, tzinfo=minus_five)
    )
    assert list(window.days()) == [date(2024, 3, 2)]


def test_day_is_one_whole_utc_day() -> None:
    window = TimeWindow.day(date(2024, 2, 29))
    assert window == TimeWindow(datetime(2024, 2, 29, tzinfo=UTC), t(1))
    assert list(window.days()) == [date(2024, 2, 29)]


# --- contains and overlaps ---------------------------------------------------------------

WINDOW = TimeWindow(t(1, 10), t(1, 12))


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (t(1, 10), True),
        (t(1, 11), True),
        (t(1, 12) - timedelta(microseconds=1), True),
        (t(1, 12), False),
        (t(1, 10) - timedelta(microseconds=1), False),
        (datetime(2024, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=1))), True),  # 10:30Z
    ],
)
def test_contains_is_half_open(moment: datetime, inside: bool) -> None:
    assert WINDOW.contains(moment) is inside


@pytest.mark.parametrize(
    ("start", "end", "overlaps"),
    [
        pytest.param(t(1, 9), t(1, 11), True, id="across the start"),
        pytest.param(t(1, 11), t(1, 13), True, id="across the end"),
        pytest.param(t(1, 10, 30), t(1, 11), True, id="inside"),
        pytest.param(t(1, 9), t(1, 13), True, id="containing the window"),
        pytest.param(t(1, 10), t(1, 12), True, id="the window itself"),
        pytest.param(t(1, 10), t(1, 10, 1), True, id="starting at the start"),
        pytest.param(t(1, 11, 59), t(1, 12), True, id="ending at the end"),
        pytest.param(t(1, 9), t(1, 10), False, id="ending at the start"),
        pytest.param(t(1, 12), t(1, 13), False, id="starting at the end"),
        pytest.param(t(1, 7), t(1, 8), False, id="before"),
        pytest.param(t(1, 13), t(1, 14), False, id="after"),
        pytest.param(t(1, 10), None, True, id="instant at the start"),
        pytest.param(t(1, 11), None, True, id="instant inside"),
        pytest.param(t(1, 12), None, False, id="instant at the end"),
        pytest.param(t(1, 9), None, False, id="instant before"),
        pytest.param(t(1, 10), t(1, 10), True, id="zero length at the start: an instant"),
        pytest.param(t(1, 12), t(1, 12), False, id="zero length at the end: an instant"),
        pytest.param(t(1, 11), t(1, 9), True, id="end before start: an instant at start"),
        pytest.param(t(1, 13), t(1, 11), False, id="end before start, start outside"),
    ],
)
def test_overlaps_at_the_edges(start: datetime, end: datetime | None, overlaps: bool) -> None:
    assert WINDOW.overlaps(start, end) is overlaps


def test_overlaps_compares_instants_not_wall_clocks() -> None:
    plus_three = timezone(timedelta(hours=3))
    # 12:30+03:00 to 13:30+03:00 is 09:30Z to 10:30Z: across the window's start.
    start = datetime(2024, 3, 1, 12, 30, tzinfo=plus_three)
    assert WINDOW.overlaps(start, start + timedelta(hours=1))
    assert not WINDOW.overlaps(start, start + timedelta(minutes=30))


def test_an_empty_window_overlaps_nothing() -> None:
    empty = TimeWindow(t(1, 10), t(1, 10))
    assert not empty.overlaps(t(1, 9), t(1, 11))


# --- the calendar's edges ----------------------------------------------------------------
# A window is half-open, so the last day of the calendar (9999-12-31) has no end that can be
# held: a whole-day end on it, or its own day window, is a one-line ValueError. Windows that
# stay inside the calendar, up to its last microsecond, work as any other.


def test_a_whole_day_end_on_the_calendars_last_day_is_a_one_line_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        TimeWindow.parse("9999-12-30", "9999-12-31")
    assert str(caught.value) == (
        "end 9999-12-31 (the whole day) ends after 9999-12-31T23:59:59.999999Z, the last time"
        " skyhaul can hold; give a time instead, e.g. 9999-12-31T23:59:59"
    )


def test_the_calendars_last_day_has_no_day_window() -> None:
    with pytest.raises(ValueError, match=r"^the day 9999-12-31 ends after 9999-12-31T23:59:59"):
        TimeWindow.day(date.max)
    assert TimeWindow.day(date(9999, 12, 30)).end == datetime(9999, 12, 31, tzinfo=UTC)


def test_a_window_up_to_the_calendars_last_instant_names_its_days() -> None:
    window = TimeWindow.parse("9999-12-30T12:00", "9999-12-31T23:59:59.999999")
    assert list(window.days()) == [date(9999, 12, 30), date(9999, 12, 31)]
    assert list(TimeWindow(datetime(9999, 12, 31, tzinfo=UTC), LAST_INSTANT).days()) == [date.max]


def test_a_window_from_the_calendars_first_instant() -> None:
    window = TimeWindow.parse("0001-01-01", "0001-01-01")
    assert window == TimeWindow(FIRST_INSTANT, datetime(1, 1, 2, tzinfo=UTC))
    assert list(window.days()) == [date.min]


def test_a_bound_shifted_past_the_calendar_is_held_at_its_edge() -> None:
    year = timedelta(days=365)
    assert shifted(t(1), -year) == t(1) - year
    assert shifted(FIRST_INSTANT + timedelta(hours=1), -timedelta(days=2)) == FIRST_INSTANT
    assert shifted(LAST_INSTANT - timedelta(hours=1), timedelta(days=2)) == LAST_INSTANT
    assert shifted(FIRST_INSTANT, timedelta.min) == FIRST_INSTANT
    assert shifted(LAST_INSTANT, timedelta.max) == LAST_INSTANT


def test_a_span_of_days_ending_on_the_calendars_last_day_has_no_end() -> None:
    assert day_span(date(2024, 3, 1), date(2024, 3, 2)) == (t(1), t(3))
    assert day_span(date.min, date(9999, 12, 30)) == (
        FIRST_INSTANT,
        datetime.max.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC),
    )
    assert day_span(date.max, date.max) == (datetime(9999, 12, 31, tzinfo=UTC), None)


# --- bounds and days as typed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (None, None)),
        ("2024-03-01T12:00", None, (t(1, 12), None)),
        (None, "2024-03-01", (None, t(2))),  # a date alone as the end: that whole day
        ("2024-03-01", "2024-03-01T06:00Z", (t(1), t(1, 6))),
    ],
)
def test_bounds_read_as_typed(
    start: str | None, end: str | None, expected: tuple[datetime | None, datetime | None]
) -> None:
    assert parse_bounds(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end", "bound"),
    [
        ("soon", None, "start"),
        (None, "2024-13-01", "end"),
        ("2024-03-02", "2024-03-01", "end"),
        (None, "9999-12-31", "end"),
    ],
)
def test_a_bound_that_does_not_read_is_named(
    start: str | None, end: str | None, bound: str
) -> None:
    with pytest.raises(BoundError) as caught:
        parse_bounds(start, end)
    assert caught.value.bound == bound
    assert "\n" not in str(caught.value)


def test_day_ranges_name_their_parameters_and_stay_short() -> None:
    assert parse_day_range("2024-03-01", "2024-03-03", max_days=3) == (
        date(2024, 3, 1),
        date(2024, 3, 3),
    )
    with pytest.raises(UsageError, match="at most 2 at once"):
        parse_day_range("2024-03-01", "2024-03-03", max_days=2)
    with pytest.raises(UsageError, match=r"^last 2024-03-01 is before first 2024-03-02$"):
        parse_day_range("2024-03-02", "2024-03-01", names=("first", "last"))
    with pytest.raises(UsageError, match=r"^--start-date: 'x' is not a date"):
        parse_day_range("x", "2024-03-01")
