"""Observation times from file names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from skyhaul.adapters.sources.filetimes import FileTimePattern, FileTimes, parse_time

PARTS = (
    r"(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)\.(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d)"
)


def test_parts() -> None:
    pattern = FileTimePattern(PARTS)
    assert pattern.match("efz20240301.120005.fts") == FileTimes(
        datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)
    )
    assert pattern.match("readme.txt") is None
    assert pattern.match("efz20241301.120005.fts") is None  # month 13
    assert pattern.match("efz20240301.250005.fts") is None  # hour 25


def test_missing_time_parts_are_zero_and_two_digit_years() -> None:
    pattern = FileTimePattern(r"^(?P<year>\d\d)(?P<month>\d\d)(?P<day>\d\d)")
    assert pattern.match("240301_c2.fts") == FileTimes(datetime(2024, 3, 1, tzinfo=UTC))
    assert pattern.match("960301_c2.fts") == FileTimes(datetime(1996, 3, 1, tzinfo=UTC))


def test_day_of_year_and_instrument() -> None:
    pattern = FileTimePattern(
        r"(?P<instrument>[a-z]+)_(?P<year>\d{4})_(?P<doy>\d{3})_(?P<hour>\d\d)"
    )
    assert pattern.match("swap_2024_061_13.fits") == FileTimes(
        datetime(2024, 3, 1, 13, tzinfo=UTC), instrument="swap"
    )
    assert pattern.match("swap_2023_366_00.fits") is None  # 2023 has 365 days
    assert pattern.match("swap_2024_000_00.fits") is None


def test_time_group_with_and_without_format() -> None:
    formatted = FileTimePattern(r"_(?P<time>\d{8}_\d{6})", "%Y%m%d_%H%M%S")
    assert formatted.match("aia_20240301_120000.fits") == FileTimes(
        datetime(2024, 3, 1, 12, tzinfo=UTC)
    )
    assert formatted.match("aia_20249999_120000.fits") is None
    iso = FileTimePattern(r"_(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d)")
    assert iso.match("x_2024-03-01T12:30.fits") == FileTimes(
        datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    )


def test_parse_time_converts_offsets_to_utc() -> None:
    assert parse_time("2024-03-01 13:00 +0100", "%Y-%m-%d %H:%M %z") == datetime(
        2024, 3, 1, 12, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("pattern", "time_format", "message"),
    [
        (r"(?P<year>\d{4}", None, "not a valid regular expression"),
        (r"(?P<year>\d{4})(?P<month>\d\d)", None, "needs a group named 'time'"),
        (r"\d+", None, "needs a group named 'time'"),
        (r"(?P<year>\d{4})(?P<doy>\d{3})", "%Y%j", "needs a group named 'time'"),
    ],
)
def test_invalid_patterns(pattern: str, time_format: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FileTimePattern(pattern, time_format)
