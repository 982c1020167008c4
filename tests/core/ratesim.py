"""A rate-limited server and an obedient client, to tune and prove ``HostController``.

The server is nginx ``limit_req rate=R burst=B nodelay`` (as ``skyhaul.sim.throttle``):
a bucket of ``B + 1`` tokens, full at the start, refilled at ``R`` per second; a request
takes a token or is refused with 429, and a refused request takes nothing. It refuses
either without Retry-After, as nginx does, or with ``Retry-After: max(1, ceil(seconds
until a token))``, as many APIs do.

The client keeps up to ``workers`` requests in flight as the controller allows; refused
requests go back in its queue. It checks that no request starts while a Retry-After it
was sent is running: the politeness rule of the project.

A discrete-event simulation: no clock, no sleep; service times come from a seeded
generator.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.ratecontrol import HostController, WindowChange

HOST = "archive.example"
_MAX_EVENTS = 1_000_000


class TokenBucket:
    """A server that admits ``rate`` requests per second with ``burst`` more back to back.

    Parameters
    ----------
    rate : float
        Tokens per second.
    burst : int
        The bucket holds ``burst + 1`` tokens and starts full.
    retry_after : bool
        Whether refusals say when a token will be there (``Retry-After``).
    """

    def __init__(self, rate: float, burst: int, *, retry_after: bool) -> None:
        self.rate = rate
        self.capacity = burst + 1.0
        self.sends_retry_after = retry_after
        self._tokens = self.capacity
        self._last = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + self.rate * (now - self._last))
        self._last = now

    def admit(self, now: float) -> bool:
        """Take a token for a request arriving at ``now``, if there is one."""
        self._refill(now)
        if self._tokens >= 1.0 - 1e-9:  # tolerate float error in the refill
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def retry_after(self, now: float) -> float | None:
        """Return the Retry-After of a refusal at ``now`` (whole seconds), if sent."""
        if not self.sends_retry_after:
            return None
        return float(max(1, math.ceil((1.0 - self._tokens) / self.rate)))

    def set_rate(self, now: float, rate: float) -> None:
        """Change the limit from ``now`` on (the operator raised or lowered it)."""
        self._refill(now)
        self.rate = rate


@dataclass(frozen=True, slots=True)
class SimResult:
    seconds: float
    """Simulated time when the run ended."""
    accepted: tuple[float, ...]
    """When each accepted request was answered, in order."""
    refused: int
    changes: tuple[WindowChange, ...]

    def goodput(self, since: float, until: float) -> float:
        """Return the accepted requests per second answered in ``[since, until)``."""
        return sum(since <= t < until for t in self.accepted) / (until - since)

    @property
    def refused_share(self) -> float:
        """Refused requests as a share of all requests answered."""
        return self.refused / (self.refused + len(self.accepted))


def simulate(
    server: TokenBucket,
    *,
    requests: int | None = None,
    seconds: float | None = None,
    workers: int = 16,
    start: int = 4,
    latency: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
    limit_changes: Sequence[tuple[float, float]] = (),
    lateness: float = 0.0,
) -> SimResult:
    """Fetch through a ``HostController`` until ``requests`` succeed or ``seconds`` pass.

    Parameters
    ----------
    server : TokenBucket
        The server, at time 0.
    requests : int or None
        Files to fetch; ``None``: more than the run can fetch.
    seconds : float or None
        Simulated time to stop at; ``None``: when ``requests`` succeeded.
    workers : int
        Requests the client can have in flight; also the window's ceiling.
    start : int
        The window's start.
    latency, jitter : float
        Each request is answered ``latency + uniform(0, jitter)`` seconds after it starts.
    seed : int
        Seed of the service times.
    limit_changes : sequence of (time, rate)
        When the server's limit changes, and to what.
    lateness : float
        A start that waited for its time happens ``uniform(0, lateness)`` seconds after
        it, as an event loop wakes late.
    """
    if requests is None and seconds is None:
        raise ValueError("need requests or seconds")
    random_ = random.Random(seed)
    ctl = HostController(HOST, start=start, ceiling=workers)
    pending: float = requests if requests is not None else math.inf
    end = seconds if seconds is not None else math.inf
    changes_due = sorted(limit_changes)
    now, polite_until, refused = 0.0, -math.inf, 0
    accepted: list[float] = []
    # (answered, number, started, admitted, Retry-After of a refusal)
    in_flight: list[tuple[float, int, float, bool, float | None]] = []
    numbers = itertools.count()
    changes: list[WindowChange] = []
    for _ in range(_MAX_EVENTS):
        if now >= end or len(accepted) == requests:
            return SimResult(now, tuple(accepted), refused, tuple(changes))
        # start everything the controller allows now
        while pending and len(in_flight) < workers and ctl.can_start(len(in_flight), now):
            assert now >= polite_until, f"started at {now:.3f}, Retry-After ran to {polite_until}"
            ctl.on_start(now)
            pending -= 1
            answered = now + latency + jitter * random_.random()
            admitted = server.admit(now)
            retry_after = None if admitted else server.retry_after(now)
            heapq.heappush(in_flight, (answered, next(numbers), now, admitted, retry_after))
            if answered == now:
                break  # an instant answer must be seen before the next start
        # move the clock to the next event: an answer, the next allowed start, a new limit
        events = [in_flight[0][0]] if in_flight else []
        if pending and len(in_flight) < min(workers, ctl.window):
            earliest = ctl.earliest_start(now)
            if earliest > now:
                earliest += lateness * random_.random()
            events.append(earliest)
        if changes_due:
            events.append(changes_due[0][0])
        if not events:
            raise AssertionError("simulation stalled")
        now = max(now, min(events))
        while changes_due and changes_due[0][0] <= now:
            server.set_rate(now, changes_due.pop(0)[1])
        while in_flight and in_flight[0][0] <= now:
            answered, _, started, admitted, retry_after = heapq.heappop(in_flight)
            if admitted:
                accepted.append(answered)
                change = ctl.on_success(answered, started)
            else:
                refused += 1
                pending += 1
                if retry_after is not None:
                    polite_until = max(polite_until, answered + retry_after)
                change = ctl.on_failure(
                    ErrorClass.THROTTLED,
                    now=answered,
                    started_at=started,
                    status=429,
                    retry_after=retry_after,
                )
            if change is not None:
                changes.append(change)
    raise AssertionError("simulation did not finish")
