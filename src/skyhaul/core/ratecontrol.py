"""Per-host adaptive concurrency and request pacing (AIMD, like TCP and FTS3's optimizer).

Rules:
- Pure: the engine tells the controller when requests start, succeed and fail, with the
  time, and asks whether another request may start. It never sleeps or reads a clock.
- Concurrency window: +1 after each full window of successes (``increase_after``), up to
  ``ceiling``; halved, not below ``floor``, on congestion. A throttle (429, or 503 with
  Retry-After) is congestion. A 503 without Retry-After, a read timeout or a dropped
  connection may be congestion or a random fault: it counts only when such failures are
  a large share of the host's recent answers (``CONGESTED_SHARE`` of the last
  ``RECENT_ANSWERS``, at least ``CONGESTED_AT_LEAST`` of them). Random faults stay a
  small, steady share whatever the rate; an overloaded server's refusals and timeouts
  grow with it. The file that failed is retried either way (the retry policy's
  business). Other failures (404, integrity, disk) say nothing about load and change
  nothing.
- One decrease per congestion epoch: a failure of a request that started before the last
  decrease echoes the same congestion (16 concurrent 429s are one signal, not 16).
- ``Retry-After`` pauses the whole host until ``now + retry_after``. No request waits for
  a pause longer than ``max_pause`` (``MAX_PAUSE_SECONDS`` by default): ``refusal`` says
  so, and the request fails at once with the time left (its file ends FAILED, due when
  the pause ends). A server asking for years would otherwise hold every request to it
  for years; and cutting the pause short would ask again a server that said not to.
- Pacing, because a window cannot keep fast responses under a request rate (nginx
  ``limit_req`` refuses with 429 or 503 once its bucket of ``burst + 1`` tokens is
  empty): every throttle paces requests ``1 / rate`` apart, on a schedule anchored at
  the first paced start, so that a start the event loop woke late for is made up by the
  next (by up to ``LATE_CREDIT_SLOTS``, within the server's burst) instead of lowering
  the rate sent. The rate then moves through phases:

  * SEARCH, after the first throttle: the unpaced burst emptied the server's bucket, so
    the rate starts from a guess and doubles every clean ``SEARCH_STEP``.
  * Without Retry-After a refusal costs one request, and the rate may cross the limit
    often. REFINE, after the search overshoots: back to the last rate that went through
    (or just under the measured accepted rate if higher), then x``REFINE_FACTOR`` per
    step. PROBE, after that: ``RESET_MARGIN`` x the accepted rate (successes per second
    over the last ``SAMPLE_COUNT`` successes within ``SAMPLE_SECONDS``; half the rate
    when too few to tell), then ``+max(PROBE_MIN, PROBE_GAIN * rate)`` per clean
    ``PROBE_STEP``. Every later throttle resets it the same way.
  * With Retry-After a refusal costs a whole pause, so the rate must settle just under
    the limit and cross it rarely. A search step also waits for ``SEARCH_BURSTS``
    bursts of successes, so that twice the limit is refused before the next doubling.
    Each refusal updates the ESTIMATE of the server's limit, from the requests started
    per rate step beyond the BURST (the successes of the first, unpaced burst: the
    depth of the server's bucket); see ``skyhaul.core.limitestimate``. The host resumes
    in PROBE just under the estimate, holds that rate as long as the estimator says,
    then probes by ``PROBE_GAIN`` x the rate per clean ``PROBE_STEP``, doubling the
    gain every step, so that a raised limit is found within seconds of the hold's end.

  The rate never goes below ``rate_floor`` and only grows while pacing is what holds
  requests back. The constants were tuned with the token-bucket simulation in
  ``tests/core/ratesim.py``.
- Every change is returned as a ``WindowChange`` with its reason, for the log; no change
  returns ``None``.
- ``adopt`` starts a controller from a window and rate learned earlier (by another
  worker): clamped to its floor, ceiling and ``rate_floor``, in PROBE, so a limit raised
  since is still found.
- Several workers sharing one host's pace: ``share`` is the part of the host's requests
  this controller sends (1 alone). Its rate stays the host's; what it measures of its own
  requests is scaled up by it (accepted rate, the first burst's rate, whether pacing
  holds it back), so each worker learns the host's limit, not its own part of it.
"""

from __future__ import annotations

import math
from collections import deque
from enum import Enum

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.limitestimate import HOLD_MAX_SECONDS as HOLD_MAX_SECONDS
from skyhaul.core.limitestimate import HOLD_SECONDS as HOLD_SECONDS
from skyhaul.core.limitestimate import LimitEstimator
from skyhaul.core.units import format_duration, format_seconds
from skyhaul.core.windowchange import WindowChange as WindowChange

SAMPLE_SECONDS = 2.0
"""Successes older than this do not count towards the accepted rate."""
SAMPLE_COUNT = 20
"""The accepted rate uses at most this many recent successes, so that it follows a rate
that has just ramped up instead of averaging the ramp."""
RELIABLE_COUNT = 10
RELIABLE_SECONDS = 0.5
"""The accepted rate is trusted from ``RELIABLE_COUNT`` successes, or fewer spanning
``RELIABLE_SECONDS``."""
RESET_MARGIN = 0.9
"""After a throttle without Retry-After, pace at this fraction of the accepted rate, so
that the server's bucket refills a little before probing starts again."""
FIRST_GUESS_SECONDS = 0.1
"""First rate: the successes of the unpaced burst as if they took this long."""
SEARCH_STEP = 0.1
"""Seconds without a throttle (and at least one success) per doubling or refine step."""
REFINE_FACTOR = 1.25
PROBE_STEP = 1.0
PROBE_GAIN = 0.05
PROBE_MIN = 0.02
SEARCH_BURSTS = 2
"""With Retry-After, a search step also waits for this many bursts of successes."""
LATE_CREDIT_SLOTS = 1.0
"""A paced start may follow a late one this many slots early (never more than the
server's burst less one), so that the rate sent keeps to the rate set."""
MAX_PAUSE_SECONDS = 600.0
"""The longest pause a request waits for, by default (``HostController.max_pause``)."""
_BINDING_SLOTS = 1.5  # starts closer than this many slots apart mean pacing holds them back

RECENT_ANSWERS = 32
"""Answers (successes and failures that may be congestion) remembered per host."""
CONGESTED_SHARE = 0.25
"""Share of those that must be 503s without Retry-After, timeouts or dropped connections
for them to mean congestion: 5% of random faults stays far below it."""
CONGESTED_AT_LEAST = 4
"""...and at least this many of them, so that the first few answers decide nothing."""

_MAYBE_CONGESTION = frozenset({ErrorClass.READ_TIMEOUT, ErrorClass.CONNECT})


class _Phase(Enum):
    SEARCH = "search"
    REFINE = "refine"
    PROBE = "probe"


def _failure_text(error_class: ErrorClass, status: int | None) -> str:
    if status is not None:
        return str(status)
    return {
        ErrorClass.THROTTLED: "throttled",
        ErrorClass.READ_TIMEOUT: "read timeout",
        ErrorClass.CONNECT: "connection failed",
    }.get(error_class, str(error_class))


class HostController:
    """Adaptive concurrency window and request pacing of one remote host.

    Parameters
    ----------
    host : str
        Host name, for the log.
    start : int
        Initial concurrency window.
    floor : int
        Smallest window (``1 <= floor <= start``).
    ceiling : int
        Largest window: the hard cap per host.
    increase_after : int or None
        Successes needed per +1; ``None`` means the current window (one full window of
        successes, like TCP congestion avoidance).
    rate_floor : float
        Slowest pacing, in requests per second.
    max_pause : float
        Longest pause a request waits for, in seconds; a longer one refuses it.

    Attributes
    ----------
    window : int
        Requests that may be in flight at once now.
    rate : float or None
        Requests per second the host is paced at; ``None`` while unpaced (until the
        first throttle).
    paused_until : float
        Time before which no request may start (``Retry-After``); ``-inf`` when none.
    """

    def __init__(
        self,
        host: str,
        *,
        start: int = 4,
        floor: int = 1,
        ceiling: int = 16,
        increase_after: int | None = None,
        rate_floor: float = 0.5,
        max_pause: float = MAX_PAUSE_SECONDS,
    ) -> None:
        if not 1 <= floor <= start <= ceiling:
            raise ValueError(
                f"need 1 <= floor <= start <= ceiling, got {floor}, {start}, {ceiling}"
            )
        if increase_after is not None and increase_after < 1:
            raise ValueError(f"increase_after must be >= 1, got {increase_after}")
        if not rate_floor > 0:
            raise ValueError(f"rate_floor must be > 0, got {rate_floor}")
        if not max_pause >= 0:
            raise ValueError(f"max_pause must be >= 0, got {max_pause}")
        self.host = host
        self.window = start
        self.floor = floor
        self.ceiling = ceiling
        self.increase_after = increase_after
        self.rate_floor = rate_floor
        self.max_pause = max_pause
        self.rate: float | None = None
        self.paused_until = -math.inf
        self._successes = 0  # since the window last changed
        self._last_decrease = -math.inf
        self._last_start = -math.inf
        self._slot = -math.inf  # the next paced slot
        self._anchor = True  # the next paced start anchors the schedule anew
        self._binding = False  # the last start waited for its paced slot
        self._phase = _Phase.PROBE
        self._rate_changed_at = -math.inf
        self._since_rate_change = 0  # successes
        self._samples: deque[float] = deque(maxlen=SAMPLE_COUNT)  # success times
        self._paced_since = -math.inf
        self._told_to_wait = False  # the last throttle came with Retry-After
        self._burst = 1  # successes of the first, unpaced burst: the server's bucket depth
        self._burst_end = -math.inf  # start of the first refused request
        self._limit = LimitEstimator()  # of the server's limit (Retry-After)
        self._gain = PROBE_GAIN
        self._recent: deque[bool] = deque(maxlen=RECENT_ANSWERS)  # True: a failure
        self._recent_failures = 0
        self.share = 1.0
        """The part of the host's requests this controller sends (workers sharing a pace)."""

    # --- asking ------------------------------------------------------------------------

    def earliest_start(self, now: float) -> float:
        """Return the earliest time a request may start: after any pause and paced slot.

        A value ``<= now`` means a request may start now, if the window has room.
        """
        earliest = max(now, self.paused_until)
        if self.rate is not None:
            earliest = max(earliest, self._slot)
        return earliest

    def refusal(self, now: float) -> float | None:
        """Return the seconds the host stays paused, when that is longer than ``max_pause``.

        A request is not held that long: it fails at once. None: it may wait.
        """
        left = self.paused_until - now
        return left if left > self.max_pause else None

    def can_start(self, in_flight: int, now: float) -> bool:
        """Tell whether one more request may start now with ``in_flight`` running."""
        return in_flight < self.window and self.earliest_start(now) <= now

    def accepted_rate(self, now: float) -> float | None:
        """Return the successes per second the host recently accepted, if known.

        Measured over the last ``SAMPLE_COUNT`` successes within ``SAMPLE_SECONDS``, as
        ``n - 1`` intervals over the time from the first of them to ``now``; ``None``
        until there are ``RELIABLE_COUNT`` of them or they span ``RELIABLE_SECONDS``.
        Successes of requests started before pacing started (the server's burst) or before
        the last pause ended are not counted.
        """
        recent = [t for t in self._samples if t > now - SAMPLE_SECONDS]
        if len(recent) < 2:
            return None
        span = now - recent[0]
        if span <= 0 or (len(recent) < RELIABLE_COUNT and span < RELIABLE_SECONDS):
            return None
        return (len(recent) - 1) / span / self.share

    def adopt(self, window: int, rate: float | None) -> None:
        """Start from ``window`` and ``rate`` learned earlier, before any request.

        The window is clamped to ``[floor, ceiling]``; a rate is raised to ``rate_floor``
        and probed from (PROBE phase), None leaves the host unpaced.
        """
        self.window = min(self.ceiling, max(self.floor, window))
        if rate is not None and rate > 0 and not math.isinf(rate):
            self.rate = max(self.rate_floor, rate)
            self._phase = _Phase.PROBE
            self._anchor = True

    # --- telling -----------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        """A request starts now (it takes the current paced slot)."""
        if self.rate is not None:
            interval = 1.0 / self.rate
            # Sharing the pace, this worker's own starts are 1/share slots apart.
            self._binding = now - self._last_start <= _BINDING_SLOTS * interval / self.share
            if self._anchor:
                self._slot, self._anchor = now + interval, False
            else:
                # A start later than its slot (the event loop woke late) may be made up
                # by the next ones, as far as the server's own burst allows; otherwise
                # every late wake-up would lower the rate actually sent.
                credit = min(LATE_CREDIT_SLOTS, self._burst - 1) * interval
                self._slot = max(self._slot, now - credit) + interval
        self._last_start = now
        self._limit.on_start(now)

    def on_success(self, now: float, started_at: float) -> WindowChange | None:
        """A request that started at ``started_at`` succeeded at ``now``."""
        if started_at >= self._paced_since:
            self._samples.append(now)
        elif started_at <= self._burst_end:
            self._burst += 1  # a late answer of the first burst
        self._remember(failed=False)
        self._since_rate_change += 1
        self._successes += 1
        old_window, old_rate = self.window, self.rate
        reasons: list[str] = []
        needed = self.increase_after or self.window
        if self._successes >= needed and self.window < self.ceiling:
            self.window += 1
            self._successes = 0
            reasons.append(f"{needed} successes")
        if self.rate is not None and self._binding:
            raised = self._raise_rate(now, self.rate)
            if raised:
                reasons.append(raised)
        if not reasons:
            return None
        return WindowChange(
            self.host, old_window, self.window, ", ".join(reasons), old_rate, self.rate
        )

    def on_failure(
        self,
        error_class: ErrorClass,
        *,
        now: float,
        started_at: float,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> WindowChange | None:
        """A request that started at ``started_at`` failed at ``now``.

        Parameters
        ----------
        error_class : ErrorClass
            Why it failed; only congestion classes change anything.
        now, started_at : float
            When it failed and when it started (for the one-decrease-per-epoch rule).
        status : int or None
            HTTP status, when there was one (a SERVER 503 counts as congestion).
        retry_after : float or None
            Seconds the server asked us to wait: the host pauses that long, and resumes
            paced under the server's estimated limit.
        """
        told = retry_after is not None and retry_after > 0
        unavailable = error_class is ErrorClass.SERVER and status == 503
        if error_class is ErrorClass.THROTTLED or (unavailable and told):
            throttle = True
        elif unavailable or error_class in _MAYBE_CONGESTION:
            self._remember(failed=True)
            if not self._congested():
                return None  # a random fault, as far as the recent answers tell
            throttle = unavailable
        else:
            return None
        old_window, old_rate = self.window, self.rate
        reason = _failure_text(error_class, status)
        pause: float | None = None
        if retry_after is not None and retry_after > 0:
            pause = retry_after
            self.paused_until = max(self.paused_until, now + retry_after)
            reason += f", Retry-After {format_seconds(retry_after)}"
        if started_at >= self._last_decrease:
            self.window = max(self.floor, self.window // 2)
            self._successes = 0
            self._last_decrease = now
            # A 503 with Retry-After says "unavailable for a while" (maintenance, overload),
            # not "too fast": it pauses the host but sets no pace, or random refusals would
            # pin the rate down long after the server recovered.
            if throttle and not (pause is not None and status == 503):
                self._slow_down(now, started_at, told_to_wait=pause is not None)
        if pause is None and (self.window, self.rate) == (old_window, old_rate):
            return None
        return WindowChange(self.host, old_window, self.window, reason, old_rate, self.rate, pause)

    def _remember(self, *, failed: bool) -> None:
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._recent_failures -= 1
        self._recent.append(failed)
        self._recent_failures += failed

    def _congested(self) -> bool:
        """True when failures that may be congestion are a large share of recent answers."""
        failures = self._recent_failures
        return failures >= CONGESTED_AT_LEAST and failures >= CONGESTED_SHARE * len(self._recent)

    # --- pacing ------------------------------------------------------------------------

    def _slow_down(self, now: float, started_at: float, *, told_to_wait: bool) -> None:
        """Pace after a throttle that opens a new epoch (moves phase)."""
        resume = max(now, self.paused_until)
        if self.rate is None:
            self._burst_end = started_at
            rate = self._first_rate(now)
        elif told_to_wait:
            rate = self._resume_rate(self.rate, started_at, resume)
        else:
            rate = self._paced_rate(self.rate, now)
            self._limit.forget()
        self.rate = max(self.rate_floor, rate)
        # A slower rate holds from the last start on; no late start is made up across it.
        self._slot, self._anchor = self._last_start + 1.0 / self.rate, True
        self._told_to_wait = told_to_wait
        self._gain = PROBE_GAIN
        self._rate_changed_at = resume
        self._since_rate_change = 0
        if told_to_wait:
            # Successes of requests started before the pause ended straddle it.
            self._samples.clear()
            self._paced_since = resume
        self._limit.on_throttle(resume)

    def _raise_rate(self, now: float, rate: float) -> str | None:
        """Raise the rate after a clean step, as the phase allows; return the reason."""
        clean = now - self._rate_changed_at
        if self._limit.holding(now):
            return None
        if self._phase is _Phase.PROBE:
            if clean < PROBE_STEP:
                return None
            self.rate = rate + max(PROBE_MIN, self._gain * rate)
            if self._told_to_wait:
                self._gain = min(1.0, 2 * self._gain)
        else:
            needed = SEARCH_BURSTS * self._burst if self._told_to_wait else 1
            if clean < SEARCH_STEP or self._since_rate_change < needed:
                return None
            self.rate = rate * (2.0 if self._phase is _Phase.SEARCH else REFINE_FACTOR)
        self._rate_changed_at = now
        self._since_rate_change = 0
        self._limit.on_step(now)
        return f"no throttling for {format_duration(clean)}"

    def _first_rate(self, now: float) -> float:
        """Return the rate to search from after the first throttle, which ends the burst."""
        recent = sum(1 for t in self._samples if t > now - SAMPLE_SECONDS)
        # The burst says how deep the server's bucket is, not its rate: from now on only
        # requests started while paced count.
        self._burst = max(1, recent)
        self._samples.clear()
        self._paced_since = now
        self._phase = _Phase.SEARCH
        return self._burst / self.share / FIRST_GUESS_SECONDS

    def _paced_rate(self, rate: float, now: float) -> float:
        """Return the rate to pace at after a throttle without Retry-After (moves phase)."""
        if self._phase is _Phase.SEARCH and not self._samples:
            # Refused before any paced request got through: the server's bucket is still
            # empty from the burst, which says little about its rate. Keep searching.
            return rate / 2
        measured = self.accepted_rate(now)
        if self._phase is _Phase.SEARCH:
            # The previous doubling went through: the limit is about half of this or more.
            self._phase = _Phase.REFINE
            if measured is None:
                return rate / 2
            return max(rate / 2, RESET_MARGIN * min(measured, rate))
        if self._phase is _Phase.REFINE and measured is None:
            # Not enough data yet, but the step before this one went through.
            self._phase = _Phase.PROBE
            return RESET_MARGIN * rate / REFINE_FACTOR
        self._phase = _Phase.PROBE
        if measured is None:
            return rate / 2
        return RESET_MARGIN * min(measured, rate)

    def _resume_rate(self, rate: float, refused_at: float, resume: float) -> float:
        """Return the rate to resume at after a Retry-After pause (moves phase)."""
        limited = self._limit.resume_rate(rate, refused_at, resume, self._burst)
        if limited is None:
            # Refused before the server let more than its burst through: far too fast.
            return rate / 2
        self._phase = _Phase.PROBE
        return limited
