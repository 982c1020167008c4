"""One change of a host's concurrency window, pacing or pause, as the log shows it.

Rules:
- A value: the rate controller returns one per change, with its reason; the engine logs
  it (slow-downs at INFO, speed-ups at DEBUG).
- A ``HostDecision`` is where a host's window and rate stand after the latest change, as
  the catalog keeps it, so that every worker starts from what the others learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from skyhaul.core.units import format_seconds

__all__ = ["HostDecision", "WindowChange"]


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
        slower = self.new_rate is not None and (
            self.old_rate is None or self.new_rate < self.old_rate
        )
        return self.new_window < self.old_window or slower or self.pause is not None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.new_window != self.old_window or self.new_rate == self.old_rate:
            parts.append(f"window {self.old_window} -> {self.new_window}")
        if self.new_rate != self.old_rate:
            old = "unpaced" if self.old_rate is None else f"{self.old_rate:.1f}"
            new = "unpaced" if self.new_rate is None else f"{self.new_rate:.1f}/s"
            parts.append(f"rate {old} -> {new}")
        if self.pause is not None:
            parts.append(f"paused {format_seconds(self.pause)}")
        return f"{self.host}: {', '.join(parts)} ({self.reason})"


@dataclass(frozen=True, slots=True)
class HostDecision:
    """A host's window and pace as last decided, with why, when and by whom.

    Parameters
    ----------
    host : str
        The host (``host:port``).
    window : int
        Concurrency window: requests in flight at once, over all workers.
    rate : float or None
        Requests per second over all workers; ``None`` while unpaced.
    reason : str
        Why it was decided (the reason of the change, ``"429"``, ``"8 successes"``).
    decided_at : datetime
        When (UTC).
    decided_by : str
        The lease owner id of the run that decided it.
    """

    host: str
    window: int
    rate: float | None
    reason: str
    decided_at: datetime
    decided_by: str
