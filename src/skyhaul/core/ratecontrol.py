"""Per-host adaptive concurrency and request pacing (AIMD, like TCP and FTS3's optimizer).

Rules:
- The controller is pure: the engine tells it when requests start, succeed and fail, with
  the time, and asks it whether another request may start. It never sleeps.
- Concurrency window: +1 after each full window of successes (``increase_after``), up
  to ``ceiling``; halved, not below ``floor``, on congestion: THROTTLED (429, 503 with
  Retry-After), SERVER with status 503, READ_TIMEOUT and CONNECT. Other failures (404,
  integrity, disk) say nothing about load and change nothing.
- One decrease per congestion epoch: a failure of a request that started before the last
  decrease is an echo of the same congestion (16 concurrent 429s are one signal, not 16).
- ``Retry-After`` pauses the whole host until ``now + retry_after``.
- Pacing: a concurrency window cannot keep fast responses under a request rate (nginx
  ``limit_req`` answers 429 or 503 without Retry-After), so a throttle without Retry-After
  starts pacing. The rate is set just under the rate the server recently accepted
  (successes per second over the last ``SAMPLE_COUNT`` successes within
  ``SAMPLE_SECONDS``), else halved; never below ``rate_floor``. After the first throttle,
  while the accepted rate is still unknown, the rate doubles every ``SLOW_START_STEP``
  seconds without throttling (slow start); afterwards it grows by
  ``max(PROBE_MIN, PROBE_GAIN * rate)`` every ``PROBE_STEP`` seconds (probing). The rate
  grows only while pacing is what holds requests back.
- Every change is returned as a ``WindowChange`` with a reason, for the log; no change
  returns ``None``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.units import format_duration

SAMPLE_SECONDS = 2.0
"""Successes older than this do not count towards the accepted rate."""
SAMPLE_COUNT = 20
"""The accepted rate is measured over at most this many recent successes, so it follows a
rate that has just ramped up instead of averaging the ramp."""
RELIABLE_SECONDS = 1.0
"""Fewer than ``SAMPLE_COUNT`` successes are trusted only when they span this long."""
RESET_MARGIN = 0.9
MEASURE_OFFSET = 0
ANCHOR = 0
ANCHOR_SPAN = 0
SS_MIN_SUCCESSES = 1
UNRELIABLE_FACTOR = 0.5
"""After a throttle, pace at this fraction of the accepted rate, so the server's bucket
refills a little before probing starts again."""
FIRST_GUESS_SECONDS = 1.0
SLOW_START_STEP = 0.1
PROBE_STEP = 1.0
PROBE_GAIN = 0.05
PROBE_MIN = 0.5
_BINDING_SLOTS = 1.5  # starts closer than this many slots apart mean pacing holds them back

_CONGESTION = frozenset({ErrorClass.THROTTLED, ErrorClass.READ_TIMEOUT, ErrorClass.CONNECT})


@dataclass(frozen=True, slots=True)
class WindowChange:
    """One change of a host's concurrency window, rate or pause, with its reason.

    Parameters
    ----------
    host : str
        The host it applies to.
    old_window, new_window : int
        Concurrency window before and after (equal when only the rate or pause changed).
    reason : str
        Why, for the log (``"429, Retry-After 2s"``, ``"8 successes"``).
    old_rate, new_rate : float or None
        Pacing in requests per second before and after; ``None`` means unpaced.
    pause : float or None
        Seconds the host is paused for (``Retry-After``), when it is.
    """

    host: str
    old_window: int
    new_window: int
    reason: str
    old_rate: float | None = None
    new_rate: float | None = None
    pause: float | None = None

    @property
    def is_decrease(self) -> bool:
        """Whether the host was slowed down (smaller window, lower rate or a pause)."""
        slower_rate = self.new_rate is not None and (
            self.old_rate is None or self.new_rate < self.old_rate
        )
        return self.new_window < self.old_window or slower_rate or self.pause is not None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.new_window != self.old_window or self.new_rate == self.old_rate:
            parts.append(f"window {self.old_window} -> {self.new_window}")
        if self.new_rate != self.old_rate:
            parts.append(f"rate {_rate_text(self.old_rate)} -> {_rate_text(self.new_rate)}")
        if self.pause is not None:
            parts.append(f"paused {format_duration(self.pause)}")
        return f"{self.host}: {', '.join(parts)} ({self.reason})"


def _rate_text(rate: float | None) -> str:
    return "unpaced" if rate is None else f"{rate:.1f}/s"


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
        Largest window, the hard cap per host.
    increase_after : int or None
        Successes needed per +1; ``None`` means the current window (one full window of
        successes, like TCP congestion avoidance).
    rate_floor : float
        Slowest pacing, in requests per second.
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
    ) -> None:
        if not 1 <= floor <= start <= ceiling:
            raise ValueError(f"need 1 <= floor <= start <= ceiling, got {floor}, {start}, {ceiling}")
        if increase_after is not None and increase_after < 1:
            raise ValueError(f"increase_after must be >= 1, got {increase_after}")
        if not rate_floor > 0:
            raise ValueError(f"rate_floor must be > 0, got {rate_floor}")
        self.host = host
        self.window = start
        self.floor = floor
        self.ceiling = ceiling
        self.increase_after = increase_after
        self.rate_floor = rate_floor
        self.rate: float | None = None
        """Requests per second the host is paced at; ``None`` while unpaced."""
        self.paused_until = -math.inf
        self._successes = 0
        self._last_decrease = -math.inf
        self._last_start = -math.inf
        self._binding = False
        self._slow_start = False
        self._rate_changed_at = -math.inf
        self._samples: deque[float] = deque(maxlen=SAMPLE_COUNT)
        self._anchor = -math.inf
        self._since_change = 0

    # --- asking ------------------------------------------------------------------------

    def earliest_start(self, now: float) -> float:
        """Return the earliest time a request may start: after any pause and paced slot.

        A value ``<= now`` means a request may start now, if the window has room.
        """
        earliest = max(now, self.paused_until)
        if self.rate is not None:
            earliest = max(earliest, self._last_start + 1.0 / self.rate)
        return earliest

    def can_start(self, in_flight: int, now: float) -> bool:
        """Tell whether one more request may start now with ``in_flight`` running."""
        return in_flight < self.window and self.earliest_start(now) <= now

    def accepted_rate(self, now: float) -> float | None:
        """Successes per second the host recently accepted; ``None`` if too few to tell."""
        start = now - SAMPLE_SECONDS
        if ANCHOR:
            start = max(start, self._anchor)
        recent = [t for t in self._samples if t > start]
        if not recent:
            return None
        if len(recent) >= SAMPLE_COUNT:
            span = now - recent[0]
            n = len(recent) - MEASURE_OFFSET
        else:
            span = now - start if ANCHOR_SPAN else now - recent[0]
            n = len(recent) - (0 if ANCHOR_SPAN else MEASURE_OFFSET)
        if span <= 0 or (len(recent) < SAMPLE_COUNT and span < RELIABLE_SECONDS):
            return None
        return n / span

    # --- telling -----------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        """A request starts now (it takes the current paced slot)."""
        if self.rate is not None:
            self._binding = now - self._last_start <= _BINDING_SLOTS / self.rate
        self._last_start = now

    def on_success(self, now: float, started_at: float) -> WindowChange | None:
        """A request that started at ``started_at`` succeeded at ``now``."""
        self._samples.append(now)
        self._since_change += 1
        old_window, old_rate = self.window, self.rate
        reasons: list[str] = []
        self._successes += 1
        needed = self.increase_after or self.window
        if self._successes >= needed and self.window < self.ceiling:
            self.window += 1
            self._successes = 0
            reasons.append(f"{needed} successes")
        if self.rate is not None and self._binding:
            step = SLOW_START_STEP if self._slow_start else PROBE_STEP
            clean = now - self._rate_changed_at
            if clean >= step and (not self._slow_start or self._since_change >= SS_MIN_SUCCESSES):
                if self._slow_start:
                    self.rate *= 2
                else:
                    self.rate += max(PROBE_MIN, PROBE_GAIN * self.rate)
                self._rate_changed_at = now
                self._since_change = 0
                reasons.append(f"no throttling for {format_duration(clean)}")
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
            HTTP status, when there was one (503 counts as congestion).
        retry_after : float or None
            Seconds the server asked us to wait: the host pauses that long.
        """
        throttle = error_class is ErrorClass.THROTTLED or (
            error_class is ErrorClass.SERVER and status == 503
        )
        if not (throttle or error_class in _CONGESTION):
            return None
        old_window, old_rate = self.window, self.rate
        reason = _failure_text(error_class, status)
        pause: float | None = None
        if retry_after is not None and retry_after > 0:
            pause = retry_after
            self.paused_until = max(self.paused_until, now + retry_after)
            reason += f", Retry-After {format_duration(retry_after)}"
        if started_at >= self._last_decrease:
            self.window = max(self.floor, self.window // 2)
            self._successes = 0
            self._last_decrease = now
            if throttle and retry_after is None:
                self._slow_down(now)
        if pause is None and (self.window, self.rate) == (old_window, old_rate):
            return None
        return WindowChange(
            self.host, old_window, self.window, reason, old_rate, self.rate, pause
        )

    def _slow_down(self, now: float) -> None:
        """Pace just under the accepted rate after a throttle without Retry-After."""
        measured = self.accepted_rate(now)
        old = self.rate
        if measured is None:
            if self.rate is None:
                # First throttle and no measurement (the first burst was refused): start
                # from what got through in the last seconds, then double (slow start).
                recent = sum(1 for t in self._samples if t > now - SAMPLE_SECONDS)
                new_rate = recent / FIRST_GUESS_SECONDS
                self._slow_start = True
            else:
                # Too little data to measure: halve, and keep doubling afterwards if we
                # were still searching (right after a refused burst the server's bucket is
                # empty, so an early refusal says little about its rate).
                new_rate = self.rate * (0.5 if self._slow_start else UNRELIABLE_FACTOR)
        else:
            new_rate = RESET_MARGIN * min(measured, self.rate or measured)
            self._slow_start = False
        self.rate = max(self.rate_floor, new_rate)
        self._rate_changed_at = now
        self._since_change = 0
        if ANCHOR == 2 or (ANCHOR == 1 and old is None):
            self._anchor = now
