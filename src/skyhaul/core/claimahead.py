"""How many files a worker claims ahead of its free slots: about half a second of work.

Rules:
- Claiming costs a catalog round trip, so a worker that finishes thousands of small files
  a second claims them in large batches; a worker busy with large files claims few, so
  that other workers sharing the catalog still find work.
- The size follows the start rate measured since the previous claim, times ``horizon``
  seconds, within ``[floor, ceiling]``. The first claim is ``floor``: nothing is known
  yet. A fast worker grows at most ``growth`` times per claim, so one lucky burst
  cannot hoard the selection.
- The clock is a parameter (seconds, monotonic); nothing here sleeps or reads time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ClaimAhead"]


@dataclass(slots=True)
class ClaimAhead:
    """The number of files to hold (claimed, queued or in flight) ahead of free slots.

    Parameters
    ----------
    floor : int
        Files claimed ahead at least (and at first).
    ceiling : int
        Files claimed ahead at most.
    horizon : float
        Seconds of work to hold ahead at the measured start rate.
    growth : float
        The largest factor between two successive sizes.
    """

    floor: int
    ceiling: int = 1024
    horizon: float = 0.5
    growth: float = 4.0
    _size: int = field(default=0, init=False)
    _claimed_at: float | None = field(default=None, init=False)
    _started: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.floor < 1 or self.ceiling < self.floor:
            raise ValueError(f"need 1 <= floor <= ceiling, got {self.floor}, {self.ceiling}")
        if self.horizon <= 0 or self.growth < 1:
            raise ValueError("horizon must be positive and growth at least 1")
        self._size = self.floor

    def started(self, count: int = 1) -> None:
        """Note that ``count`` claimed files were started."""
        self._started += count

    def next_size(self, now: float) -> int:
        """Return how many files to hold ahead for the claim made at ``now``."""
        if self._claimed_at is not None:
            elapsed = now - self._claimed_at
            wanted = self.ceiling if elapsed <= 0 else self._started / elapsed * self.horizon
            limit = self._size * self.growth
            self._size = int(max(self.floor, min(self.ceiling, limit, wanted)))
        self._claimed_at = now
        self._started = 0
        return self._size
