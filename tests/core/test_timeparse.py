from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyhaul.core.timeparse import parse_utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T12:30:00Z", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01t12:30:00z", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T12:30:00", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01 12:30", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("  2024-03-01T12:30:00Z  ", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T13:30:00+01:00", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T07:30:00-0500", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("20240301T123000Z", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T12:30:00.250Z", datetime(2024, 3, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        ("2024-061", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-061T12:30:00Z", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T24:00:00Z", datetime(2024, 3, 2, tzinfo=UTC)),
        ("2024-12-31T24:00", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_parses_iso_8601_into_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_utc(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "yesterday",
        "2024-13-01",
        "2024-02-30",
        "03/01/2024",
        "12:30",
        "2024-03-01T25:00",
        "2024-367",
        "2023-366",
        "2024-000",
        "2024-03-01T12:30:00+25:00",
    ],
)
def test_rejects_anything_else_with_one_line_quoting_the_input(text: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_utc(text)
    message = str(excinfo.value)
    assert repr(text) in message
    assert "\n" not in message
    assert "ISO 8601" in message


# --- the calendar's edges ---------------------------------------------------------------
# Python's datetime ends at 9999-12-31T23:59:59.999999 and starts at 0001-01-01T00:00.
# A time whose UTC instant falls outside cannot be held, compared or stored: it is refused
# with the same one-line ValueError as any unreadable time, saying which edge it passes.


LAST = "is after 9999-12-31T23:59:59.999999Z, the last time skyhaul can hold"
FIRST = "is before 0001-01-01T00:00:00Z, the first time skyhaul can hold"


@pytest.mark.parametrize(
    ("text", "edge"),
    [
        ("9999-12-31T24:00", LAST),
        ("9999-365T24:00:00Z", LAST),
        ("9999-12-31T23:00:00-02:00", LAST),
        ("0001-01-01T00:00:00+01:00", FIRST),
        ("0001-01-01T00:59:59.999999+01:00", FIRST),
    ],
)
def test_a_time_outside_the_calendar_is_a_one_line_value_error(text: str, edge: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_utc(text)
    assert str(excinfo.value) == f"{text!r} {edge}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9999-12-31T23:59:59.999999Z", datetime.max.replace(tzinfo=UTC)),
        ("0001-01-01T01:00:00+01:00", datetime.min.replace(tzinfo=UTC)),
        ("0001-01-01", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-30T24:00", datetime(9999, 12, 31, tzinfo=UTC)),
    ],
)
def test_the_edges_themselves_are_times(text: str, expected: datetime) -> None:
    assert parse_utc(text) == expected
