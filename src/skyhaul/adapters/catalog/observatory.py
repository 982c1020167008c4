"""The observatory in the catalog: sites, locations and raw files.

Rules:
- Sites and locations are looked up by name (``SITE/NAME``); everything else refers to
  a location by its id. A name already taken, or a site or location that does not
  exist, is a ``UsageError`` naming it.
- Registering raw files is idempotent by ``(location, path)``: a file known with the
  same size, sha256, obs unit and module is *known*; one that differs is *changed* and
  takes the new values, unless it is already in a package (*locked*: the package holds
  the bytes it was made of). Paths are made relative and clean (``core.paths``); one
  path given twice with different values refuses the whole batch.
- Each file registered new, or changed, gets its PRESENT physical copy at the location
  (its sha256, verified at registration) in the same transaction: the catalog always
  knows a file's last verified copy, from the start.
- Packages are in :mod:`.observatory_packages`, copies in :mod:`.observatory_copies`,
  operations in :mod:`.observatory_ops`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.observatory_cas import insert_or_skip
from skyhaul.adapters.catalog.observatory_schema import (
    locations,
    physical_copies,
    raw_files,
    sites,
)
from skyhaul.adapters.catalog.records import chunks
from skyhaul.core.packages import RawFile, RawFileSpec
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.placement import CopyStatus
from skyhaul.core.sites import (
    Location,
    LocationType,
    Site,
    by_priority,
    check_location_url,
    check_name,
)
from skyhaul.errors import UsageError

T = TypeVar("T")

__all__ = [
    "RawRegistration",
    "add_location",
    "add_site",
    "find_location",
    "list_locations",
    "list_sites",
    "raw_file",
    "register_raw_files",
    "set_location_active",
    "to_raw_file",
    "unpackaged_files",
]

RAW_FILE_COLUMNS = [
    raw_files.c.id,
    raw_files.c.location_id,
    raw_files.c.path,
    raw_files.c.size,
    raw_files.c.sha256,
    raw_files.c.obs_unit,
    raw_files.c.instrument_module,
    raw_files.c.registered_at,
    raw_files.c.package_id,
]
_LOCATION_COLUMNS = [
    locations.c.id,
    sites.c.name.label("site"),
    locations.c.name,
    locations.c.type,
    locations.c.url,
    locations.c.priority,
    locations.c.active,
]
#: The values of a raw file a registration compares and (when changed) updates.
_COMPARED = ("size", "sha256", "obs_unit", "instrument_module")


@dataclass(frozen=True, slots=True)
class RawRegistration:
    """What registering raw files did (counts of distinct paths)."""

    new: int
    known: int
    changed: int
    locked: int = 0
    """Changed, but already in a package: kept as packaged."""


# --- sites and locations -------------------------------------------------------------


def _usage(check: Callable[[], T]) -> T:
    """Run a core check; its ValueError is the user's to fix (a UsageError)."""
    try:
        return check()
    except ValueError as error:
        raise UsageError(str(error)) from None


def add_site(c: Connection, name: str, short_name: str | None, now: datetime) -> Site:
    """Add a site; ``short_name`` defaults to ``name``."""
    _usage(lambda: check_name("site", name))
    short = _usage(lambda: check_name("short name", short_name)) if short_name else name
    if c.scalar(select(sites.c.id).where(sites.c.name == name)) is not None:
        raise UsageError(f"site {name!r} exists already")
    statement = sites.insert().values(name=name, short_name=short, created_at=now)
    site_id = int(c.execute(statement.returning(sites.c.id)).scalar_one())
    return Site(site_id, name, short)


def list_sites(c: Connection) -> list[Site]:
    """Return every site, by name."""
    query = select(sites.c.id, sites.c.name, sites.c.short_name).order_by(sites.c.name)
    return [Site(int(row.id), row.name, row.short_name) for row in c.execute(query)]


def add_location(
    c: Connection,
    site: str,
    name: str,
    type: LocationType,
    url: str,
    priority: int,
    active: bool,
    now: datetime,
) -> Location:
    """Add a location to an existing site."""
    _usage(lambda: check_name("location", name))
    _usage(lambda: check_location_url(url))
    site_id = c.scalar(select(sites.c.id).where(sites.c.name == site))
    if site_id is None:
        raise UsageError(f"no site {site!r}")
    if find_location(c, site, name) is not None:
        raise UsageError(f"location {site}/{name} exists already")
    c.execute(
        locations.insert().values(
            site_id=site_id,
            name=name,
            type=LocationType(type).value,
            url=url,
            priority=priority,
            active=active,
            created_at=now,
            updated_at=now,
        )
    )
    found = find_location(c, site, name)
    assert found is not None
    return found


def _select_locations(c: Connection, *where: ColumnElement[bool]) -> list[Location]:
    query = select(*_LOCATION_COLUMNS).join(sites, sites.c.id == locations.c.site_id)
    return [
        Location(
            id=int(row.id),
            site=row.site,
            name=row.name,
            type=LocationType(row.type),
            url=row.url,
            priority=int(row.priority),
            active=bool(row.active),
        )
        for row in c.execute(query.where(*where))
    ]


def find_location(c: Connection, site: str, name: str) -> Location | None:
    """Return location ``site/name``, or None."""
    found = _select_locations(c, sites.c.name == site, locations.c.name == name)
    return found[0] if found else None


def location_by_id(c: Connection, location_id: int) -> Location | None:
    """Return the location with id ``location_id``, or None."""
    found = _select_locations(c, locations.c.id == location_id)
    return found[0] if found else None


def list_locations(c: Connection, site: str | None, type: LocationType | None) -> list[Location]:
    """Return the locations (of ``site``, of ``type``): by site, highest priority first."""
    where: list[ColumnElement[bool]] = []
    if site is not None:
        where.append(sites.c.name == site)
    if type is not None:
        where.append(locations.c.type == LocationType(type).value)
    found = _select_locations(c, *where)
    return [
        location
        for site_name in sorted({location.site for location in found})
        for location in by_priority(loc for loc in found if loc.site == site_name)
    ]


def set_location_active(
    c: Connection, site: str, name: str, active: bool, now: datetime
) -> Location:
    """Make location ``site/name`` active or inactive; return it as it is now."""
    found = find_location(c, site, name)
    if found is None:
        raise UsageError(f"no location {site}/{name}")
    c.execute(
        update(locations).where(locations.c.id == found.id).values(active=active, updated_at=now)
    )
    changed = location_by_id(c, found.id)
    assert changed is not None
    return changed


# --- raw files -----------------------------------------------------------------------


def to_raw_file(row: Any) -> RawFile:
    """Build a RawFile from a row of :data:`RAW_FILE_COLUMNS`."""
    return RawFile(
        id=int(row.id),
        location=int(row.location_id),
        path=row.path,
        size=int(row.size),
        sha256=row.sha256,
        obs_unit=row.obs_unit,
        instrument_module=row.instrument_module,
        registered_at=row.registered_at,
        package_id=None if row.package_id is None else int(row.package_id),
    )


def _distinct(specs: Sequence[RawFileSpec]) -> dict[str, dict[str, Any]]:
    """Return the specs' values by clean path; refuse a path given with two values."""
    values: dict[str, dict[str, Any]] = {}
    for spec in specs:
        path = str(safe_relative_path(spec.path))  # a PathEscapeError is a UsageError
        if spec.size < 0:
            raise UsageError(f"raw file {path!r}: negative size {spec.size}")
        if len(spec.sha256) != 64 or spec.sha256.strip("0123456789abcdef"):
            raise UsageError(f"raw file {path!r}: sha256 must be 64 lowercase hex digits")
        row = {name: getattr(spec, name) for name in _COMPARED}
        if values.setdefault(path, row) != row:
            raise UsageError(f"raw file {path!r} is listed twice with different values")
    return values


def register_raw_files(
    c: Connection, location_id: int, specs: Sequence[RawFileSpec], now: datetime
) -> RawRegistration:
    """Register raw files at a location (see the module's rules)."""
    if location_by_id(c, location_id) is None:
        raise UsageError(f"no location with id {location_id}")
    wanted = _distinct(specs)
    new = known = changed = locked = 0
    c_ = raw_files.c
    for chunk in chunks(sorted(wanted)):
        stored = {
            row.path: row
            for row in c.execute(
                select(c_.id, c_.path, c_.package_id, *(c_[n] for n in _COMPARED)).where(
                    c_.location_id == location_id, c_.path.in_(chunk)
                )
            )
        }
        fresh = [
            {"location_id": location_id, "path": path, "registered_at": now, **wanted[path]}
            for path in chunk
            if path not in stored
        ]
        # A concurrent registration of the same path wins; ours counts it as known.
        inserted = insert_or_skip(c, raw_files, fresh, [c_.id, c_.path])
        new += len(inserted)
        known += len(fresh) - len(inserted)
        present = [(int(row.id), str(row.path)) for row in inserted]
        for path, row in stored.items():
            if all(getattr(row, name) == wanted[path][name] for name in _COMPARED):
                known += 1
            elif row.package_id is not None:
                locked += 1
            else:
                statement = (
                    update(raw_files)
                    .where(c_.id == row.id, c_.package_id.is_(None))
                    .values(registered_at=now, **wanted[path])
                    .returning(c_.id)
                )
                if c.execute(statement).first() is None:  # packaged meanwhile
                    locked += 1
                else:
                    changed += 1
                    present.append((int(row.id), path))
        _record_present(c, location_id, present, wanted, now)
    return RawRegistration(new=new, known=known, changed=changed, locked=locked)


def _record_present(
    c: Connection,
    location_id: int,
    present: Sequence[tuple[int, str]],
    wanted: dict[str, dict[str, Any]],
    now: datetime,
) -> None:
    """Record (or refresh) the PRESENT copy of each file just registered or changed, in
    the registration's own transaction: a file is never registered without its copy."""
    if not present:
        return
    p = physical_copies.c
    rows = [
        {
            "location_id": location_id,
            "file_id": file_id,
            "path": path,
            "status": CopyStatus.PRESENT.value,
            "sha256": wanted[path]["sha256"],
            "verified_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for file_id, path in present
    ]
    added = {int(row.file_id) for row in insert_or_skip(c, physical_copies, rows, [p.file_id])}
    for row in rows:
        if row["file_id"] not in added:  # a changed file: its copy holds the new bytes now
            c.execute(
                update(physical_copies)
                .where(p.location_id == location_id, p.file_id == row["file_id"])
                .values(sha256=row["sha256"], verified_at=now, updated_at=now)
            )


def unpackaged_files(c: Connection, location_id: int, limit: int | None) -> list[RawFile]:
    """Return the files of a location in no package yet, by path."""
    query = (
        select(*RAW_FILE_COLUMNS)
        .where(raw_files.c.location_id == location_id, raw_files.c.package_id.is_(None))
        .order_by(raw_files.c.path)
        .limit(limit)
    )
    return [to_raw_file(row) for row in c.execute(query)]


def raw_file(
    c: Connection, file_id: int | None = None, *, location_id: int | None = None, path: str = ""
) -> RawFile | None:
    """Return one raw file by id, or by location and path; None if there is none."""
    if file_id is not None:
        where = [raw_files.c.id == file_id]
    else:
        where = [raw_files.c.location_id == location_id, raw_files.c.path == path]
    row = c.execute(select(*RAW_FILE_COLUMNS).where(*where)).first()
    return None if row is None else to_raw_file(row)
