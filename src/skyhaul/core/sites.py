"""Storage sites and their locations, and which location a package goes to next.

Rules:
- A site (an observatory's computers, a data centre) has locations; a location is named
  ``SITE/NAME`` and has a type: SOURCE (where instruments write), BUFFER (where packages
  wait for transfer), LONG_TERM_ARCHIVE, or PROCESSING (where data is staged for use).
- Several BUFFERs of one site give failover: the primary is the *active* buffer with the
  highest priority that is *usable* (answers and is not full). Whether it is usable needs
  the storage, so the caller says (``usable``); this module only orders.
- Transfers to long-term archives go round-robin across archive *sites* (not locations),
  so each site receives its share; within a site, the highest priority first.
- Names are one path-safe word each (letters, digits, ``.``, ``_``, ``-``), so that a
  ``SITE/NAME`` reference is never ambiguous and a queue name built from it is safe for
  a broker (two such names joined by ``_`` can still coincide: :mod:`.opqueues` finds
  those).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


class LocationType(StrEnum):
    """What a location is for."""

    SOURCE = "source"
    BUFFER = "buffer"
    LONG_TERM_ARCHIVE = "long_term_archive"
    PROCESSING = "processing"


#: Schemes a location's URL may have: a local directory or an S3 bucket and prefix.
LOCATION_SCHEMES = ("file", "s3")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The longest site or location name.
MAX_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Site:
    """A place with storage (an observatory's computers, a data centre)."""

    id: int
    name: str
    short_name: str


@dataclass(frozen=True, slots=True)
class Location:
    """Storage at a site. ``site`` is the site's name; ``url`` ``file:///...`` or ``s3://...``."""

    id: int
    site: str
    name: str
    type: LocationType
    url: str
    priority: int
    active: bool

    @property
    def ref(self) -> str:
        """The ``SITE/NAME`` reference users type."""
        return f"{self.site}/{self.name}"


def check_name(kind: str, text: str) -> str:
    """Return ``text`` if it is a valid site or location name.

    Raises
    ------
    ValueError
        With a message naming ``kind`` ("site", "location") and the rule.
    """
    if len(text) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(text):
        raise ValueError(
            f"bad {kind} name {text!r}: use letters, digits, '.', '_' and '-' "
            f"(at most {MAX_NAME_LENGTH}, starting with a letter or digit)"
        )
    return text


def parse_location_ref(text: str) -> tuple[str, str]:
    """Split a ``SITE/NAME`` reference into ``(site, name)``.

    Raises
    ------
    ValueError
        When ``text`` is not two valid names joined by one ``/``.
    """
    parts = text.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"a location is named SITE/NAME, got {text!r}")
    return check_name("site", parts[0]), check_name("location", parts[1])


def check_location_url(url: str) -> str:
    """Return ``url`` if it can be a location's storage URL.

    ``file:///absolute/path`` (no host) or ``s3://bucket[/prefix]``.

    Raises
    ------
    ValueError
        With a message saying what a location URL looks like.
    """
    expected = "use file:///absolute/path or s3://bucket/prefix"
    parts = urlsplit(url)
    if parts.scheme not in LOCATION_SCHEMES or parts.query or parts.fragment:
        raise ValueError(f"bad location URL {url!r}: {expected}")
    if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
        raise ValueError(f"bad location URL {url!r}: {expected}")
    if parts.scheme == "s3" and not parts.netloc:
        raise ValueError(f"bad location URL {url!r}: no bucket; {expected}")
    return url


def by_priority(locations: Iterable[Location]) -> list[Location]:
    """Order locations highest priority first (ties by name, so the order is stable)."""
    return sorted(locations, key=lambda location: (-location.priority, location.name))


def primary_buffer(
    locations: Iterable[Location], site: str, *, usable: Callable[[Location], bool]
) -> Location | None:
    """Return the buffer packages of ``site`` go to now, or None when none will do.

    The active BUFFERs of ``site``, highest priority first; the first for which
    ``usable`` is true (it answers and is not full). ``usable`` is only asked about the
    candidates, in order, until one is.
    """
    candidates = [
        location
        for location in locations
        if location.site == site and location.type is LocationType.BUFFER and location.active
    ]
    return next((location for location in by_priority(candidates) if usable(location)), None)


def archive_order(archives: Sequence[Location], last_used: str | None) -> list[Location]:
    """Return the active LONG_TERM_ARCHIVE locations in the order to try them.

    Round-robin across sites: sites in name order, starting with the one after
    ``last_used`` (the site of the previous transfer; None or an unknown site: the
    first). Within a site, highest priority first. The first location is the choice; the
    others are the fallbacks, in order.
    """
    active = [a for a in archives if a.active and a.type is LocationType.LONG_TERM_ARCHIVE]
    sites = sorted({location.site for location in active})
    if not sites:
        return []
    start = sites.index(last_used) + 1 if last_used in sites else 0
    ordered = sites[start:] + sites[:start]
    return [
        location
        for site in ordered
        for location in by_priority(a for a in active if a.site == site)
    ]
