"""Retry decisions: permanent errors, exhausted attempts, full-jitter backoff, Retry-After."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.retry import QUICK_ATTEMPTS, RetryDecision, RetryPolicy, backoff_delay


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


MAX = fixed(0.999999)
HALF = fixed(0.5)
ZERO = fixed(0.0)


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "random", "expected"),
    [
        (1, 1.0, 300.0, MAX, 1.0),
        (2, 1.0, 300.0, MAX, 2.0),
        (3, 1.0, 300.0, MAX, 4.0),
        (9, 1.0, 300.0, MAX, 256.0),
        (10, 1.0, 300.0, MAX, 300.0),  # capped
        (3, 0.5, 300.0, HALF, 1.0),
        (5, 2.0, 10.0, HALF, 5.0),
        (4, 1.0, 300.0, ZERO, 0.0),
        (10_000, 1.0, 60.0, MAX, 60.0),  # no overflow for absurd attempt counts
    ],
)
def test_backoff_delay_is_full_jitter(
    attempt: int, base: float, cap: float, random: Callable[[], float], expected: float
) -> None:
    assert backoff_delay(attempt, base=base, cap=cap, random=random) == pytest.approx(
        expected, rel=1e-5
    )


def test_backoff_delay_refuses_attempt_zero() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, base=1.0, cap=10.0, random=HALF)


@pytest.mark.parametrize(
    ("error_class", "attempts", "retry_after", "expected"),
    [
        (ErrorClass.CLIENT, 1, None, RetryDecision(False, 0.0, "permanent client error")),
        (ErrorClass.CLIENT, 4, 10.0, RetryDecision(False, 0.0, "permanent client error")),
        (
            ErrorClass.SERVER,
            5,
            None,
            RetryDecision(False, 0.0, "server error; 5 attempts exhausted"),
        ),
        (
            ErrorClass.READ_TIMEOUT,
            7,
            None,
            RetryDecision(False, 0.0, "read timed out; 7 attempts exhausted"),
        ),
        (
            ErrorClass.SERVER,
            1,
            None,
            # The first retry after a fault that is most often random comes soon.
            RetryDecision(True, 0.125, "server error; retry 2 of 5 in 0.1s"),
        ),
        (
            ErrorClass.SERVER,
            2,
            None,
            # So does the second: two random faults in a row are rare but not slow.
            RetryDecision(True, 0.25, "server error; retry 3 of 5 in 0.2s"),
        ),
        (
            ErrorClass.SERVER,
            3,
            None,
            RetryDecision(True, 2.0, "server error; retry 4 of 5 in 2.0s"),
        ),
        (
            ErrorClass.CONNECT,
            3,
            None,
            RetryDecision(True, 2.0, "connection failed; retry 4 of 5 in 2.0s"),
        ),
        (
            ErrorClass.INTEGRITY,
            2,
            None,
            RetryDecision(True, 1.0, "integrity check failed; retry 3 of 5 in 1.0s"),
        ),
        (
            ErrorClass.DISK,
            1,
            None,
            RetryDecision(True, 0.5, "disk error; retry 2 of 5 in 0.5s"),
        ),
        (
            ErrorClass.CHANGED,
            1,
            None,
            RetryDecision(True, 0.0, "remote file changed; retry 2 of 5 from byte 0 now"),
        ),
        (
            ErrorClass.CHANGED,
            5,
            None,
            RetryDecision(False, 0.0, "remote file changed; 5 attempts exhausted"),
        ),
        # throttled without Retry-After: plain backoff
        (
            ErrorClass.THROTTLED,
            2,
            None,
            RetryDecision(True, 1.0, "throttled by the server; retry 3 of 5 in 1.0s"),
        ),
        # Retry-After is a floor, never shortened by jitter...
        (
            ErrorClass.THROTTLED,
            1,
            30.0,
            RetryDecision(
                True, 30.0, "throttled by the server (Retry-After 30s); retry 2 of 5 in 30s"
            ),
        ),
        # ...and jitter may wait longer than it
        (
            ErrorClass.THROTTLED,
            4,
            2.0,
            RetryDecision(
                True, 4.0, "throttled by the server (Retry-After 2s); retry 5 of 5 in 4.0s"
            ),
        ),
        # a Retry-After beyond max_delay is still honoured
        (
            ErrorClass.THROTTLED,
            1,
            900.0,
            RetryDecision(
                True, 900.0, "throttled by the server (Retry-After 900s); retry 2 of 5 in 15m00s"
            ),
        ),
        (
            ErrorClass.THROTTLED,
            5,
            1.0,
            RetryDecision(False, 0.0, "throttled by the server; 5 attempts exhausted"),
        ),
    ],
)
def test_decide(
    error_class: ErrorClass, attempts: int, retry_after: float | None, expected: RetryDecision
) -> None:
    decision = RetryPolicy().decide(error_class, attempts, retry_after=retry_after, random=HALF)
    assert decision.retry == expected.retry
    assert decision.delay == pytest.approx(expected.delay)
    assert decision.reason == expected.reason


def test_backoff_is_capped_by_max_delay_but_retry_after_beyond_it_is_not() -> None:
    policy = RetryPolicy(max_attempts=50, max_delay=60.0)
    assert policy.decide(ErrorClass.SERVER, 30, random=MAX).delay <= 60.0
    assert policy.decide(ErrorClass.THROTTLED, 30, retry_after=120.0, random=MAX).delay == 120.0


def test_retry_after_is_honoured_only_for_the_classes_named() -> None:
    default = RetryPolicy()
    assert default.decide(ErrorClass.SERVER, 1, retry_after=7.0, random=ZERO).delay == 0.0
    pages = RetryPolicy(retry_after_classes=frozenset({ErrorClass.THROTTLED, ErrorClass.SERVER}))
    decision = pages.decide(ErrorClass.SERVER, 1, retry_after=7.0, random=ZERO)
    assert decision.delay == 7.0
    assert decision.reason == "server error (Retry-After 7s); retry 2 of 5 in 7.0s"
    assert pages.decide(ErrorClass.CONNECT, 1, retry_after=7.0, random=ZERO).delay == 0.0


def test_jitter_spreads_delays_over_the_whole_interval() -> None:
    policy = RetryPolicy()
    delays = {
        policy.decide(ErrorClass.SERVER, 3, random=fixed(u)).delay for u in (0.0, 0.25, 0.5, 0.75)
    }
    assert delays == {0.0, 1.0, 2.0, 3.0}


def test_one_attempt_policy_never_retries() -> None:
    decision = RetryPolicy(max_attempts=1).decide(ErrorClass.SERVER, 1, random=HALF)
    assert decision == RetryDecision(False, 0.0, "server error; 1 attempt exhausted")


def test_policy_is_a_value() -> None:
    policy = RetryPolicy()
    three = policy.with_max_attempts(3)
    assert three.max_attempts == 3 and policy.max_attempts == 5
    assert three == RetryPolicy(max_attempts=3)
    assert not three.decide(ErrorClass.SERVER, 3, random=HALF).retry
    assert policy.decide(ErrorClass.SERVER, 3, random=HALF).retry


def test_with_permanent_adds_classes() -> None:
    policy = RetryPolicy().with_permanent(ErrorClass.INTEGRITY)
    assert policy.permanent == {ErrorClass.CLIENT, ErrorClass.INTEGRITY}
    decision = policy.decide(ErrorClass.INTEGRITY, 1, random=HALF)
    assert decision == RetryDecision(False, 0.0, "permanent integrity error")


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"base_delay": 10.0, "max_delay": 5.0}],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_host_name_that_does_not_resolve_is_retried_quickly_a_few_times_then_given_up() -> None:
    # A misspelled host never resolves: a few quick tries cover a resolver's hiccup, then
    # the file is abandoned, whatever the policy allows other classes.
    policy = RetryPolicy(max_attempts=8, base_delay=60.0, max_delay=600.0)
    decisions = [policy.decide(ErrorClass.DNS, n, random=MAX) for n in range(1, 9)]
    retried = [d for d in decisions if d.retry]
    assert len(retried) == QUICK_ATTEMPTS - 1
    assert all(d.retry for d in decisions[: QUICK_ATTEMPTS - 1])
    assert sum(d.delay for d in retried) < 5.0
    given_up = decisions[QUICK_ATTEMPTS - 1]
    assert given_up == RetryDecision(
        False, 0.0, f"host name not found; {QUICK_ATTEMPTS} attempts exhausted"
    )


def test_a_policy_of_fewer_attempts_gives_up_on_a_host_name_sooner() -> None:
    assert not RetryPolicy(max_attempts=1).decide(ErrorClass.DNS, 1, random=MAX).retry


def test_a_decision_says_whether_its_wait_fits_within_a_longest_wait() -> None:
    throttled = RetryPolicy().decide(ErrorClass.THROTTLED, 1, retry_after=99999999.0, random=MAX)
    assert throttled.retry and not throttled.within(600.0)
    assert RetryPolicy().decide(ErrorClass.SERVER, 1, random=MAX).within(600.0)
    assert not RetryPolicy(max_attempts=1).decide(ErrorClass.SERVER, 1, random=MAX).within(600.0)
