"""Sizes and durations as people type and read them.

Rules:
- A bare letter is binary, like aria2 and curl: ``8M`` is 8 MiB. ``8MB`` is decimal
  (8,000,000 bytes) and ``8MiB`` is binary; units are case-insensitive.
- Parsers raise ``ValueError`` with a one-line message that quotes the input, so the CLI
  can show it as is.
- Limits: a size is at most ``MAX_SIZE`` (2**63 - 1 bytes: what a file system, the
  catalog's 64-bit columns and an HTTP range hold); a duration at most
  ``LONGEST_DURATION`` (100 years), so that now plus or minus any duration is still a
  time (datetime stops at 9999-12-31).
- Formatters never raise; they are for people, not for parsing back exactly.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

#: The largest byte count (a signed 64-bit integer).
MAX_SIZE = 2**63 - 1
#: The longest duration, in seconds: 100 years of 365.25 days.
LONGEST_DURATION = 36525 * 86400.0

_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
_PREFIXES = "kmgtpe"
_BINARY_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def _size_multiplier(unit: str) -> int | None:
    unit = unit.lower()
    if unit in ("", "b"):
        return 1
    prefix, rest = unit[0], unit[1:]
    power = _PREFIXES.find(prefix) + 1
    if power == 0:
        return None
    if rest in ("", "i", "ib"):
        return 1 << (10 * power)
    if rest == "b":
        return int(1000**power)
    return None


def parse_size(text: str) -> int:
    """Parse a byte count such as ``8MiB``, ``8M``, ``8MB``, ``512KiB``, ``1G`` or ``8388608``.

    Parameters
    ----------
    text : str
        A non-negative number, optionally fractional, followed by an optional unit:
        ``B``; ``K``/``M``/``G``/``T``/``P``/``E`` alone or with ``i``/``iB`` (binary,
        powers of 1024); with ``B`` only (decimal, powers of 1000).

    Returns
    -------
    int
        The number of bytes.

    Raises
    ------
    ValueError
        When the text is not a size, or is not a whole number of bytes (``1.5`` or
        ``0.1K``).
    """
    match = _SIZE_RE.fullmatch(text)
    multiplier = _size_multiplier(match.group(2)) if match else None
    if match is None or multiplier is None:
        raise ValueError(
            f"invalid size {text!r}: expected a number with a unit like 8MiB, 8M or 8MB"
        )
    try:
        value = Decimal(match.group(1)) * multiplier
    except InvalidOperation:  # pragma: no cover - the regex admits only decimal digits
        raise ValueError(f"invalid size {text!r}") from None
    if value != value.to_integral_value():
        raise ValueError(f"invalid size {text!r}: not a whole number of bytes")
    if value > MAX_SIZE:
        raise ValueError(f"invalid size {text!r}: more than {MAX_SIZE} bytes (8 EiB - 1)")
    return int(value)


def format_size(n: int) -> str:
    """Format a byte count for people: ``512 B``, ``8.0 MiB``, ``1.5 GiB``."""
    if n < 0:
        return "-" + format_size(-n)
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    index = 0
    # Compare the rounded value: 1023.96 KiB must read "1.0 MiB", not "1024.0 KiB".
    while round(value, 1) >= 1024 and index < len(_BINARY_UNITS) - 1:
        value /= 1024
        index += 1
    return f"{value:.1f} {_BINARY_UNITS[index]}"


_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d|w)?", re.IGNORECASE)
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Parse a duration such as ``5m``, ``30s``, ``2h``, ``1d``, ``1h30m`` or ``1.5``.

    Parameters
    ----------
    text : str
        One or more ``<number><unit>`` parts with units ``ms``, ``s``, ``m``, ``h``,
        ``d``, ``w`` (case-insensitive); a bare number is seconds.

    Returns
    -------
    float
        Seconds.

    Raises
    ------
    ValueError
        When the text is not a duration.
    """
    stripped = text.strip()
    total = 0.0
    pos = 0
    while pos < len(stripped):
        match = _DURATION_PART_RE.match(stripped, pos)
        if match is None:
            break
        unit = (match.group(2) or "s").lower()
        if match.group(2) is None and (pos != 0 or match.end() != len(stripped)):
            break  # a bare number (seconds) must be the whole text: "1m5" is ambiguous
        total += float(match.group(1)) * _DURATION_SECONDS[unit]
        pos = match.end()
    if not stripped or pos != len(stripped):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 2h, 1d or 1.5")
    if total > LONGEST_DURATION:  # inf too: digits alone never make NaN
        raise ValueError(f"invalid duration {text!r}: more than 100 years (36525d)")
    return total


def format_duration(seconds: float) -> str:
    """Format seconds for people: ``4.2s``, ``42s``, ``1m05s``, ``2h03m``, ``3d04h``.

    Under 10 s one decimal is kept; above, whole seconds are shown,
    and from an hour on the smallest unit is dropped. Non-finite values give ``--``.
    """
    if not math.isfinite(seconds):
        return "--"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if round(seconds, 1) < 10:
        return f"{seconds:.1f}s"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_seconds(seconds: float) -> str:
    """Format a number of seconds as given, e.g. by a ``Retry-After`` header: ``2s``, ``2.5s``.

    Whole numbers lose their decimal point; others keep one decimal. For elapsed times
    and ETAs use ``format_duration``.
    """
    if not math.isfinite(seconds):
        return "--"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.1f}s"
