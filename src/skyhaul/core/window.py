"""Time windows: the half-open UTC intervals that selections and listings take.

Rules:
- A window is ``[start, end)``, both timezone-aware UTC; ``end`` before ``start`` is an
  error (``ValueError`` with a one-line message), ``end == start`` is an empty window.
- ``days()`` names the UTC dates a window touches, the unit archives are laid out by.
- The calendar ends at 9999-12-31T23:59:59.999999Z. Its last day has no half-open
  window (its end, 10000-01-01, cannot be held), so a whole-day end on it and its day
  window are one-line ``ValueError``s, as ``9999-12-31T24:00`` is for
  :func:`~skyhaul.core.timeparse.parse_utc`. No other arithmetic here leaves the calendar:
  a bound worked out by adding a margin (:func:`shifted`) is held at the calendar's first
  or last instant, and a range of days ending on the last one has no end (:func:`day_span`).
- Bounds and days typed by a user (the CLI's options, the web API's parameters) are read
  here, once: :func:`parse_bounds` names the bound that does not read, :func:`parse_day`
  and :func:`parse_day_range` raise a one-line ``UsageError`` naming the parameter.
- Pure: standard library only (and skyhaul's own errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from skyhaul.core.timeparse import parse_utc
from skyhaul.errors import UsageError

__all__ = [
    "FIRST_INSTANT",
    "LAST_DAY",
    "LAST_INSTANT",
    "BoundError",
    "TimeWindow",
    "day_span",
    "parse_bounds",
    "parse_day",
    "parse_day_range",
    "shifted",
]

#: The last UTC day whose window ``[day, next day)`` can be held.
LAST_DAY = date.max - timedelta(days=1)
#: The calendar's first and last instants, in UTC.
FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
_PAST_THE_END = "ends after 9999-12-31T23:59:59.999999Z, the last time skyhaul can hold"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open UTC interval ``[start, end)``.

    Parameters
    ----------
    start, end : datetime
        Timezone-aware bounds; ``end`` must not be before ``start``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware (UTC)")
        if self.end < self.start:
            raise ValueError(
                f"end {_iso(self.end)} is before start {_iso(self.start)}; give the start first"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> TimeWindow:
        """Read a window from two user-typed times (see :func:`parse_utc`).

        A date alone as ``end`` means the *whole* day: ``--end 2024-03-02`` includes
        March 2nd. A date-time ``end`` is exclusive.

        Raises
        ------
        ValueError
            When a time cannot be read or the end is before the start.
        """
        first = parse_utc(start)
        last = parse_utc(end)
        whole_day = _is_date_only(end)
        if whole_day:
            if last.date() > LAST_DAY:
                raise ValueError(
                    f"end {end.strip()} (the whole day) {_PAST_THE_END};"
                    " give a time instead, e.g. 9999-12-31T23:59:59"
                )
            last += timedelta(days=1)
        # A whole-day end that leaves nothing ("--start 2024-03-02 --end 2024-03-01") is
        # backwards as typed, though the shifted end equals the start.
        if last < first or (whole_day and last <= first):
            raise ValueError(f"end {end.strip()} is before start {start.strip()}")
        return cls(first, last)

    def days(self) -> Iterator[date]:
        """Yield each UTC date the window touches (an empty window touches none)."""
        if self.end <= self.start:
            return
        day = self.start.astimezone(UTC).date()
        last = (self.end.astimezone(UTC) - timedelta(microseconds=1)).date()
        while True:
            yield day
            if day == last:  # before stepping: the step after date.max overflows
                return
            day += timedelta(days=1)

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside ``[start, end)``."""
        return self.start <= moment < self.end

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        """Whether an interval ``[start, end)`` (an instant when ``end`` is None) overlaps.

        An empty window overlaps nothing.
        """
        if self.end <= self.start:
            return False
        if end is None or end <= start:
            return self.contains(start)
        return start < self.end and end > self.start

    @staticmethod
    def day(day: date) -> TimeWindow:
        """The window of one whole UTC day.

        Raises
        ------
        ValueError
            For a day after :data:`LAST_DAY` (its end cannot be held).
        """
        if day > LAST_DAY:
            raise ValueError(f"the day {day.isoformat()} {_PAST_THE_END}")
        midnight = datetime.combine(day, time(), tzinfo=UTC)
        return TimeWindow(midnight, midnight + timedelta(days=1))

    def __str__(self) -> str:
        return f"[{_iso(self.start)}, {_iso(self.end)})"


def shifted(moment: datetime, by: timedelta) -> datetime:
    """Return ``moment + by``, held at :data:`FIRST_INSTANT` or :data:`LAST_INSTANT`
    rather than past them.

    For bounds widened by a margin: a bound past the calendar's edge is its edge, since
    no time beyond it can be held.

    Examples
    --------
    >>> shifted(FIRST_INSTANT + timedelta(hours=1), -timedelta(days=2)) == FIRST_INSTANT
    True
    """
    try:
        return moment + by
    except OverflowError:
        return LAST_INSTANT if by > timedelta(0) else FIRST_INSTANT


def day_span(first: date, last: date) -> tuple[datetime, datetime | None]:
    """Return the UTC instants from ``first`` at 00:00 to the end of ``last``, exclusive.

    The end is None when ``last`` is the calendar's last day: its end (10000-01-01)
    cannot be held, and no instant comes after it.
    """
    start = datetime.combine(first, time(), tzinfo=UTC)
    return start, None if last > LAST_DAY else TimeWindow.day(last).end


class BoundError(ValueError):
    """A typed bound of a window that does not read; ``bound`` is ``"start"`` or ``"end"``."""

    def __init__(self, bound: str, message: str) -> None:
        super().__init__(message)
        self.bound = bound


def parse_bounds(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """Read the bounds of a window as a user typed them; an absent bound leaves it open.

    A date alone as ``end`` means the whole day (see :meth:`TimeWindow.parse`); with both
    bounds, the end must not come first as typed.

    Raises
    ------
    BoundError
        A bound cannot be read, or the end is before the start (``bound`` says which).
    """
    first = last = None
    if start is not None:
        try:
            first = parse_utc(start)
        except ValueError as exc:
            raise BoundError("start", str(exc)) from None
    if end is not None:
        try:
            last = TimeWindow.parse(end, end).end
            if start is not None:
                TimeWindow.parse(start, end)
        except ValueError as exc:
            raise BoundError("end", str(exc)) from None
    return first, last


def parse_day(text: str, name: str) -> date:
    """Read a ``YYYY-MM-DD`` UTC day; a one-line ``UsageError`` names the parameter.

    The calendar's last day is refused too: its window ends at 10000-01-01, which no
    time holds (see :data:`LAST_DAY`).
    """
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a date (use YYYY-MM-DD)") from None
    if day > LAST_DAY:
        raise UsageError(
            f"{name}: {text!r} is after {LAST_DAY.isoformat()}, the last day whose window"
            " skyhaul can hold"
        )
    return day


def parse_day_range(
    first: str,
    last: str,
    *,
    names: tuple[str, str] = ("--start-date", "--end-date"),
    max_days: int | None = None,
) -> tuple[date, date]:
    """Read an inclusive range of days; the end must not be before the start.

    Parameters
    ----------
    first, last : str
        The days as typed.
    names : (str, str)
        What the two are called in messages.
    max_days : int or None
        Most days the range may hold (None: no limit).

    Raises
    ------
    UsageError
        A day that does not read, an end before the start, or a range too long.
    """
    start_day = parse_day(first, names[0])
    end_day = parse_day(last, names[1])
    if end_day < start_day:
        raise UsageError(
            f"{names[1]} {end_day.isoformat()} is before {names[0]} {start_day.isoformat()}"
        )
    days = (end_day - start_day).days + 1
    if max_days is not None and days > max_days:
        raise UsageError(
            f"{names[0]} to {names[1]} spans {days:,} days: at most {max_days:,} at once"
        )
    return start_day, end_day


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _is_date_only(text: str) -> bool:
    """Whether ``text`` names a day without a time (``2024-03-01``, ``2024-061``)."""
    stripped = text.strip()
    return "T" not in stripped.upper() and " " not in stripped and ":" not in stripped
