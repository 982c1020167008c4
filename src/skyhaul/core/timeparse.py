"""Parse the times users type and manifests carry into aware UTC datetimes.

Rules:
- Input is ISO 8601: a date alone (midnight UTC), or a date and time with or without
  ``Z`` or an offset. A time without an offset is taken as UTC, never as local time.
- Ordinal dates (``2024-032``, day of year, common in mission data) and the end-of-day
  time ``24:00`` (midnight of the next day) are accepted too; ``T`` and ``Z`` may be lower case.
- Anything else raises ``ValueError`` with a one-line message that quotes the input.
- The calendar is Python's: from 0001-01-01T00:00Z to 9999-12-31T23:59:59.999999Z, in
  UTC. A time whose UTC instant falls outside (``9999-12-31T24:00``,
  ``0001-01-01T00:00:00+01:00``) cannot be held, compared or stored, so it is refused
  with a one-line ``ValueError`` naming the edge it passes, like any unreadable time.
- Pure: standard library only, no clock; the result is always ``tzinfo=UTC``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = ["parse_utc"]

_ORDINAL = re.compile(r"(\d{4})-(\d{3})(?=$|[T ])")
_END_OF_DAY = re.compile(r"[T ]24(?::?00(?::?00(?:[.,]0+)?)?)?(?=$|Z|[+-])")


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    Parameters
    ----------
    text : str
        For example ``2024-03-01``, ``2024-03-01T12:00:00Z``, ``2024-03-01 12:00``,
        ``2024-03-01T13:00:00+01:00`` or ``2024-061T12:00:00``.

    Returns
    -------
    datetime
        Timezone-aware, in UTC. A date alone is midnight UTC; a time without an offset
        is taken as UTC.

    Raises
    ------
    ValueError
        When ``text`` is not an ISO 8601 date or date-time (one-line message).
    """
    next_day = False
    try:
        parsed: datetime | None = datetime.fromisoformat(text)  # the common case, fast
    except ValueError:
        cleaned = text.strip().upper()
        try:
            cleaned = _expand_ordinal(cleaned)
            cleaned, next_day = _split_end_of_day(cleaned)
            parsed = datetime.fromisoformat(cleaned) if cleaned else None
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2024-03-01 or 2024-03-01T12:00:00Z)"
        )
    try:
        if next_day:
            parsed += timedelta(days=1)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:
        # Only the two steps above can leave the calendar; which edge tells the direction.
        raise ValueError(f"{text!r} {_edge_passed(parsed, next_day)}") from None


def _edge_passed(parsed: datetime, next_day: bool) -> str:
    """Which end of the calendar ``parsed`` (plus a day when ``next_day``) falls past."""
    offset = parsed.utcoffset()
    late = next_day or (offset is not None and offset < timedelta(0))
    if late:
        return "is after 9999-12-31T23:59:59.999999Z, the last time skyhaul can hold"
    return "is before 0001-01-01T00:00:00Z, the first time skyhaul can hold"


def _expand_ordinal(text: str) -> str:
    """Rewrite a leading ``YYYY-DDD`` (day of year) as ``YYYY-MM-DD``."""
    match = _ORDINAL.match(text)
    if match is None:
        return text
    year, day_of_year = int(match[1]), int(match[2])
    first = date(year, 1, 1)
    day = first + timedelta(days=day_of_year - 1)
    if day_of_year < 1 or day.year != year:
        raise ValueError("day of year out of range")
    return day.isoformat() + text[match.end() :]


def _split_end_of_day(text: str) -> tuple[str, bool]:
    """Turn ``...T24:00`` into ``...T00:00`` plus a flag to add one day."""
    match = _END_OF_DAY.search(text)
    if match is None:
        return text, False
    return text[: match.start()] + "T00:00" + text[match.end() :], True
