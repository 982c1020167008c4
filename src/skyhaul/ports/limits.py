"""Per-host politeness shared by every worker: the seam the engine's host gate will use.

Rules:
- A host's concurrency is a semaphore of named holders that expire unless refreshed (with
  the lease heartbeat): a worker that dies frees its slots when their time-to-live ends.
  ``refresh`` returning False means the slot was lost (it expired): the holder must stop
  or acquire again, never carry on as if it still held it.
- A host's pace is a rate with a burst: ``allow`` answers how long to wait before the
  next request (0: go now, and the request is counted). It never sleeps; the caller
  waits, then asks again.
- The window (``limit``) is set by the caller and may change between acquisitions (the
  adaptive window); holders already admitted keep their slot.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["HostSlots", "SharedHostLimits"]


class HostSlots(Protocol):
    """One host's concurrency semaphore, shared through an outside store."""

    limit: int

    async def acquire(self, holder: str, ttl: float) -> bool:
        """Take a slot for ``holder`` for ``ttl`` seconds; False when all are taken."""
        ...

    async def refresh(self, holder: str, ttl: float) -> bool:
        """Extend ``holder``'s slot to ``ttl`` seconds from now; False if it was lost."""
        ...

    async def release(self, holder: str) -> None:
        """Give ``holder``'s slot back (nothing happens if it holds none)."""
        ...

    async def holders(self) -> list[str]:
        """The holders whose slot has not expired."""
        ...


class SharedHostLimits(Protocol):
    """Concurrency and pace per host, the same for every worker that shares the store."""

    def semaphore(self, host: str, limit: int) -> HostSlots:
        """Return ``host``'s semaphore admitting at most ``limit`` holders."""
        ...

    async def allow(self, host: str, rate_per_s: float, burst: int) -> float:
        """Count one request to ``host`` and return 0 (go now), or return the seconds to
        wait before asking again (nothing was counted then)."""
        ...
