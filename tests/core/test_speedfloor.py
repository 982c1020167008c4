"""The minimum speed of a body: bytes per window, as curl's --speed-limit/--speed-time."""

from __future__ import annotations

import pytest

from skyhaul.core.speedfloor import SpeedFloor


def test_a_window_short_of_its_quota_is_too_slow() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=30.0)
    assert floor.quota == 30 * 1024
    assert floor.too_slow(30 * 1024 - 1)
    assert not floor.too_slow(30 * 1024)


def test_one_byte_every_five_seconds_is_too_slow_at_the_default() -> None:
    floor = SpeedFloor()
    assert floor.enabled
    assert floor.too_slow(int(floor.seconds / 5))


@pytest.mark.parametrize(("rate", "seconds"), [(0, 30.0), (1024, 0.0)])
def test_a_zero_rate_or_window_turns_the_floor_off(rate: int, seconds: float) -> None:
    floor = SpeedFloor(rate, seconds)
    assert not floor.enabled
    assert not floor.too_slow(0)


def test_the_floor_says_what_was_too_slow() -> None:
    floor = SpeedFloor(bytes_per_second=1024, seconds=30.0)
    assert floor.describe(12) == "slower than 1.0 KiB/s for 30s (12 bytes)"


def test_a_negative_floor_is_refused() -> None:
    with pytest.raises(ValueError):
        SpeedFloor(-1, 30.0)
