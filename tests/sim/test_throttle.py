from __future__ import annotations

import pytest

from skyhaul.sim.throttle import Pacer, RequestLimiter


def test_limiter_admits_burst_plus_one_then_the_rate() -> None:
    limiter = RequestLimiter(rate=10, burst=4, now=0.0)
    assert [limiter.admit(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.admit(0.05)  # half a token
    assert limiter.admit(0.1)
    assert not limiter.admit(0.1)


def test_limiter_with_no_burst_spaces_requests_like_nginx() -> None:
    limiter = RequestLimiter(rate=2, burst=0, now=0.0)
    times = [0.0, 0.1, 0.5, 0.6, 1.0, 1.1, 1.5]
    assert [limiter.admit(t) for t in times] == [True, False, True, False, True, False, True]


def test_limiter_long_run_rate() -> None:
    limiter = RequestLimiter(rate=20, burst=5, now=0.0)
    admitted = sum(limiter.admit(i * 0.001) for i in range(10_000))  # 10 s of 1000 req/s
    assert admitted == pytest.approx(6 + 20 * 10, abs=1)


def test_refusals_do_not_take_tokens() -> None:
    limiter = RequestLimiter(rate=1, burst=0, now=0.0)
    assert limiter.admit(0.0)
    for t in (0.2, 0.4, 0.6, 0.8):
        assert not limiter.admit(t)
    assert limiter.admit(1.0)


def test_pacer_holds_the_average_rate() -> None:
    pacer = Pacer(bandwidth=1000, now=10.0)
    assert pacer.delay(500, now=10.0) == pytest.approx(0.5)
    assert pacer.delay(500, now=10.5) == pytest.approx(0.5)
    # a late writer is not made to wait more than the schedule says
    assert pacer.delay(500, now=12.0) == pytest.approx(0.0)


def test_wait_says_when_the_next_token_comes() -> None:
    limiter = RequestLimiter(rate=4.0, burst=0, now=0.0)
    assert limiter.admit(0.0)
    assert limiter.wait() == pytest.approx(0.25)
    assert not limiter.admit(0.1)
    assert limiter.wait() == pytest.approx(0.15)
    assert limiter.admit(0.25)
