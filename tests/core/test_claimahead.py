"""ClaimAhead: claim about ``horizon`` seconds of work, within a floor and a ceiling."""

from __future__ import annotations

import pytest

from skyhaul.core.claimahead import ClaimAhead


def test_first_claim_is_the_floor() -> None:
    assert ClaimAhead(64).next_size(now=100.0) == 64


def test_fast_small_files_grow_the_claim_to_the_ceiling_step_by_step() -> None:
    ahead = ClaimAhead(64, ceiling=1024, horizon=0.5, growth=4.0)
    now = 0.0
    sizes = [ahead.next_size(now)]
    for _ in range(4):
        ahead.started(sizes[-1])  # the whole claim started within 10 ms
        now += 0.01
        sizes.append(ahead.next_size(now))
    assert sizes == [64, 256, 1024, 1024, 1024]


def test_slow_large_files_keep_the_claim_at_the_floor() -> None:
    ahead = ClaimAhead(32, horizon=0.5)
    ahead.next_size(0.0)
    ahead.started(16)
    assert ahead.next_size(60.0) == 32  # 16 starts a minute: half a second holds nothing


def test_the_claim_follows_the_measured_rate_down_again() -> None:
    ahead = ClaimAhead(10, ceiling=1000, horizon=1.0, growth=100.0)
    ahead.next_size(0.0)
    ahead.started(500)
    assert ahead.next_size(1.0) == 500  # 500 starts/s x 1 s
    ahead.started(50)
    assert ahead.next_size(2.0) == 50  # the files got larger: 50/s


def test_no_time_elapsed_means_as_fast_as_allowed() -> None:
    ahead = ClaimAhead(8, ceiling=100, growth=2.0)
    ahead.next_size(5.0)
    ahead.started(8)
    assert ahead.next_size(5.0) == 16


@pytest.mark.parametrize(
    ("floor", "ceiling", "horizon", "growth"),
    [(0, 10, 0.5, 2.0), (20, 10, 0.5, 2.0), (1, 10, 0.0, 2.0), (1, 10, 0.5, 0.5)],
)
def test_bad_settings_are_refused(floor: int, ceiling: int, horizon: float, growth: float) -> None:
    with pytest.raises(ValueError):
        ClaimAhead(floor, ceiling, horizon, growth)
