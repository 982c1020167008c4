"""Sizes and durations: what people type is read the way aria2 and curl read it."""

from __future__ import annotations

import math

import pytest

from skyhaul.core.units import (
    format_duration,
    format_seconds,
    format_size,
    parse_duration,
    parse_size,
)

KIB, MIB, GIB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8388608", 8 * MIB),
        ("0", 0),
        ("512B", 512),
        ("8MiB", 8 * MIB),
        ("8M", 8 * MIB),
        ("8m", 8 * MIB),
        ("8Mi", 8 * MIB),
        ("8MB", 8_000_000),
        ("8mb", 8_000_000),
        ("512KiB", 512 * KIB),
        ("512k", 512 * KIB),
        ("512KB", 512_000),
        ("1G", GIB),
        ("1GB", 1_000_000_000),
        ("2TiB", 2 * 1024**4),
        ("1.5G", 3 * GIB // 2),
        ("0.5KiB", 512),
        (" 16 MiB ", 16 * MIB),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "MiB", "-1M", "8XB", "8MiBs", "8 M B", "1.5", "0.1K", "eight", "8Q", "1e3", "0x10"],
)
def test_parse_size_rejects_with_one_line_message(text: str) -> None:
    with pytest.raises(ValueError, match="size") as excinfo:
        parse_size(text)
    assert "\n" not in str(excinfo.value)
    assert repr(text) in str(excinfo.value)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (8 * MIB, "8.0 MiB"),
        (1024 * KIB - 1, "1.0 MiB"),
        (GIB + GIB // 2, "1.5 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2 * 1024**7, "2048.0 EiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1.5", 1.5),
        ("90", 90.0),
        ("250ms", 0.25),
        ("1h30m", 5400.0),
        ("1m05s", 65.0),
        ("1M", 60.0),
        (" 10s ", 10.0),
        ("0.5h", 1800.0),
    ],
)
def test_parse_duration(text: str, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "s", "-5s", "5x", "5 m", "1.5.2", "m5", "10 20", "1s2"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as excinfo:
        parse_duration(text)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0.0s"),
        (2.0, "2.0s"),
        (4.25, "4.2s"),
        (0.5, "0.5s"),
        (9.99, "10s"),
        (42, "42s"),
        (59.6, "1m00s"),
        (65, "1m05s"),
        (3599, "59m59s"),
        (3600 + 3 * 60 + 20, "1h03m"),
        (86400 + 4 * 3600, "1d04h"),
        (-65, "-1m05s"),
        (math.inf, "--"),
        (math.nan, "--"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [0.0, 7.5, 42.0, 65.0, 3599.0])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(2.0, "2s"), (0, "0s"), (120, "120s"), (2.5, "2.5s"), (0.25, "0.2s"), (math.inf, "--")],
)
def test_format_seconds(seconds: float, expected: str) -> None:
    assert format_seconds(seconds) == expected


# --- limits --------------------------------------------------------------------------------
# A byte count is at most 2**63 - 1 (what a file system, a 64-bit catalog column and an
# HTTP range hold), and a duration at most 100 years, so that "now" plus or minus any
# duration is still a time (datetime stops at 9999-12-31).


@pytest.mark.parametrize("text", [str(2**63), "8EiB", "9223372036854775808B", "10EB"])
def test_parse_size_refuses_sizes_of_2_to_the_63_or_more(text: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_size(text)
    assert str(excinfo.value) == (
        f"invalid size {text!r}: more than 9223372036854775807 bytes (8 EiB - 1)"
    )


def test_parse_size_takes_the_largest_size() -> None:
    assert parse_size(str(2**63 - 1)) == 2**63 - 1


@pytest.mark.parametrize("text", ["99999999999d", "36526d", "5300w", "1" + "0" * 400 + "s"])
def test_parse_duration_refuses_more_than_a_hundred_years(text: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_duration(text)
    assert str(excinfo.value) == f"invalid duration {text!r}: more than 100 years (36525d)"


def test_parse_duration_takes_a_hundred_years() -> None:
    assert parse_duration("36525d") == 36525 * 86400
