"""What the fault knobs do to one request: decided here, carried out by the server.

Rules:
- :class:`FaultEngine` holds the live :class:`FaultConfig`, one seeded ``random.Random``
  and the per-file request counters; it makes decisions and does no I/O.
- The order of checks for a request is fixed: fail path, then rate limit, then random
  503 (:meth:`FaultEngine.refusal`); then, for an admitted file request, whether the file
  gets new content (:meth:`FaultEngine.changes`); then how its body is mangled
  (:meth:`FaultEngine.body_plan`). The same seed and the same sequence of requests give
  the same decisions.
- ``change_every = N``: requests 1..N of a file see its current content, request N+1
  sees a new generation, and so on (requests refused earlier are not counted).
- The current time is passed in. Configuring anew reseeds the generator, refills the rate
  limiter and restarts the per-file request counts.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.throttle import RequestLimiter


@dataclass(frozen=True)
class Refusal:
    """An error answer instead of the resource.

    Parameters
    ----------
    status : int
        HTTP status code.
    reason : str
        Why: ``"fail-path"``, ``"rate-limited"`` or ``"unavailable"``.
    headers : dict of str to str
        Extra headers (``Retry-After``).
    """

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BodyPlan:
    """How to mangle one response body.

    Parameters
    ----------
    drop_after : int or None
        Close the connection after this many body bytes (less than the body's length).
    corrupt_at : tuple of int
        Body offsets whose byte is inverted.
    bandwidth : int or None
        Bytes per second to pace the body at.
    """

    drop_after: int | None = None
    corrupt_at: tuple[int, ...] = ()
    bandwidth: int | None = None

    @property
    def is_clean(self) -> bool:
        """Whether the body goes out untouched and unpaced (so ``sendfile`` may send it)."""
        return self.drop_after is None and not self.corrupt_at and self.bandwidth is None


class FaultEngine:
    """Decide, request by request, which faults strike.

    Parameters
    ----------
    config : FaultConfig
        The knobs.
    now : float
        The current time in seconds (for the rate limiter).
    """

    def __init__(self, config: FaultConfig, now: float) -> None:
        self.configure(config, now)

    @property
    def config(self) -> FaultConfig:
        """The knobs in force."""
        return self._config

    def configure(self, config: FaultConfig, now: float) -> None:
        """Put new knobs in force: reseed, refill the rate limiter, restart the counts."""
        self._config = config
        self._random = random.Random(config.seed)
        self._requests: Counter[str] = Counter()
        self._limiter = (
            RequestLimiter(config.rate_limit, config.burst, now)
            if config.rate_limit is not None
            else None
        )

    def refusal(self, path: str, now: float) -> Refusal | None:
        """Decide whether to refuse a request for ``path`` arriving at ``now``.

        Parameters
        ----------
        path : str
            Archive path (or URL path, for API requests).
        now : float
            Arrival time in seconds.

        Returns
        -------
        Refusal or None
            The error to answer with, or None to serve the request.
        """
        config = self._config
        status = config.fail_paths.get(path)
        if status is not None:  # a throttle says when to come back, if told what to say
            wait = _retry_after(config.retry_after if status in (429, 503) else None)
            return Refusal(status, "fail-path", wait)
        if self._limiter is not None and not self._limiter.admit(now):
            return Refusal(429, "rate-limited", _retry_after(config.retry_after))
        if config.p503 > 0 and self._random.random() < config.p503:
            return Refusal(503, "unavailable", _retry_after(config.retry_after_503))
        return None

    def changes(self, path: str) -> bool:
        """Count an admitted request for ``path``; True if the file gets new content first."""
        config = self._config
        self._requests[path] += 1
        if config.change_every is not None and self._requests[path] > config.change_every:
            self._requests[path] = 1
            return True
        return config.p_change > 0 and self._random.random() < config.p_change

    def body_plan(self, length: int) -> BodyPlan:
        """Decide how to mangle a body of ``length`` bytes.

        Parameters
        ----------
        length : int
            Bytes the response is going to send.

        Returns
        -------
        BodyPlan
            The mangling; :attr:`BodyPlan.is_clean` when no knob strikes.
        """
        config = self._config
        drop_after = None
        if (
            config.drop_after is not None
            and config.drop_after < length
            and (config.p_drop >= 1 or self._random.random() < config.p_drop)
        ):
            drop_after = config.drop_after
        corrupt_at: tuple[int, ...] = ()
        if config.corrupt > 0 and length > 0 and self._random.random() < config.corrupt:
            count = min(length, self._random.randint(1, 4))
            corrupt_at = tuple(sorted(self._random.sample(range(length), count)))
        return BodyPlan(drop_after, corrupt_at, config.bandwidth)


def _retry_after(seconds: float | None) -> dict[str, str]:
    # Retry-After takes whole seconds (RFC 9110 §10.2.3): round up.
    return {} if seconds is None else {"Retry-After": str(math.ceil(seconds))}
