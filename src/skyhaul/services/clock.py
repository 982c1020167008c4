"""The time a service runs on: wall clock, monotonic clock and sleep, all injectable.

Rules:
- Services never call ``datetime.now``, ``time.monotonic`` or ``asyncio.sleep`` for
  decisions about retries and leases: they take a ``Clock``, so a test can run a retry
  due in a minute without waiting a minute.
- Connection pacing (the host gates) keeps the event loop's own clock: it paces real
  requests to real servers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SYSTEM_CLOCK", "Clock", "utc_now"]


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """Where a service reads the time and how it waits.

    Parameters
    ----------
    now : callable
        Wall clock, timezone-aware UTC (catalog times, retry due times, leases).
    monotonic : callable
        Seconds for durations (run time, claim sizing).
    sleep : callable
        Waits a number of seconds (retry waits, backoff within an attempt).
    """

    now: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


#: The real clock.
SYSTEM_CLOCK = Clock()
