"""Byte ranges: segment plans, resume arithmetic and HTTP range headers.

Rules:
- Inside skyhaul a range is half-open, ``[start, end)``, like ``range()``; only the
  HTTP wire format (``bytes=0-99``, ``bytes 0-99/1000``) uses inclusive last bytes, and
  the conversion happens in this module only.
- Segments are aligned to multiples of the segment size, so planning again after a
  crash yields the same pieces and a segment map from a previous run stays meaningful.
- Parsers are strict: anything malformed raises ``ValueError``; a 206 we cannot read
  exactly is never appended to a file. No number past ``LARGEST_OFFSET`` (what a file
  offset can hold) is accepted: a server's 10**23 would only overflow the part file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

#: The largest byte offset of a file (a signed 64-bit ``off_t``).
LARGEST_OFFSET = 2**63 - 1


@dataclass(frozen=True, slots=True, order=True)
class ByteRange:
    """The bytes ``[start, end)`` of a file.

    Parameters
    ----------
    start : int
        First byte, ``>= 0``.
    end : int
        One past the last byte, ``> start`` (empty ranges do not exist).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"invalid byte range [{self.start}, {self.end})")

    @property
    def length(self) -> int:
        """Number of bytes in the range."""
        return self.end - self.start

    def header_value(self) -> str:
        """Return the ``Range`` request header value, e.g. ``bytes=0-8388607``."""
        return f"bytes={self.start}-{self.end - 1}"


def merge_ranges(ranges: Iterable[ByteRange]) -> list[ByteRange]:
    """Return the ranges sorted, with overlapping and touching ranges joined."""
    merged: list[ByteRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = ByteRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return merged


def missing_ranges(size: int, done: Sequence[ByteRange]) -> list[ByteRange]:
    """Return the parts of ``[0, size)`` not covered by ``done`` (which may run past ``size``)."""
    if size < 0:
        raise ValueError(f"invalid size {size}")
    missing: list[ByteRange] = []
    pos = 0
    for r in merge_ranges(done):
        if r.start >= size:
            break
        if r.start > pos:
            missing.append(ByteRange(pos, r.start))
        pos = max(pos, r.end)
    if pos < size:
        missing.append(ByteRange(pos, size))
    return missing


def plan_segments(size: int, segment_size: int, done: Sequence[ByteRange] = ()) -> list[ByteRange]:
    """Split what is missing of a file into segments to request (see ``iter_segments``)."""
    return list(iter_segments(size, segment_size, done))


def iter_segments(
    size: int, segment_size: int, done: Sequence[ByteRange] = ()
) -> Iterator[ByteRange]:
    """Yield what is missing of a file as segments to request, one at a time.

    A size is whatever a server claims: one of 2**62 bytes would make half a trillion
    segments, so they are made as they are asked for.

    Parameters
    ----------
    size : int
        Size of the file in bytes.
    segment_size : int
        Largest segment, in bytes (``> 0``).
    done : sequence of ByteRange
        Ranges already on disk and durable.

    Yields
    ------
    ByteRange
        The missing bytes, in order, cut at every multiple of ``segment_size``: each
        piece lies inside one aligned block ``[k * segment_size, (k + 1) * segment_size)``,
        so re-planning with more ranges done yields a subset of the same boundaries.
    """
    if segment_size <= 0:
        raise ValueError(f"invalid segment size {segment_size}")
    for gap in missing_ranges(size, done):
        start = gap.start
        while start < gap.end:
            block_end = (start // segment_size + 1) * segment_size
            end = min(block_end, gap.end)
            yield ByteRange(start, end)
            start = end


def contiguous_prefix(done: Sequence[ByteRange]) -> int:
    """Return how many bytes from byte 0 are covered without a gap."""
    merged = merge_ranges(done)
    return merged[0].end if merged and merged[0].start == 0 else 0


@dataclass(frozen=True, slots=True)
class ContentRange:
    """A parsed ``Content-Range`` of a 206 answer.

    Parameters
    ----------
    start, end : int
        The bytes ``[start, end)`` in the body (``end`` exclusive).
    total : int or None
        Full size of the representation; ``None`` when the server sent ``*``.
    """

    start: int
    end: int
    total: int | None

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end or (self.total is not None and self.end > self.total):
            raise ValueError(f"invalid content range [{self.start}, {self.end})/{self.total}")

    @property
    def byte_range(self) -> ByteRange:
        """The same bytes as a ``ByteRange``."""
        return ByteRange(self.start, self.end)


_CONTENT_RANGE_RE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", re.IGNORECASE)
_UNSATISFIED_RE = re.compile(r"\s*bytes\s+\*/(\d+)\s*", re.IGNORECASE)
_LONGEST_NUMBER = len(str(LARGEST_OFFSET))  # longer digit strings are never parsed
_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)


def parse_content_range(value: str) -> ContentRange:
    """Parse ``bytes 0-99/1000`` or ``bytes 0-99/*`` into a ``ContentRange``.

    Raises
    ------
    ValueError
        For anything else, including ``bytes */1000`` (a 416 answer: see
        ``parse_unsatisfied_range``), a last byte before the first, or a range that does
        not fit in the total.
    """
    match = _CONTENT_RANGE_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"malformed Content-Range {value!r}")
    first, last, total = match.groups()
    if any(len(number) > _LONGEST_NUMBER for number in (first, last, total)):
        raise ValueError(f"Content-Range {value!r} is past the largest file offset")
    end = int(last) + 1
    size = None if total == "*" else int(total)
    if end > LARGEST_OFFSET or (size is not None and size > LARGEST_OFFSET):
        raise ValueError(f"Content-Range {value!r} is past the largest file offset")
    try:
        return ContentRange(int(first), end, size)
    except ValueError:
        raise ValueError(f"invalid Content-Range {value!r}") from None


def parse_unsatisfied_range(value: str) -> int | None:
    """Return the size from a 416 answer's ``Content-Range: bytes */1000``, else ``None``."""
    match = _UNSATISFIED_RE.fullmatch(value)
    if match is None or len(match.group(1)) > _LONGEST_NUMBER:
        return None
    size = int(match.group(1))
    return size if size <= LARGEST_OFFSET else None


def format_content_range(r: ByteRange, total: int) -> str:
    """Return the ``Content-Range`` value for ``r`` of a ``total``-byte file."""
    if r.end > total:
        raise ValueError(f"byte range [{r.start}, {r.end}) does not fit in {total} bytes")
    return f"bytes {r.start}-{r.end - 1}/{total}"


def parse_range_header(value: str, size: int) -> ByteRange | None:
    """Read a request's ``Range`` header the way a server does (one range only).

    Parameters
    ----------
    value : str
        ``bytes=a-b``, ``bytes=a-`` or the suffix form ``bytes=-n``.
    size : int
        Size of the file being served.

    Returns
    -------
    ByteRange or None
        The bytes to send, with the end clamped to ``size``; ``None`` when the range is
        unsatisfiable (starts at or past the end, a zero suffix, an empty file): answer 416.

    Raises
    ------
    ValueError
        When the header is malformed, uses another unit, or asks for several ranges.
    """
    if "," in value:
        raise ValueError(f"multiple ranges are not supported: {value!r}")
    match = _RANGE_RE.fullmatch(value)
    if match is None or match.groups() == ("", ""):
        raise ValueError(f"malformed Range header {value!r}")
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return None
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    if last != "" and int(last) < start:
        raise ValueError(f"malformed Range header {value!r}: last byte before first")
    if start >= size:
        return None
    end = size if last == "" else min(int(last) + 1, size)
    return ByteRange(start, end)


def if_range_value(etag: str | None, last_modified: str | None) -> str | None:
    """Choose the ``If-Range`` validator: a strong ETag, else ``Last-Modified``, else ``None``.

    Weak ETags (``W/"..."``) are never used: RFC 9110 forbids them in ``If-Range``,
    because a weak match does not promise identical bytes.
    """
    strong = etag.strip() if etag else ""
    if strong and strong[:2].upper() != "W/":
        return strong
    if last_modified and last_modified.strip():
        return last_modified.strip()
    return None
