"""Retry decisions: a policy is a value, a decision is data, the caller sleeps.

Rules:
- ``RetryPolicy.decide`` looks at the class of the failure and the attempts made so far
  (including the one that just failed) and returns a ``RetryDecision``; it never sleeps
  and never reads a clock. Randomness for jitter is passed in.
- Permanent classes (by default CLIENT: 403, 404, 410) are never retried; otherwise a file
  gets at most ``max_attempts`` attempts.
- Waits use exponential backoff with full jitter (AWS architecture blog, "Exponential
  Backoff And Jitter"): ``random() * min(cap, base * 2 ** (attempt - 1))``.
- A server's ``Retry-After`` is a floor, never shortened by jitter, for the classes in
  ``retry_after_classes`` (throttling by default); a remote file that changed is fetched
  again at once, from byte 0.
- A host name that does not resolve (DNS) is a typo far more often than a resolver's
  hiccup: it gets ``QUICK_ATTEMPTS`` attempts at most, ``QUICK_DELAY`` apart at most,
  then it is permanent.
- A decision does not know how long its caller is willing to wait: ``within`` tells a
  caller that sleeps (a range resumed within its attempt, a listing page, a records
  chunk) whether to wait or to give up; the engine records a later retry's due time.
- ``reason`` is shown to users, so it is a short sentence without jargon.
- Within one attempt, a range request that breaks off is resumed where it got to for the
  classes in ``RESUMED_WITHIN_ATTEMPT`` (under this same policy); after the classes in
  ``MOVES_TO_NEXT_SOURCE``, a file with another source (a mirror) continues there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.units import format_duration, format_seconds

#: Transient classes a range request resumes from within its attempt; the others
#: (client, integrity, changed, disk) end the attempt at once.
RESUMED_WITHIN_ATTEMPT = frozenset(
    {ErrorClass.CONNECT, ErrorClass.READ_TIMEOUT, ErrorClass.THROTTLED, ErrorClass.SERVER}
)
#: Classes that say "this source cannot serve the file now": continue on the next one.
MOVES_TO_NEXT_SOURCE = RESUMED_WITHIN_ATTEMPT | {ErrorClass.CLIENT, ErrorClass.DNS}
#: Classes whose first retry comes soon (``RetryPolicy.first_retry``): faults that are
#: most often random. Throttling is not among them: the server asked us to slow down.
FIRST_RETRY_SOON = frozenset({ErrorClass.SERVER, ErrorClass.CONNECT, ErrorClass.READ_TIMEOUT})
#: Default backoff ceiling of that first retry, in seconds.
FIRST_RETRY = 0.25
#: Retries of those classes that come soon: the ceiling doubles from ``FIRST_RETRY`` for
#: each (0.25 s, then 0.5 s), then the usual backoff. With 5% random faults, 1 file in
#: 400 meets two in a row: the run's tail waits for it, so it too must come soon.
SOON_RETRIES = 2
#: Attempts at most for a host name that does not resolve (a misspelled host)...
QUICK_ATTEMPTS = 3
#: ...with a full-jitter backoff from this many seconds, doubling (a resolver's hiccup
#: passes within seconds; a typo never does).
QUICK_DELAY = 0.5

_MAX_EXPONENT = 62  # 2**62 seconds is beyond any cap; avoids float overflow for huge attempts


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt.

    Parameters
    ----------
    retry : bool
        Whether to try again.
    delay : float
        Seconds to wait before the next attempt (0 when not retrying).
    reason : str
        Why, in words a user can read (``"server error; retry 2 of 5 in 1.3s"``).
    """

    retry: bool
    delay: float
    reason: str

    def within(self, longest: float) -> bool:
        """Tell whether to retry after waiting no longer than ``longest`` seconds."""
        return self.retry and self.delay <= longest


def backoff_delay(attempt: int, *, base: float, cap: float, random: Callable[[], float]) -> float:
    """Return a full-jitter backoff delay for the given attempt number.

    Parameters
    ----------
    attempt : int
        Attempts made so far, ``>= 1`` (1 after the first failure).
    base : float
        Delay ceiling after the first failure, in seconds.
    cap : float
        Largest delay ceiling, in seconds.
    random : callable
        Returns a float in ``[0, 1)`` (``random.random`` in production).

    Returns
    -------
    float
        ``random() * min(cap, base * 2 ** (attempt - 1))``.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return random() * ceiling


def wait_too_long(delay: float, longest: float) -> str:
    """Say that a retry's wait is beyond the longest a caller waits (for messages)."""
    return f"asked to wait {format_duration(delay)}, {beyond_wait(longest)}"


def beyond_wait(longest: float) -> str:
    """Say that something is longer than the ``longest`` a run waits (for messages)."""
    return f"longer than the {format_duration(longest)} a run waits"


def _attempts_text(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


_CLASS_TEXT = {
    ErrorClass.CONNECT: "connection failed",
    ErrorClass.DNS: "host name not found",
    ErrorClass.READ_TIMEOUT: "read timed out",
    ErrorClass.THROTTLED: "throttled by the server",
    ErrorClass.SERVER: "server error",
    ErrorClass.CLIENT: "client error",
    ErrorClass.INTEGRITY: "integrity check failed",
    ErrorClass.DISK: "disk error",
    ErrorClass.CHANGED: "remote file changed",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed transfer is tried again.

    Parameters
    ----------
    max_attempts : int
        Attempts per file, the first one included (``>= 1``).
    base_delay : float
        Backoff ceiling after the first failure, in seconds.
    max_delay : float
        Largest backoff ceiling, in seconds (a longer ``Retry-After`` is still honoured).
    permanent : frozenset of ErrorClass
        Classes that are never retried.
    retry_after_classes : frozenset of ErrorClass
        Classes whose ``Retry-After`` is honoured (listing pages honour it on 5xx too).
    first_retry : float
        Backoff ceiling of the first retry after a fault that is most often random (a
        5xx, a timeout, a dropped connection): the file comes back while the others go
        on. It doubles for each of the ``SOON_RETRIES`` first retries; later retries back
        off from ``base_delay`` as usual.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 300.0
    first_retry: float = FIRST_RETRY
    permanent: frozenset[ErrorClass] = frozenset({ErrorClass.CLIENT})
    retry_after_classes: frozenset[ErrorClass] = frozenset({ErrorClass.THROTTLED})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not (0 <= self.base_delay <= self.max_delay) or math.isnan(self.max_delay):
            raise ValueError(
                f"need 0 <= base_delay <= max_delay, got {self.base_delay} and {self.max_delay}"
            )

    def with_max_attempts(self, n: int) -> RetryPolicy:
        """Return a copy of this policy allowing ``n`` attempts per file."""
        return dataclasses.replace(self, max_attempts=n)

    def with_permanent(self, *classes: ErrorClass) -> RetryPolicy:
        """Return a copy of this policy that also never retries ``classes``."""
        return dataclasses.replace(self, permanent=self.permanent | frozenset(classes))

    def decide(
        self,
        error_class: ErrorClass,
        attempts: int,
        *,
        retry_after: float | None = None,
        random: Callable[[], float],
    ) -> RetryDecision:
        """Decide whether and when to try again after a failed attempt.

        Parameters
        ----------
        error_class : ErrorClass
            Why the attempt failed.
        attempts : int
            Attempts made so far, including the one that just failed (``>= 1``).
        retry_after : float or None
            Seconds the server asked us to wait, if it did (honoured for the classes in
            ``retry_after_classes``).
        random : callable
            Returns a float in ``[0, 1)``, used for jitter.

        Returns
        -------
        RetryDecision
            ``retry`` False for permanent classes and once ``attempts`` reaches
            ``max_attempts``; otherwise the delay before the next attempt.
        """
        what = _CLASS_TEXT.get(error_class, str(error_class))
        if error_class in self.permanent:
            kind = error_class.value.replace("_", " ")
            return RetryDecision(False, 0.0, f"permanent {kind} error")
        quick = error_class is ErrorClass.DNS
        most = min(self.max_attempts, QUICK_ATTEMPTS) if quick else self.max_attempts
        if attempts >= most:
            return RetryDecision(False, 0.0, f"{what}; {_attempts_text(attempts)} exhausted")
        next_try = f"retry {attempts + 1} of {most}"
        if error_class is ErrorClass.CHANGED:
            return RetryDecision(True, 0.0, f"{what}; {next_try} from byte 0 now")
        if quick:
            delay = backoff_delay(attempts, base=QUICK_DELAY, cap=4 * QUICK_DELAY, random=random)
        elif attempts <= SOON_RETRIES and error_class in FIRST_RETRY_SOON:
            soon = min(self.first_retry, self.base_delay)
            delay = random() * min(soon * 2 ** (attempts - 1), self.max_delay)
        else:
            delay = backoff_delay(attempts, base=self.base_delay, cap=self.max_delay, random=random)
        if retry_after is not None and error_class in self.retry_after_classes:
            asked = max(0.0, retry_after)
            delay = min(max(asked, delay), max(self.max_delay, asked))
            return RetryDecision(
                True,
                delay,
                f"{what} (Retry-After {format_seconds(asked)});"
                f" {next_try} in {format_duration(delay)}",
            )
        return RetryDecision(True, delay, f"{what}; {next_try} in {format_duration(delay)}")
