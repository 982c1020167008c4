"""Time-based throttles of the simulator: a request-rate limiter and a body pacer.

Rules:
- Both take the current time as an argument (seconds, any monotonic origin) and never
  sleep: they answer "admit or not" and "how long to wait"; the caller sleeps.
- :class:`RequestLimiter` behaves as nginx ``limit_req`` with ``nodelay``: a token bucket
  of ``burst + 1`` tokens refilled at ``rate`` per second, full at the start; a request
  takes one token or is refused, and refused requests take nothing.
- :class:`Pacer` holds a body to ``bandwidth`` bytes per second on average, measured from
  the start: the chunk that ends at byte ``n`` is written ``n / bandwidth`` seconds after
  the start, not earlier.
"""

from __future__ import annotations

_EPSILON = 1e-9


class RequestLimiter:
    """Admit requests at ``rate`` per second with ``burst`` extra back to back.

    Parameters
    ----------
    rate : float
        Requests per second admitted in the long run; greater than zero.
    burst : int
        Requests admitted above the rate when the bucket is full.
    now : float
        The current time in seconds.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(burst + 1)
        self._tokens = self.capacity
        self._last = now

    def admit(self, now: float) -> bool:
        """Take a token if one is available at time ``now``.

        Parameters
        ----------
        now : float
            The current time in seconds (never earlier than a previous call's).

        Returns
        -------
        bool
            True if the request is admitted, False if it must be refused (429).
        """
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0 - _EPSILON:  # tolerate float error in the refill
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def wait(self) -> float:
        """Seconds from the last :meth:`admit` until a token is available (for a
        ``Retry-After``); zero when one is available now."""
        return max(0.0, (1.0 - self._tokens) / self.rate)


class Pacer:
    """Space out the chunks of one body so that it flows at ``bandwidth`` bytes/s.

    Parameters
    ----------
    bandwidth : int
        Bytes per second; greater than zero.
    now : float
        The time the body starts, in seconds.
    """

    def __init__(self, bandwidth: int, now: float) -> None:
        self.bandwidth = bandwidth
        self._start = now
        self._sent = 0

    def delay(self, nbytes: int, now: float) -> float:
        """Reserve ``nbytes`` and return how long to wait before writing them.

        Parameters
        ----------
        nbytes : int
            Size of the chunk about to be written.
        now : float
            The current time in seconds.

        Returns
        -------
        float
            Seconds to wait before writing (zero when the body is behind its pace).
        """
        self._sent += nbytes
        due = self._start + self._sent / self.bandwidth
        return max(0.0, due - now)
