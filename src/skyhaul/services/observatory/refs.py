"""Locations as users name them (``SITE/NAME``), and the directory of a local one.

Rules:
- A reference that is malformed or names no location is the user's to fix: a
  ``UsageError`` with one line, never a lookup that returns nothing silently.
- Only ``file://`` locations have a directory here; what needs one (a scan) refuses an
  ``s3://`` location in one line.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from skyhaul.core.sites import Location, parse_location_ref
from skyhaul.errors import UsageError
from skyhaul.ports.catalog import ObservatoryStore

__all__ = ["find_location", "local_root"]


def find_location(store: ObservatoryStore, ref: str) -> Location:
    """Return the location ``ref`` (``SITE/NAME``) names.

    Raises
    ------
    UsageError
        When ``ref`` is not ``SITE/NAME`` or no such location is in the catalog.
    """
    try:
        site, name = parse_location_ref(ref)
    except ValueError as error:
        raise UsageError(str(error)) from None
    location = store.location(site, name)
    if location is None:
        raise UsageError(f"no location {site}/{name} (see skyhaul location list)")
    return location


def local_root(location: Location, *, purpose: str) -> Path:
    """Return the directory of a ``file://`` location.

    Raises
    ------
    UsageError
        For any other location; the message says ``purpose`` needs a local one.
    """
    parts = urlsplit(location.url)
    if parts.scheme != "file":
        raise UsageError(f"{location.ref} is at {location.url}: {purpose} needs a file:// location")
    return Path(unquote(parts.path))
