"""Archived packages for tests that read them (staging, ``skyhaul packages``, the web
view): the real packing into real directories, recorded through the catalog's methods."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.locations import location_storage
from skyhaul.core.packages import Package, PackageEvent, plan_packages
from skyhaul.core.sites import Location
from skyhaul.services.observatory.packing import MemberSource, build_package


async def archive_all(
    catalog: Catalog, source: Location, archives: Sequence[Location], *, now: datetime
) -> list[Package]:
    """Package every unpackaged file of ``source``, write each tar to every archive at
    ``packages/{obs_unit}/NAME`` (a verified package copy), and mark it ARCHIVED."""
    reader = location_storage(source.url)
    done = []
    for plan in plan_packages(catalog.unpackaged_files(source.id), 1 << 30):
        package = catalog.create_package(plan, source_location=source.id, now=now)
        assert package is not None
        members = [MemberSource(f.path, f.size, f.sha256) for f in plan.files]
        tar_path = f"packages/{plan.obs_unit}/{plan.name}"
        for archive in archives:
            result = await build_package(reader, members, location_storage(archive.url), tar_path)
            catalog.record_copy(
                archive.id,
                tar_path,
                package_id=package.id,
                sha256=result.sha256,
                verified_at=now,
                now=now,
            )
        catalog.record_package_tar(package.id, size=result.size, sha256=result.sha256, now=now)
        catalog.set_package_state(package.id, PackageEvent.START_TRANSFER, now=now)
        catalog.set_package_state(package.id, PackageEvent.ARCHIVED, now=now)
        done.append(package)
    return done
