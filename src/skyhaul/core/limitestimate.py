"""Estimate a server's request-rate limit from its Retry-After refusals, and how long to hold it.

Rules:
- Pure: the host controller tells the estimator when requests start and when its pacing
  rate changes, with the time, and asks it for the rate to resume at after a refusal that
  came with ``Retry-After``. It never sleeps or reads a clock.
- Each refusal finds the server's bucket empty, and it never holds more than the BURST
  (the successes of the first, unpaced burst), so since the start of any rate step the
  server refilled what the requests started since then took beyond the burst, give or
  take ``SLACK_TOKENS``. Requests are counted when they start, not when answered, so
  that those still on their way count too.
- The highest such rate over the steps since the last pause is the ESTIMATE of the
  limit; it only rises, unless a rate at or under it is refused (the limit fell, or the
  estimate was too high), or a refused probe shows a limit ``RAISED_MARGIN`` above it
  (the limit was raised). No estimate when no step shows more requests than the burst.
- The estimate is PRECISE when a long step (``PRECISE_SECONDS``, ``PRECISE_BURSTS``
  bursts beyond the burst) shows about as much (``PRECISE_AGREEMENT``), or when it has
  just stood a probe.
- The host resumes at ``RESUME_MARGIN`` x the estimate and holds a precise one for
  ``HOLD_SECONDS`` before probing above it; each probe refused near the estimate doubles
  the hold, up to ``HOLD_MAX_SECONDS``. A new or raised estimate starts over from
  ``HOLD_SECONDS``.
- The constants were tuned with the token-bucket simulation in ``tests/core/ratesim.py``.
"""

from __future__ import annotations

import math
from collections import deque

RESUME_MARGIN = 0.99
"""With Retry-After, resume at this fraction of the estimated limit."""
PRECISE_BURSTS = 2
PRECISE_SECONDS = 1.0
PRECISE_AGREEMENT = 0.05
"""An estimate that a step of at least ``PRECISE_SECONDS`` with ``PRECISE_BURSTS`` bursts
of requests beyond the burst shows within ``PRECISE_AGREEMENT`` is held; shorter steps
(a search step) are several percent off."""
HOLD_SECONDS = 20.0
"""With Retry-After, hold a precise estimate this long before probing above it."""
HOLD_MAX_SECONDS = 80.0
"""Each probe refused near the estimate doubles the hold, up to this: at most one pause
a minute and more, and a raised limit is still found within about a minute and a half."""
RAISED_MARGIN = 0.03
"""A refused probe showing a limit this much above the estimate means it was raised."""
SLACK_TOKENS = 1.0
"""Tokens added to what the requests took beyond the burst: the server's bucket is taken
to be half a token short of full when a step starts (a request took the last token a
fraction of a slot earlier) and half a token from empty when it refuses."""
_STEPS_KEPT = 64  # rate steps since the last pause: a hold and a few probes
_RECENT_STARTS = 256  # more than can start between a refused request and its answer


class LimitEstimator:
    """The estimated request-rate limit of one host that refuses with Retry-After.

    Attributes
    ----------
    estimate : float or None
        The server's limit in requests per second, as its refusals show it; ``None``
        until a refusal shows one, or after a throttle without Retry-After.
    hold_until : float
        Time before which the rate is held at the estimate; ``-inf`` when not held.
    """

    def __init__(self) -> None:
        self.estimate: float | None = None
        self.hold_until = -math.inf
        self._precise = False
        self._hold = HOLD_SECONDS
        self._starts = 0  # every request started
        self._recent_starts: deque[float] = deque(maxlen=_RECENT_STARTS)
        self._steps: deque[tuple[float, int]] = deque(maxlen=_STEPS_KEPT)  # (start, starts)

    def holding(self, now: float) -> bool:
        """Tell whether the rate is still held at the estimate at ``now``."""
        return now < self.hold_until

    def on_start(self, now: float) -> None:
        """A request starts now."""
        self._starts += 1
        self._recent_starts.append(now)

    def on_step(self, now: float) -> None:
        """The pacing rate changes at ``now``: a new rate step starts."""
        self._steps.append((now, self._starts))

    def on_throttle(self, resume: float) -> None:
        """After a throttle, the steps start over with one that starts at ``resume``."""
        self._steps.clear()
        self.on_step(resume)

    def forget(self) -> None:
        """Drop the estimate and its hold (a throttle without Retry-After)."""
        self.estimate, self.hold_until = None, -math.inf

    def resume_rate(
        self, rate: float, refused_at: float, resume: float, burst: int
    ) -> float | None:
        """Return the rate to resume at after a Retry-After pause, and set the hold.

        Parameters
        ----------
        rate : float
            Requests per second the host was paced at when refused.
        refused_at : float
            When the refused request started.
        resume : float
            When the pause ends (the hold counts from then).
        burst : int
            Tokens the server's bucket holds at most (successes of the first burst).

        Returns
        -------
        float or None
            ``RESUME_MARGIN`` x the estimate (or the rate, if lower); ``None`` when there
            is no estimate: refused before the server let more than its burst through,
            far too fast.
        """
        found = self._bucket_estimate(refused_at, burst)
        if self.estimate is None or rate <= self.estimate:
            # Refused at or under the estimate: it was too high, or the limit fell.
            self.estimate, self._precise = found or (None, False)
            self._hold = HOLD_SECONDS
        elif found is not None and found[0] > self.estimate * (1.0 + RAISED_MARGIN):
            self.estimate, self._precise = found  # the limit was raised
            self._hold = HOLD_SECONDS
        else:
            # A probe above the estimate was refused: it stands. Each time it does, it is
            # held twice as long before the next probe, whose refusal costs a whole pause.
            if self._precise:
                self._hold = min(HOLD_MAX_SECONDS, 2.0 * self._hold)
            if found is not None:
                self.estimate = max(self.estimate, found[0])
            self._precise = True
        if self.estimate is None:
            self.hold_until = -math.inf
            return None
        self.hold_until = resume + self._hold if self._precise else -math.inf
        return RESUME_MARGIN * min(self.estimate, rate)

    def _bucket_estimate(self, refused_at: float, burst: int) -> tuple[float, bool] | None:
        """Return the server's limit as its bucket shows it, and whether it is precise.

        The refusal of the request started at ``refused_at`` found the bucket empty; at the
        start of each rate step since the pause it held at most the burst, so the server
        refilled what the requests started since then took beyond the burst, and about
        ``SLACK_TOKENS`` more.
        Requests are counted when they start, not when answered, so that those still on
        their way count too. The step that shows the highest rate counts; ``None`` when
        none shows more requests than the burst. It is precise when a long step (see
        ``PRECISE_SECONDS``) shows about as much.
        """
        started = self._starts - sum(1 for t in self._recent_starts if t >= refused_at)
        best: float | None = None
        steady: list[float] = []  # shown by long steps: a short one may be a few % off
        for start, before in self._steps:
            seconds = refused_at - start
            beyond = started - before - burst
            if seconds > 0 and beyond >= 1:
                limit = (beyond + SLACK_TOKENS) / seconds
                best = limit if best is None else max(best, limit)
                if seconds >= PRECISE_SECONDS and beyond >= PRECISE_BURSTS * burst:
                    steady.append(limit)
        if best is None:
            return None
        return best, any(limit >= (1.0 - PRECISE_AGREEMENT) * best for limit in steady)
