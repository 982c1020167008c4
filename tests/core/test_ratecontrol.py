"""The per-host controller: AIMD window, Retry-After pauses, and request-rate pacing.

The pacing is proved against a discrete-event simulation (``ratesim``) of a token-bucket
server (nginx ``limit_req rate=R burst=5 nodelay``) that refuses with 429 once the client
goes faster than R, without Retry-After as nginx does or with it as many APIs do, and a
client of 16 workers that obeys the controller. No clock, no sleep.
"""

from __future__ import annotations

import itertools

import pytest
from tests.core.ratesim import HOST, SimResult, TokenBucket, simulate

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.ratecontrol import (
    CONGESTED_AT_LEAST,
    HOLD_MAX_SECONDS,
    HOLD_SECONDS,
    MAX_PAUSE_SECONDS,
    HostController,
    WindowChange,
)
from skyhaul.core.units import format_duration


def throttle(
    c: HostController,
    *,
    now: float,
    started_at: float,
    retry_after: float | None = None,
) -> WindowChange | None:
    return c.on_failure(
        ErrorClass.THROTTLED, now=now, started_at=started_at, status=429, retry_after=retry_after
    )


def succeed(c: HostController, times: int, *, now: float = 0.0) -> list[WindowChange]:
    changes = []
    for _ in range(times):
        change = c.on_success(now, now)
        if change is not None:
            changes.append(change)
    return changes


# --- the concurrency window ------------------------------------------------------------


def test_starts_at_start_and_allows_that_many_in_flight() -> None:
    c = HostController(HOST, start=4)
    assert c.window == 4
    assert c.rate is None
    assert [c.can_start(n, 0.0) for n in range(6)] == [True, True, True, True, False, False]


def test_window_grows_by_one_per_full_window_of_successes_up_to_ceiling() -> None:
    c = HostController(HOST, start=4, ceiling=8)
    windows = []
    for _ in range(100):
        c.on_success(1.0, 0.5)
        windows.append(c.window)
    # 4 successes -> 5, 5 more -> 6, 6 more -> 7, 7 more -> 8, then capped
    assert windows[3] == 5 and windows[2] == 4
    assert windows[8] == 6 and windows[7] == 5
    assert windows[14] == 7
    assert windows[21] == 8
    assert max(windows) == 8 and windows[-1] == 8


def test_increase_after_fixes_the_successes_per_step() -> None:
    c = HostController(HOST, start=2, ceiling=10, increase_after=3)
    changes = succeed(c, 9)
    assert [(ch.old_window, ch.new_window) for ch in changes] == [(2, 3), (3, 4), (4, 5)]
    assert all(ch.reason == "3 successes" for ch in changes)


def test_a_burst_of_concurrent_429s_halves_the_window_once() -> None:
    c = HostController(HOST, start=16, ceiling=16)
    changes = [throttle(c, now=1.0 + i * 0.01, started_at=0.5) for i in range(16)]
    assert c.window == 8
    assert changes[0] is not None
    assert (changes[0].old_window, changes[0].new_window) == (16, 8)
    # the 15 others started before the decrease: echoes of the same congestion
    assert all(ch is None or ch.new_window == ch.old_window for ch in changes[1:]), (
        "only one decrease per epoch"
    )


def test_a_failure_of_a_request_started_after_the_decrease_decreases_again() -> None:
    c = HostController(HOST, start=16, ceiling=16)
    throttle(c, now=1.0, started_at=0.5)
    throttle(c, now=2.0, started_at=1.5)
    assert c.window == 4


@pytest.mark.parametrize(("start", "floor"), [(16, 1), (8, 3), (5, 5), (2, 1)])
def test_window_never_goes_below_floor(start: int, floor: int) -> None:
    c = HostController(HOST, start=start, floor=floor, ceiling=16)
    for i in range(20):
        c.on_failure(ErrorClass.READ_TIMEOUT, now=float(i + 1), started_at=float(i) + 0.5)
        assert c.window >= floor
    assert c.window == floor


def test_window_grows_back_to_ceiling_after_a_collapse() -> None:
    c = HostController(HOST, start=8, floor=1, ceiling=12)
    for i in range(5):
        throttle(c, now=float(i + 1), started_at=float(i) + 0.5)
    assert c.window == 1
    succeed(c, 200, now=10.0)
    assert c.window == 12


@pytest.mark.parametrize(
    ("error_class", "status", "halves"),
    [
        (ErrorClass.THROTTLED, 429, True),
        (ErrorClass.THROTTLED, 503, True),
        # One of these may be a random fault: alone, it changes nothing (see below).
        (ErrorClass.SERVER, 503, False),
        (ErrorClass.READ_TIMEOUT, None, False),
        (ErrorClass.CONNECT, None, False),
        (ErrorClass.SERVER, 500, False),
        (ErrorClass.SERVER, None, False),
        (ErrorClass.CLIENT, 404, False),
        (ErrorClass.CLIENT, 403, False),
        (ErrorClass.INTEGRITY, None, False),
        (ErrorClass.DISK, None, False),
        (ErrorClass.CHANGED, None, False),
    ],
)
def test_which_failures_shrink_the_window(
    error_class: ErrorClass, status: int | None, halves: bool
) -> None:
    c = HostController(HOST, start=8)
    change = c.on_failure(error_class, now=1.0, started_at=0.5, status=status)
    assert c.window == (4 if halves else 8)
    assert (change is not None) is halves


@pytest.mark.parametrize(
    ("error_class", "status", "reason"),
    [
        (ErrorClass.THROTTLED, 429, "429"),
        (ErrorClass.SERVER, 503, "503"),
        (ErrorClass.THROTTLED, None, "throttled"),
        (ErrorClass.READ_TIMEOUT, None, "read timeout"),
        (ErrorClass.CONNECT, None, "connection failed"),
    ],
)
def test_timeouts_and_resets_shrink_the_window_but_do_not_pace(
    error_class: ErrorClass, status: int | None, reason: str
) -> None:
    c = HostController(HOST, start=8)
    change = None
    for i in range(CONGESTED_AT_LEAST):  # a burst of them: a large share of the answers
        change = c.on_failure(error_class, now=1.0 + i, started_at=0.5 + i, status=status)
    assert change is not None
    assert change.reason == reason
    paces = error_class is ErrorClass.THROTTLED or status == 503
    assert (c.rate is not None) is paces


@pytest.mark.parametrize(
    ("error_class", "status"),
    [(ErrorClass.SERVER, 503), (ErrorClass.READ_TIMEOUT, None), (ErrorClass.CONNECT, None)],
)
def test_random_faults_at_five_percent_never_shrink_the_window(
    error_class: ErrorClass, status: int | None
) -> None:
    # One answer in twenty fails, evenly spread: a steady share, not congestion.
    c = HostController(HOST, start=8, ceiling=16)
    for i in range(400):
        now = i * 0.01
        if i % 20 == 19:
            assert c.on_failure(error_class, now=now, started_at=now - 0.005, status=status) is None
        else:
            c.on_start(now - 0.005)
            c.on_success(now, now - 0.005)
    assert c.window == 16
    assert c.rate is None


def test_a_rising_share_of_503s_is_congestion_and_paces() -> None:
    c = HostController(HOST, start=8)
    for i in range(20):
        c.on_start(i * 0.01)
        c.on_success(i * 0.01 + 0.005, i * 0.01)
    before = c.window
    changes = [
        c.on_failure(ErrorClass.SERVER, now=1.0 + i * 0.01, started_at=0.9, status=503)
        for i in range(8)
    ]
    # 8 of the last 28 answers (29%): the server is refusing more as we send more.
    assert [x is not None for x in changes].count(True) == 1  # one epoch, one decrease
    assert c.window == before // 2
    assert c.rate is not None


# --- Retry-After -----------------------------------------------------------------------


def test_retry_after_pauses_the_host_and_paces_it_after() -> None:
    c = HostController(HOST, start=8)
    change = throttle(c, now=10.0, started_at=9.0, retry_after=2.0)
    assert change is not None
    assert str(change) == (
        "archive.example: window 8 -> 4, rate unpaced -> 10.0/s, paused 2s (429, Retry-After 2s)"
    )
    assert change.pause == 2.0
    assert change.is_decrease
    assert c.rate == 10.0, "a fast client would burst again after the pause"
    assert not c.can_start(0, 10.0)
    assert not c.can_start(0, 11.999)
    assert c.earliest_start(10.5) == 12.0
    assert c.can_start(0, 12.0)


def test_a_503_with_retry_after_pauses_but_sets_no_pace() -> None:
    """Unavailable for a while is not "too fast": random 503s must not pin the rate down."""
    c = HostController(HOST, start=8)
    change = c.on_failure(
        ErrorClass.THROTTLED, now=10.0, started_at=9.0, status=503, retry_after=2.0
    )
    assert change is not None and change.pause == 2.0
    assert c.window == 4
    assert c.rate is None
    assert c.can_start(0, 12.0)


def test_a_shorter_retry_after_does_not_shorten_a_pause() -> None:
    c = HostController(HOST, start=8)
    throttle(c, now=10.0, started_at=9.0, retry_after=30.0)
    change = throttle(c, now=10.5, started_at=9.0, retry_after=1.0)
    assert change is not None and change.pause == 1.0
    assert c.window == 4, "same epoch: no second decrease"
    assert c.earliest_start(11.0) == 40.0


def test_retry_after_at_the_floor_is_still_reported() -> None:
    c = HostController(HOST, start=1, floor=1)
    throttle(c, now=1.0, started_at=0.5, retry_after=5.0)
    # an echo of the same epoch changes neither window nor rate, but pauses
    change = throttle(c, now=1.1, started_at=0.6, retry_after=5.0)
    assert change is not None
    assert (change.old_window, change.new_window) == (1, 1)
    assert change.old_rate == change.new_rate
    assert str(change) == "archive.example: window 1 -> 1, paused 5s (429, Retry-After 5s)"


def test_a_pause_longer_than_max_pause_refuses_requests_instead_of_holding_them() -> None:
    # Retry-After: 99999999 once held every request to the host for 3 years.
    c = HostController(HOST, start=8, max_pause=600.0)
    change = throttle(c, now=10.0, started_at=9.0, retry_after=99999999.0)
    assert change is not None and change.pause == 99999999.0
    assert not c.can_start(0, 10.0)
    assert c.refusal(10.0) == 99999999.0
    assert c.refusal(1000.0) == 99999999.0 - 990.0
    # The pause is the server's: its last 600 s may be waited for, not cut short.
    assert c.refusal(10.0 + 99999999.0 - 600.0) is None
    assert c.earliest_start(10.0) == 10.0 + 99999999.0


def test_a_pause_up_to_ten_minutes_is_waited_for_by_default() -> None:
    c = HostController(HOST, start=8)
    assert c.refusal(0.0) is None
    throttle(c, now=0.0, started_at=0.0, retry_after=MAX_PAUSE_SECONDS)
    assert MAX_PAUSE_SECONDS == 600.0
    assert c.refusal(0.0) is None and c.earliest_start(0.0) == 600.0
    throttle(c, now=0.0, started_at=0.0, retry_after=MAX_PAUSE_SECONDS + 1)
    assert c.refusal(0.0) == MAX_PAUSE_SECONDS + 1


# --- pacing ----------------------------------------------------------------------------


def test_throttle_without_retry_after_starts_pacing() -> None:
    c = HostController(HOST, start=8)
    for _ in range(6):
        c.on_start(0.0)
        c.on_success(0.0, 0.0)
    change = throttle(c, now=0.0, started_at=0.0)
    assert change is not None
    assert change.old_rate is None and change.new_rate is not None
    assert "rate unpaced ->" in str(change)
    rate = c.rate
    assert rate is not None and rate > 0
    c.on_start(1.0)
    assert not c.can_start(0, 1.0)
    assert c.earliest_start(1.0) == pytest.approx(1.0 + 1.0 / rate)
    assert c.can_start(0, 1.0 + 1.0 / rate)


def test_pacing_settles_just_under_the_measured_accepted_rate() -> None:
    c = HostController(HOST, start=16, ceiling=16)
    throttle(c, now=0.0, started_at=0.0)  # first throttle: search phase
    c.on_start(0.05)
    c.on_success(0.05, 0.05)
    throttle(c, now=0.06, started_at=0.06)  # overshoot: refine phase
    # now the server accepts exactly 40 requests per second for two seconds
    t = 0.1
    while t < 2.1:
        c.on_start(t)
        c.on_success(t, t)
        t += 0.025
    assert c.accepted_rate(t) == pytest.approx(40.0, rel=0.05)
    old = c.rate
    change = throttle(c, now=t, started_at=t)
    assert change is not None and change.old_rate == old
    assert c.rate == pytest.approx(0.9 * 40.0, rel=0.05)


def test_rate_never_drops_below_rate_floor() -> None:
    c = HostController(HOST, start=4, rate_floor=0.5)
    for i in range(30):
        throttle(c, now=float(i), started_at=float(i))
        assert c.rate is not None and c.rate >= 0.5
    assert c.rate == 0.5


def test_rate_probes_upwards_only_while_pacing_holds_requests_back() -> None:
    c = HostController(HOST, start=16, ceiling=16)
    throttle(c, now=0.0, started_at=0.0)
    rate = c.rate
    assert rate is not None
    # a client starting one request every 10 s is not held back by any pacing
    for i in range(1, 20):
        c.on_start(10.0 * i)
        assert c.on_success(10.0 * i + 0.1, 10.0 * i) is None or c.rate == rate
    assert c.rate == rate


def test_paced_rate_grows_without_throttling() -> None:
    c = HostController(HOST, start=16, ceiling=16)
    throttle(c, now=0.0, started_at=0.0)
    first = c.rate
    assert first is not None
    t, changes = 0.0, []
    for _ in range(40):
        t = c.earliest_start(t)
        c.on_start(t)
        change = c.on_success(t, t)
        if change is not None and change.new_rate != change.old_rate:
            changes.append(change)
    assert c.rate is not None and c.rate > 8 * first, "no throttling: the search doubles"
    assert all("no throttling for" in ch.reason for ch in changes)
    assert all(ch.new_rate is not None and ch.old_rate is not None for ch in changes)
    assert all(ch.new_rate > ch.old_rate for ch in changes)  # type: ignore[operator]


# --- WindowChange ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "text", "decrease"),
    [
        (
            WindowChange(HOST, 8, 4, "429, Retry-After 2s"),
            "archive.example: window 8 -> 4 (429, Retry-After 2s)",
            True,
        ),
        (
            WindowChange(HOST, 4, 5, "4 successes"),
            "archive.example: window 4 -> 5 (4 successes)",
            False,
        ),
        (
            WindowChange(HOST, 8, 4, "429", 40.0, 20.5),
            "archive.example: window 8 -> 4, rate 40.0 -> 20.5/s (429)",
            True,
        ),
        (
            WindowChange(HOST, 6, 6, "no throttling for 1.0s", 20.0, 21.0),
            "archive.example: rate 20.0 -> 21.0/s (no throttling for 1.0s)",
            False,
        ),
        (
            WindowChange(HOST, 6, 3, "429", None, 12.0),
            "archive.example: window 6 -> 3, rate unpaced -> 12.0/s (429)",
            True,
        ),
    ],
)
def test_window_change_text(change: WindowChange, text: str, decrease: bool) -> None:
    assert str(change) == text
    assert change.is_decrease is decrease


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": 4, "floor": 0},
        {"start": 4, "floor": 5},
        {"start": 20, "ceiling": 16},
        {"increase_after": 0},
        {"rate_floor": 0.0},
    ],
)
def test_constructor_refuses_inconsistent_limits(kwargs: dict[str, int | float]) -> None:
    with pytest.raises(ValueError):
        HostController(HOST, **kwargs)  # type: ignore[arg-type]


# --- the simulation: a token bucket without Retry-After (nginx) ------------------------


@pytest.mark.parametrize("latency", [0.0, 0.01])
@pytest.mark.parametrize("requests", [300, 1000, 2000])
@pytest.mark.parametrize("rate", [5.0, 20.0, 100.0])
def test_pacing_keeps_under_an_nginx_rate_limit(rate: float, requests: int, latency: float) -> None:
    server = TokenBucket(rate, 5, retry_after=False)
    result = simulate(server, requests=requests, latency=latency)
    ideal = (requests - 5) / rate
    assert result.seconds <= 1.2 * ideal, f"{result.seconds:.2f}s vs ideal {ideal:.2f}s"
    assert result.refused <= 0.10 * requests, f"{result.refused} of {requests} refused"
    assert any(ch.new_rate is not None for ch in result.changes), "pacing was used"


def test_simulated_server_refuses_an_unpaced_client() -> None:
    # Guard for the test above: without pacing the same server refuses a lot.
    server = TokenBucket(20.0, 5, retry_after=False)
    t, refused = 0.0, 0
    for _ in range(1000):
        refused += not server.admit(t)
        t += 0.01  # 100 requests per second
    assert refused > 700


def test_simulation_reports_every_decrease_with_a_reason() -> None:
    result = simulate(TokenBucket(20.0, 5, retry_after=False), requests=300)
    decreases = [ch for ch in result.changes if ch.is_decrease]
    assert decreases
    assert all(ch.reason == "429" for ch in decreases)
    assert all(str(ch).startswith("archive.example: ") for ch in result.changes)


# --- the simulation: a token bucket that sends Retry-After ------------------------------

MINUTE = 60.0
WARM_UP = 5.0  # the first pause and the search: goodput is measured after it


def fetch(
    rate: float,
    *,
    seed: int = 0,
    seconds: float = MINUTE,
    limit_changes: tuple[tuple[float, float], ...] = (),
) -> SimResult:
    """Fast requests (5-20 ms) with plenty of work, window ceiling 16, burst 5."""
    return simulate(
        TokenBucket(rate, 5, retry_after=True),
        seconds=seconds,
        latency=0.005,
        jitter=0.015,
        seed=seed,
        limit_changes=limit_changes,
    )


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("rate", [5.0, 20.0, 100.0])
def test_pacing_settles_under_a_limit_that_sends_retry_after(rate: float, seed: int) -> None:
    result = fetch(rate, seed=seed)
    goodput = result.goodput(WARM_UP, MINUTE) / rate
    assert goodput >= 0.92, f"{goodput:.1%} of the limit after the warm-up"
    assert result.refused_share < 0.05, f"{result.refused_share:.1%} refused"
    # Start-up costs two pauses (the burst, the search) and a first probe: bounded.
    assert result.goodput(0.0, MINUTE) / rate >= 0.85


def test_after_a_pause_the_host_resumes_at_the_limit_and_holds_it() -> None:
    result = fetch(20.0)
    paced = [ch for ch in result.changes if ch.new_rate != ch.old_rate]
    resumed = [ch.new_rate or 0.0 for ch in paced if ch.pause is not None]
    assert 3 <= len(resumed) <= 5, "every pause costs a second: they must be rare"
    # after the burst: within a few percent of the limit (a hold is too short for a few
    # percent too many to empty the bucket; a refusal during it lowers the estimate)
    assert all(19.0 <= r <= 20.5 for r in resumed[1:]), resumed
    # past the burst and the search, the estimate is held before the rate rises again
    raised_after_pause = [
        b.reason for a, b in itertools.pairwise(paced) if a.pause and b.pause is None
    ]
    held = raised_after_pause[1:]
    assert held, raised_after_pause
    holds = {f"no throttling for {s:.0f}s" for s in (20, 40, 80)}
    assert all(reason in holds for reason in held), held


def test_each_probe_refused_at_the_estimate_doubles_the_hold() -> None:
    result = fetch(20.0, seconds=300.0)
    paced = [ch for ch in result.changes if ch.new_rate != ch.old_rate]
    holds = [b.reason for a, b in itertools.pairwise(paced) if a.pause and b.pause is None]
    expected = [
        f"no throttling for {format_duration(s)}"
        for s in (HOLD_SECONDS, 2 * HOLD_SECONDS, HOLD_MAX_SECONDS, HOLD_MAX_SECONDS)
    ]
    assert holds[-4:] == expected, holds
    pauses = [ch for ch in paced if ch.pause is not None]
    # the burst, the search, two probes from an estimate that was 1% high, then one probe
    # per hold (20 + 40 + 80 + 80 s); with fixed 20 s holds it would be 14
    assert len(pauses) <= 9, [str(ch) for ch in pauses]
    assert result.goodput(WARM_UP, 300.0) / 20.0 >= 0.95


@pytest.mark.parametrize("lateness", [0.002, 0.005])
def test_late_wake_ups_do_not_lower_the_rate_sent(lateness: float) -> None:
    result = simulate(
        TokenBucket(100.0, 5, retry_after=True),
        seconds=MINUTE,
        latency=0.005,
        jitter=0.015,
        lateness=lateness,
    )
    assert result.goodput(WARM_UP, MINUTE) / 100.0 >= 0.93
    assert result.refused_share < 0.01


def reached(result: SimResult, goodput: float, since: float) -> float:
    """Return how long after ``since`` the goodput over 2 s first reached ``goodput``."""
    t = since + 2.0
    while t <= result.seconds:
        if result.goodput(t - 2.0, t) >= goodput:
            return t - since
        t += 0.25
    return float("inf")


@pytest.mark.parametrize("raised_at", [15.0, 27.5, 40.0, 120.0])
def test_rate_recovers_upward_when_the_limit_is_raised(raised_at: float) -> None:
    # 27.5 s: just as a probe is refused, so that a whole hold comes first; 120 s: during
    # the longest hold
    found_within = HOLD_MAX_SECONDS + 15.0
    result = fetch(20.0, seconds=raised_at + found_within + 5.0, limit_changes=((raised_at, 40.0),))
    assert reached(result, 0.8 * 40.0, raised_at) <= found_within
    assert result.refused_share < 0.05


def test_rate_comes_down_when_the_limit_is_lowered() -> None:
    result = fetch(40.0, seconds=80.0, limit_changes=((25.0, 20.0),))
    assert result.goodput(45.0, 80.0) >= 0.92 * 20.0
    assert result.refused_share < 0.05


def test_adopt_starts_from_a_learned_window_and_rate_clamped() -> None:
    c = HostController(HOST, start=8, floor=1, ceiling=16, rate_floor=0.5)
    c.adopt(40, 10.0)
    assert (c.window, c.rate) == (16, 10.0)
    # Paced from the first start: the next may start one interval later, not before.
    assert c.can_start(0, 0.0)
    c.on_start(0.0)
    assert not c.can_start(1, 0.05)
    assert c.earliest_start(0.05) == pytest.approx(0.1)
    slow = HostController(HOST, start=8, floor=2, ceiling=16, rate_floor=0.5)
    slow.adopt(0, 0.01)
    assert (slow.window, slow.rate) == (2, 0.5)
    unpaced = HostController(HOST, start=8, ceiling=16)
    unpaced.adopt(4, None)
    assert (unpaced.window, unpaced.rate) == (4, None)


def test_a_shared_controller_measures_the_hosts_rate_from_its_part() -> None:
    alone, shared = HostController(HOST), HostController(HOST)
    shared.share = 0.25  # one of four workers on the host
    for c in (alone, shared):
        for i in range(12):
            c.on_start(i * 0.1)
            c.on_success(i * 0.1 + 0.05, i * 0.1)
    assert alone.accepted_rate(1.2) == pytest.approx(10.0, rel=0.1)
    assert shared.accepted_rate(1.2) == pytest.approx(40.0, rel=0.1)
