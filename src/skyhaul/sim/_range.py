"""The simulator's own reading of ``Range`` and ``If-Range`` (RFC 9110 §14), kept private.

Rules:
- One range only. A header the simulator does not understand (another unit, several
  ranges, bad syntax) is ignored and the full body is sent with 200, as RFC 9110 allows.
- ``bytes=a-b`` with ``a`` past the end, and ``bytes=-0``, are unsatisfiable (416).
- ``If-Range`` matches only the current strong ETag, or an HTTP date equal to the current
  ``Last-Modified``; when it does not match, the range is ignored (200, full body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class ByteSpan:
    """Bytes ``start`` to ``stop - 1`` of a body."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        """Number of bytes in the span."""
        return self.stop - self.start


UNSATISFIABLE = ByteSpan(-1, -1)
"""Marker for a well-formed range that selects nothing (answer 416)."""

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(value: str, size: int) -> ByteSpan | None:
    """Read a ``Range`` header against a body of ``size`` bytes.

    Parameters
    ----------
    value : str
        The header's value.
    size : int
        Size of the full body.

    Returns
    -------
    ByteSpan or None
        The span to send; :data:`UNSATISFIABLE` for a 416; None to ignore the header.
    """
    match = _SINGLE.match(value)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteSpan(max(0, size - suffix), size)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    stop = size if not last else min(size, int(last) + 1)
    return ByteSpan(start, stop)


def if_range_matches(value: str, etag: str, last_modified: datetime) -> bool:
    """Whether an ``If-Range`` value still designates the current representation.

    Parameters
    ----------
    value : str
        The header's value: an entity tag or an HTTP date.
    etag : str
        The current strong ETag, quoted.
    last_modified : datetime
        The current ``Last-Modified`` time (whole seconds, UTC).

    Returns
    -------
    bool
        True if the range may be honoured.
    """
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag  # weak tags never match (strong comparison)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return moment == last_modified
