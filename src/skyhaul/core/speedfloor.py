"""The slowest a body may arrive before its attempt fails: a minimum speed over a window.

Rules:
- As curl's ``--speed-limit`` and ``--speed-time``: a body must bring at least
  ``bytes_per_second * seconds`` bytes (its quota) in every window of ``seconds``,
  counted from when it opened. One that does not fails as a read timeout: a server
  trickling a byte every few seconds never trips the read timeout, yet would hold its
  file DOWNLOADING for ever.
- A zero rate or window turns the floor off.
- Pure: the transfer counts the bytes and keeps the time; the floor only judges a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from skyhaul.core.units import format_duration, format_size

__all__ = ["DEFAULT_MIN_SPEED", "DEFAULT_MIN_SPEED_TIME", "SpeedFloor"]

#: Bytes per second a body must average over each window, by default: far below any
#: archive worth reading from, far above a trickle.
DEFAULT_MIN_SPEED = 1024
#: Seconds of each window, by default.
DEFAULT_MIN_SPEED_TIME = 60.0


@dataclass(frozen=True, slots=True)
class SpeedFloor:
    """A minimum speed over a window.

    Parameters
    ----------
    bytes_per_second : float
        The slowest average allowed over a window (0: no floor).
    seconds : float
        Length of a window (0: no floor).
    """

    bytes_per_second: float = DEFAULT_MIN_SPEED
    seconds: float = DEFAULT_MIN_SPEED_TIME

    def __post_init__(self) -> None:
        if not (self.bytes_per_second >= 0 and self.seconds >= 0):
            raise ValueError(
                f"need a speed and a window >= 0, got {self.bytes_per_second}, {self.seconds}"
            )

    @property
    def enabled(self) -> bool:
        """False when the floor is off."""
        return self.bytes_per_second > 0 and self.seconds > 0

    @property
    def quota(self) -> float:
        """Bytes a window must bring."""
        return self.bytes_per_second * self.seconds

    def too_slow(self, received: int) -> bool:
        """Tell whether a window that brought ``received`` bytes fails the body."""
        return self.enabled and received < self.quota

    def describe(self, received: int) -> str:
        """Say why a window failed, in one line."""
        speed = format_size(round(self.bytes_per_second))
        return f"slower than {speed}/s for {format_duration(self.seconds)} ({received} bytes)"
