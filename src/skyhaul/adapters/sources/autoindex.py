"""Reading the HTML directory listings web servers generate (autoindex pages).

Rules:
- One parser for Apache (``<pre>`` and ``<table>`` FancyIndexing), nginx (exact and
  ``autoindex_exact_size off``), lighttpd (``mod_dirlisting``) and Python's
  ``http.server``: every ``<a href>`` is a candidate entry, and the text that follows it
  up to the end of its row (a table row, a ``<pre>`` line, a list item) is searched for a
  modification time and then a size. Such pages differ in layout, not in that order.
- Only direct children of the listed directory are entries. Sort links (``?C=N;O=D``),
  the parent directory, ``../``, other hosts and schemes, paths outside the directory or
  deeper inside it, and names with separators or control characters once decoded are
  skipped: a listing is untrusted input.
- The name comes from the link target, URL-decoded (link texts are cut short by Apache
  and nginx), and a name ending in ``/`` is a directory.
- ``123`` is an exact byte count; ``1.2M``, ``512K`` and ``2.4K`` are rounded by the
  server, so ``size_exact`` is False and the size must never be used to verify a file.
- Listing times carry no zone; they are read as UTC (nginx's default; Apache and
  lighttpd show the server's local time, which is good enough to notice a change).
- Pure: standard library only, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import SplitResult, unquote, urldefrag, urljoin, urlsplit, urlunsplit

__all__ = ["IndexEntry", "parse_autoindex"]


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One entry of a directory listing.

    Parameters
    ----------
    name : str
        The entry's name, URL-decoded, without a trailing ``/``.
    url : str
        Absolute URL of the entry (a directory's ends with ``/``).
    is_dir : bool
        Whether the entry is a subdirectory.
    size : int or None
        Size in bytes as the listing shows it (None for directories and unknown sizes).
    size_exact : bool
        Whether ``size`` is an exact byte count rather than a rounded ``1.2M``.
    modified : datetime or None
        Last modification time (UTC), when the listing shows it.
    """

    name: str
    url: str
    is_dir: bool
    size: int | None = None
    size_exact: bool = False
    modified: datetime | None = None


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Apache 2.4 "2024-03-01 12:34", Apache 2.2 / nginx "01-Mar-2024 12:34",
# lighttpd "2024-Mar-01 12:34:56".
_DATE_RE = re.compile(
    r"(?:(?P<y1>\d{4})-(?P<m1>\d{2})-(?P<d1>\d{2})"
    r"|(?P<d2>\d{1,2})-(?P<b2>[A-Za-z]{3})-(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<b3>[A-Za-z]{3})-(?P<d3>\d{1,2}))"
    r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
)
_SIZE_RE = re.compile(
    r"(?<!\S)(?:(?P<dash>-)|(?P<number>\d+(?:\.\d+)?)\s?(?P<unit>[KMGTPE])?(?:i?B|bytes)?)(?!\S)",
    re.IGNORECASE,
)
_UNIT_POWERS = {unit: power for power, unit in enumerate("KMGTPE", start=1)}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Tags that end an entry's row outside tables (inside a table only the row does).
_BLOCK_TAGS = frozenset({"br", "hr", "li", "ul", "ol", "p", "div", "dd", "dt", "h1", "h2"})


def parse_autoindex(html: str, base_url: str) -> list[IndexEntry]:
    """Return the entries of the directory listing page ``html`` served at ``base_url``.

    Parameters
    ----------
    html : str
        The page.
    base_url : str
        URL of the listed directory; a ``/`` is added when its path lacks one, since a
        listing describes a directory.

    Returns
    -------
    list of IndexEntry
        Direct children in page order, each once (see the module's rules for what is
        skipped).
    """
    base = _directory(urlsplit(base_url))
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    entries: dict[str, IndexEntry] = {}
    for href, trailing in collector.links:
        entry = _entry(base, href, trailing)
        if entry is None:
            continue
        known = entries.get(entry.url)
        # With IconsAreLinks each row links twice; the link followed by the columns wins.
        entries[entry.url] = entry if known is None else _merge(known, entry)
    return list(entries.values())


def _directory(base: SplitResult) -> SplitResult:
    path = base.path if base.path.endswith("/") else base.path + "/"
    return base._replace(path=path, query="", fragment="")


def _entry(base: SplitResult, href: str, trailing: str) -> IndexEntry | None:
    href = href.strip()
    if not href or href.startswith(("?", "#")):
        return None
    url, _ = urldefrag(urljoin(urlunsplit(base), href))
    parts = urlsplit(url)
    if (
        parts.scheme.lower() != base.scheme.lower()
        or parts.netloc.lower() != base.netloc.lower()
        or parts.query
    ):
        return None
    path, directory = unquote(parts.path), unquote(base.path)
    if not path.startswith(directory):
        return None
    rest = path[len(directory) :]
    is_dir = rest.endswith("/")
    name = rest[:-1] if is_dir else rest
    if not name or name in (".", "..") or "/" in name or "\\" in name or _CONTROL_RE.search(name):
        return None
    size, exact, modified = _columns(trailing)
    return IndexEntry(
        name=name,
        url=url,
        is_dir=is_dir,
        size=None if is_dir else size,
        size_exact=exact and not is_dir,
        modified=modified,
    )


def _merge(first: IndexEntry, second: IndexEntry) -> IndexEntry:
    return replace(
        first,
        size=first.size if first.size is not None else second.size,
        size_exact=first.size_exact if first.size is not None else second.size_exact,
        modified=first.modified or second.modified,
    )


def _columns(text: str) -> tuple[int | None, bool, datetime | None]:
    """Read ``(size, size_exact, modified)`` from the text that follows a link."""
    modified = None
    start = 0
    date = _DATE_RE.search(text)
    if date is not None:
        modified = _datetime(date)
        start = date.end()
    size = _SIZE_RE.search(text, start)
    if size is None or size["dash"]:
        return None, False, modified
    number, unit = size["number"], (size["unit"] or "").upper()
    if not unit and number.isdigit():
        return int(number), True, modified
    return round(float(number) * 1024 ** _UNIT_POWERS.get(unit, 0)), False, modified


def _datetime(match: re.Match[str]) -> datetime | None:
    year = match["y1"] or match["y2"] or match["y3"]
    day = match["d1"] or match["d2"] or match["d3"]
    month_name = (match["b2"] or match["b3"] or "").lower()
    month = _MONTHS.get(month_name) if month_name else int(match["m1"])
    if month is None:
        return None
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None


class _LinkCollector(HTMLParser):
    """Collects ``(href, text after the link up to the end of its row)`` pairs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None  # the link whose row is being read
        self._trailing: list[str] = []
        self._in_link = False
        self._pre = 0
        self._table = 0

    def _end_row(self) -> None:
        if self._href is not None:
            self.links.append((self._href, "".join(self._trailing)))
        self._href = None
        self._trailing = []
        self._in_link = False

    def _in_table_row(self) -> bool:
        return self._table > 0 and self._pre == 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href is None:
                return
            self._end_row()
            self._href, self._in_link = href, True
        elif tag in ("pre", "table", "tr"):
            self._end_row()
            self._pre += tag == "pre"
            self._table += tag == "table"
        elif tag in ("td", "th"):
            self._trailing.append("\t")  # cells must not run together: "12:34" "2.1M"
        elif tag in _BLOCK_TAGS and not self._in_table_row():
            self._end_row()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False
        elif tag in ("pre", "table", "tr"):
            self._end_row()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag == "table":
                self._table = max(0, self._table - 1)
        elif tag in _BLOCK_TAGS and not self._in_table_row():
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self._href is None or self._in_link:
            return
        if self._in_table_row():
            self._trailing.append(data)
            return
        line, newline, _ = data.partition("\n")
        self._trailing.append(line)
        if newline:
            self._end_row()

    def close(self) -> None:
        super().close()
        self._end_row()
