"""What a viewer sees of the observatory's data: sites and locations, packages with
their copies, the copies at a location, and where one file or package is.

Rules:
- One set of documents for the command line's ``--json``, its tables and the web API,
  so they never disagree. Locations appear as ``SITE/NAME``; URLs are redacted.
- A copy names what it is a copy of (``file_id`` or ``package_id``), where (``location``
  and its type), its path there, status, sha256 and when its bytes were last verified.
- ``copies_of`` reads what a user types: a package name, a raw file as
  ``SITE/NAME:path``, or a raw file's id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import Any

from skyhaul.core.packages import Package, PackageState, RawFile
from skyhaul.core.placement import CopyStatus, PhysicalCopy
from skyhaul.core.redact import redact_url
from skyhaul.core.sites import Location
from skyhaul.errors import UsageError
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.services.observatory.refs import find_location

__all__ = [
    "copies_of",
    "copy_document",
    "location_copies",
    "location_document",
    "package_document",
    "packages_documents",
    "sites_documents",
]

Doc = dict[str, Any]


def location_document(location: Location) -> Doc:
    """One location."""
    return {
        "id": location.id,
        "ref": location.ref,
        "site": location.site,
        "name": location.name,
        "type": location.type.value,
        "url": redact_url(location.url),
        "priority": location.priority,
        "active": location.active,
    }


def sites_documents(store: ObservatoryStore) -> list[Doc]:
    """Every site with its locations (by priority)."""
    locations = store.list_locations()
    return [
        {
            "name": site.name,
            "short_name": site.short_name,
            "locations": [location_document(loc) for loc in locations if loc.site == site.name],
        }
        for site in store.list_sites()
    ]


def copy_document(copy: PhysicalCopy, locations: dict[int, Location]) -> Doc:
    """One physical copy; ``locations`` by id names its location."""
    location = locations.get(copy.location)
    return {
        "id": copy.id,
        "location": location.ref if location else str(copy.location),
        "location_type": location.type.value if location else None,
        "path": copy.path,
        "status": copy.status.value,
        "sha256": copy.sha256,
        "verified_at": copy.verified_at.isoformat() if copy.verified_at else None,
        "file_id": copy.file_id,
        "package_id": copy.package_id,
    }


def package_document(
    package: Package, copies: Iterable[PhysicalCopy], locations: dict[int, Location]
) -> Doc:
    """One package: state, members, tar size and sha256, copies, error."""
    source = locations.get(package.source_location)
    return {
        "id": package.id,
        "name": package.name,
        "obs_unit": package.obs_unit,
        "instrument_module": package.instrument_module,
        "state": package.state.value,
        "members": len(package.members),
        "members_size": sum(m.size for m in package.members),
        "size": package.size,
        "sha256": package.sha256,
        "created_at": package.created_at.isoformat(),
        "source_location": source.ref if source else str(package.source_location),
        "error": package.error,
        "copies": [copy_document(c, locations) for c in copies],
    }


def packages_documents(
    store: ObservatoryStore, states: Collection[PackageState] | None = None
) -> list[Doc]:
    """The packages (in ``states``) with their copies, by id."""
    locations = _locations(store)
    return [
        package_document(p, store.copies_of_package(p.id), locations)
        for p in store.packages(states or None)
    ]


def location_copies(
    store: ObservatoryStore, location: Location, *, limit: int | None = None, offset: int = 0
) -> Doc:
    """The copies at ``location`` counted by status, and a page of them (by id)."""
    copies = store.copies_at(location.id)
    counts = Counter(c.status.value for c in copies)
    shown = copies[offset:] if limit is None else copies[offset : offset + limit]
    locations = {location.id: location}
    return {
        "location": location_document(location),
        "total": len(copies),
        "by_status": {status.value: counts.get(status.value, 0) for status in CopyStatus},
        "copies": [copy_document(c, locations) for c in shown],
    }


def copies_of(store: ObservatoryStore, what: str) -> Doc:
    """Where a package (by name) or a raw file (``SITE/NAME:path`` or id) is.

    Returns
    -------
    dict
        ``{"kind": "package", "package": ...}`` (its copies inside) or
        ``{"kind": "file", "file": ..., "copies": [...]}``.

    Raises
    ------
    UsageError
        Nothing by that name.
    """
    text = what.strip()
    package = store.package_named(text)
    if package is not None:
        locations = _locations(store)
        doc = package_document(package, store.copies_of_package(package.id), locations)
        return {"kind": "package", "package": doc}
    file = _raw_file(store, text)
    locations = _locations(store)
    return {
        "kind": "file",
        "file": _file_document(file, locations),
        "copies": [copy_document(c, locations) for c in store.copies_of_file(file.id)],
    }


def _raw_file(store: ObservatoryStore, text: str) -> RawFile:
    if text.isdecimal():
        found = store.raw_file(int(text)) if len(text) < 19 else None
        if found is None:
            raise UsageError(f"no raw file with id {text}")
        return found
    ref, colon, path = text.partition(":")
    if not colon or not path:
        raise UsageError(f"no package named {text!r}; a raw file is SITE/NAME:path or its id")
    location = find_location(store, ref)
    found = store.raw_file_at(location.id, path.strip("/"))
    if found is None:
        raise UsageError(f"no raw file {path!r} registered at {location.ref}")
    return found


def _file_document(file: RawFile, locations: dict[int, Location]) -> Doc:
    location = locations.get(file.location)
    return {
        "id": file.id,
        "location": location.ref if location else str(file.location),
        "path": file.path,
        "size": file.size,
        "sha256": file.sha256,
        "obs_unit": file.obs_unit,
        "instrument_module": file.instrument_module,
        "registered_at": file.registered_at.isoformat(),
        "package_id": file.package_id,
    }


def _locations(store: ObservatoryStore) -> dict[int, Location]:
    return {location.id: location for location in store.list_locations()}
