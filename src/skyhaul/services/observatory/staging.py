"""Staging on demand: the archived packages of an observation unit (or one package)
unpacked into a PROCESSING location, for use.

Rules:
- Only ARCHIVED packages are staged, and only from a LONG_TERM_ARCHIVE copy whose bytes
  are there to read; verified copies are tried first, then the others, in copy order. A
  copy that fails (damaged, unreachable) is reported and the next one is tried.
- Every member is checked against the catalog's sha256 as it is unpacked
  (``unpack_tar(expected=...)``): a member whose bytes differ is never committed.
- Members land at their own paths (``{obs_unit}/{instrument_module}/...``) and each is
  recorded as a STAGED copy of its raw file, verified now. Staging again rewrites them.
- Staging reads archive copies only, never a source's or a buffer's, so it never keeps
  the deletion stage from its work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from skyhaul.adapters.locations import location_storage
from skyhaul.adapters.tarpack import unpack_tar
from skyhaul.core.packages import Package, PackageState
from skyhaul.core.placement import READABLE_STATUSES, CopyStatus, PhysicalCopy
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import SkyhaulError, UsageError
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.ports.locations import LocationStorage
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.observatory.refs import find_location

__all__ = ["StagedPackage", "StagingReport", "stage"]

StorageFor = Callable[[str], LocationStorage]


@dataclass(frozen=True, slots=True)
class StagedPackage:
    """One package unpacked: from which archive location, how many files and bytes."""

    name: str
    archive: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class StagingReport:
    """What ``stage`` did: the destination (``SITE/NAME``) and each package staged."""

    destination: str
    packages: tuple[StagedPackage, ...]

    def as_json(self) -> dict[str, object]:
        """The report as a JSON document."""
        return {
            "destination": self.destination,
            "packages": [
                {"name": p.name, "archive": p.archive, "files": p.files, "bytes": p.bytes}
                for p in self.packages
            ],
        }


async def stage(
    store: ObservatoryStore,
    what: str,
    destination: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    storage_for: StorageFor = location_storage,
) -> StagingReport:
    """Unpack the ARCHIVED package ``what`` (a package name), or those of observation
    unit ``what``, into the PROCESSING location ``destination`` (``SITE/NAME``).

    Raises
    ------
    UsageError
        An unknown or non-PROCESSING destination, or nothing ARCHIVED to stage.
    SkyhaulError
        No archive copy of a package could be unpacked (the last copy's error).
    """
    target = await asyncio.to_thread(find_location, store, destination)
    if target.type is not LocationType.PROCESSING:
        raise UsageError(f"{target.ref} is a {target.type.value} location, not processing")
    packages = await asyncio.to_thread(_archived, store, what)
    into = storage_for(target.url)
    try:
        staged = [
            await _stage_one(store, package, target, into, clock, storage_for)
            for package in packages
        ]
    finally:
        await into.aclose()
    return StagingReport(target.ref, tuple(staged))


def _archived(store: ObservatoryStore, what: str) -> list[Package]:
    named = store.package_named(what)
    found = [named] if named is not None else store.packages(obs_unit=what)
    if not found:
        raise UsageError(f"no package and no observation unit named {what!r}")
    archived = [p for p in found if p.state is PackageState.ARCHIVED]
    if not archived:
        states = ", ".join(sorted({f"{p.name} {p.state.value}" for p in found}))
        raise UsageError(f"{what}: nothing ARCHIVED to stage yet ({states})")
    return archived


async def _stage_one(
    store: ObservatoryStore,
    package: Package,
    target: Location,
    into: LocationStorage,
    clock: Clock,
    storage_for: StorageFor,
) -> StagedPackage:
    candidates = await asyncio.to_thread(_archive_copies, store, package)
    if not candidates:
        raise UsageError(f"{package.name}: ARCHIVED but no archive copy is recorded")
    expected = {m.path: m.sha256 for m in package.members}
    failure: SkyhaulError | None = None
    for copy, archive in candidates:
        source = storage_for(archive.url)
        try:
            result = await unpack_tar(source.open_read(copy.path), into, expected=expected)
        except SkyhaulError as error:
            failure = error  # damaged or unreachable: the next archive copy may do
            continue
        finally:
            await source.aclose()
        await asyncio.to_thread(_record_staged, store, package, target, clock.now())
        return StagedPackage(package.name, archive.ref, len(result.members), result.size)
    assert failure is not None
    raise failure


def _archive_copies(
    store: ObservatoryStore, package: Package
) -> list[tuple[PhysicalCopy, Location]]:
    """The package's readable archive copies with their locations, verified ones first."""
    found: list[tuple[PhysicalCopy, Location]] = []
    for copy in store.copies_of_package(package.id):
        location = store.location_by_id(copy.location)
        if (
            location is not None
            and location.type is LocationType.LONG_TERM_ARCHIVE
            and copy.status in READABLE_STATUSES
        ):
            found.append((copy, location))
    return sorted(found, key=lambda pair: pair[0].verified_at is None)


def _record_staged(
    store: ObservatoryStore, package: Package, target: Location, now: datetime
) -> None:
    for member in package.members:
        store.record_copy(
            target.id,
            member.path,
            file_id=member.file_id,
            status=CopyStatus.STAGED,
            sha256=member.sha256,
            verified_at=now,
            now=now,
        )
