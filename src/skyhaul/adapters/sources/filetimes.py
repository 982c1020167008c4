"""Observation times read from file names (``time_regex``) and from table cells.

Rules:
- A pattern is searched in the file name (``re.search``; anchor it with ``^``/``$`` when
  needed). Its named groups give the observation start either as one group ``time``
  (read with ``time_format``, a ``strptime`` format, or as ISO 8601 without one), or as
  parts: ``year`` (two digits: 1969-2068, as ``strptime``'s ``%y``), ``month`` and
  ``day`` or ``doy`` (day of year), and optional ``hour``, ``minute``, ``second``
  (missing parts are 0). An optional group ``instrument`` names the instrument.
- A pattern without such groups is a configuration mistake, found when it is read.
- A name the pattern does not match, or whose numbers make no date, has no time: the
  file is still listed, it just cannot be placed in a window.
- Times without a zone are UTC. Pure: standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from skyhaul.core.timeparse import parse_utc

__all__ = ["FileTimePattern", "FileTimes", "parse_time"]


@dataclass(frozen=True, slots=True)
class FileTimes:
    """What is known of one file's observation.

    Parameters
    ----------
    start : datetime or None
        Observation start (UTC).
    end : datetime or None
        Observation end (UTC), when known.
    instrument : str or None
        Instrument, when the name or the index says.
    """

    start: datetime | None = None
    end: datetime | None = None
    instrument: str | None = None


def parse_time(text: str, time_format: str | None) -> datetime:
    """Parse ``text`` with a ``strptime`` format, or as ISO 8601 when ``time_format`` is None.

    Raises
    ------
    ValueError
        When ``text`` does not fit.
    """
    if time_format is None:
        return parse_utc(text)
    parsed = datetime.strptime(text.strip(), time_format)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class FileTimePattern:
    """A ``time_regex`` with its ``time_format``, checked when built.

    Parameters
    ----------
    pattern : str
        The regular expression.
    time_format : str or None
        ``strptime`` format of the ``time`` group (None: ISO 8601).

    Raises
    ------
    ValueError
        When the pattern does not compile or lacks the groups that make a time (the
        message says which).
    """

    def __init__(self, pattern: str, time_format: str | None = None) -> None:
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        groups = set(self.regex.groupindex)
        self.time_format = time_format
        if "time" in groups:
            return
        if time_format is not None:
            raise ValueError("a time format needs a group named 'time'")
        if "year" not in groups or not ({"month", "day"} <= groups or "doy" in groups):
            raise ValueError(
                "needs a group named 'time', or groups 'year' with 'month' and 'day' "
                "(or 'doy') and optionally 'hour', 'minute', 'second'"
            )

    def match(self, name: str) -> FileTimes | None:
        """Return the times ``name`` encodes, or None when it encodes none."""
        found = self.regex.search(name)
        if found is None:
            return None
        parts = {k: v for k, v in found.groupdict().items() if v is not None}
        try:
            start = parse_time(parts["time"], self.time_format) if "time" in parts else _from(parts)
        except (KeyError, ValueError, OverflowError):
            return None
        return FileTimes(start=start, instrument=parts.get("instrument") or None)

    def __repr__(self) -> str:
        return f"FileTimePattern({self.regex.pattern!r})"


def _from(parts: dict[str, str]) -> datetime:
    year = int(parts["year"])
    if len(parts["year"]) == 2:
        year += 1900 if year >= 69 else 2000
    hour, minute, second = (int(parts.get(key) or 0) for key in ("hour", "minute", "second"))
    if hour > 24 or minute > 59 or second > 60:  # 24:00 and leap seconds roll over
        raise ValueError("time of day out of range")
    clock = timedelta(hours=hour, minutes=minute, seconds=second)
    if "doy" in parts:
        doy = int(parts["doy"])
        if not 1 <= doy <= 366:
            raise ValueError("day of year out of range")
        day = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=doy - 1)
        if day.year != year:
            raise ValueError("day of year out of range")
        return day + clock
    return datetime(year, int(parts["month"]), int(parts["day"]), tzinfo=UTC) + clock
