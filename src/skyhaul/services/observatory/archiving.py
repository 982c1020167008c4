"""Archive: a verified package marked ARCHIVED, its metadata sidecar written beside it.

Rules:
- Only a package whose archive copy was verified gets here (UNPACK_VERIFY enqueues
  ARCHIVE); the copy is checked to be verified again, so that no path marks an
  unverified package ARCHIVED.
- The sidecar (JSON: package, members and checksums, observation unit, instrument module)
  is written whole before the package is marked, so an ARCHIVED package always has one.
  Writing it again after a kill gives the same document.
"""

from __future__ import annotations

from skyhaul.core.operations import Operation
from skyhaul.core.packages import Package, PackageEvent
from skyhaul.errors import IntegrityError
from skyhaul.services.observatory.layout import archive_path
from skyhaul.services.observatory.packing import write_sidecar
from skyhaul.services.observatory.stagework import Outcome, StageContext

__all__ = ["archive_package", "sidecar_document"]


def sidecar_document(package: Package) -> dict[str, object]:
    """What the sidecar of ``package`` says."""
    return {
        "package": package.name,
        "obs_unit": package.obs_unit,
        "instrument_module": package.instrument_module,
        "size": package.size,
        "sha256": package.sha256,
        "members": [
            {"path": member.path, "size": member.size, "sha256": member.sha256}
            for member in package.members
        ],
    }


async def archive_package(ctx: StageContext, operation: Operation) -> Outcome:
    """Run an ARCHIVE operation: write the sidecar, mark the package ARCHIVED."""
    package = await ctx.package(operation)
    archive = await ctx.location(operation.destination_location)
    path = archive_path(package)
    copies = await ctx.call(ctx.catalog.copies_of_package, package.id)
    if not any(c.location == archive.id and c.path == path and c.verified for c in copies):
        raise IntegrityError(f"{package.name} has no verified copy at {archive.ref}")
    await write_sidecar(ctx.storages.of(archive), path, sidecar_document(package))
    return Outcome(package_event=PackageEvent.ARCHIVED)
