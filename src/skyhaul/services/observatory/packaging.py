"""Packaging: unpackaged raw files grouped into packages, each tar written at its source and
moved to the site's primary buffer.

Rules:
- The planner groups each active SOURCE location's unpackaged files with
  ``plan_packages`` and creates each package with its CREATE_PACKAGE operation in one
  transaction (a file never goes into two packages; a package is never left unmade).
- The worker writes the tar at the source's hidden ``.skyhaul/packages/NAME`` (each
  member read once, hashed as it is written), records its size and sha256, and moves it
  to the site's primary buffer as ``packages/NAME``: the active buffer with the highest
  priority whose storage answers. When the move to it fails, the next buffer is tried
  (failover). The buffer copy is recorded (verified: the move hashed it), then the
  source's tar is deleted, and the TRANSFER to the next archive is enqueued as the
  operation completes.
- Every step can be run again after a kill: a tar already recorded and still at the
  source is not written twice, a buffer copy already recorded is not moved twice.
"""

from __future__ import annotations

import hashlib
import logging

from skyhaul.core.operations import Operation, OperationKind
from skyhaul.core.packages import Package, plan_packages
from skyhaul.core.placement import READABLE_STATUSES
from skyhaul.core.sites import Location, LocationType, primary_buffer
from skyhaul.errors import ConfigError, DiskError, IntegrityError
from skyhaul.ports.locations import LocationStorage
from skyhaul.services.observatory.layout import buffer_path, source_tar_path
from skyhaul.services.observatory.moving import move_object
from skyhaul.services.observatory.packing import MemberSource, build_package
from skyhaul.services.observatory.stagework import Outcome, StageContext, StageCounts
from skyhaul.services.observatory.transfer import next_archive

__all__ = ["make_package", "plan_new_packages"]

logger = logging.getLogger("skyhaul.observatory")


async def plan_new_packages(ctx: StageContext) -> StageCounts:
    """Create packages (with their CREATE_PACKAGE operation) for every active source."""
    counts = StageCounts()
    sources = await ctx.call(ctx.catalog.list_locations, type=LocationType.SOURCE)
    for source in sources:
        if not source.active:
            continue
        files = await ctx.call(ctx.catalog.unpackaged_files, source.id)
        if not files:
            continue
        taken = await ctx.call(ctx.catalog.package_names, {f.obs_unit for f in files})
        for plan in plan_packages(files, ctx.settings.max_package_size, taken=taken):
            created = await ctx.call(
                ctx.catalog.create_package,
                plan,
                source_location=source.id,
                now=ctx.clock.now(),
                then=[ctx.new(OperationKind.CREATE_PACKAGE, source_location=source.id)],
            )
            if created is not None:
                counts.done += 1
    return counts


async def make_package(ctx: StageContext, operation: Operation) -> Outcome:
    """Run a CREATE_PACKAGE operation: tar at the source, then into a buffer."""
    package = await ctx.package(operation)
    source = await ctx.location(package.source_location)
    source_storage = ctx.storages.of(source)
    tar_path = source_tar_path(package)
    buffer = await _recorded_buffer(ctx, package)
    if buffer is None:
        package = await _tar_at_source(ctx, package, source_storage, tar_path)
        buffer = await _move_to_buffer(ctx, package, source, source_storage, tar_path)
    await source_storage.delete(tar_path)
    archive = await next_archive(ctx)
    return Outcome(
        then=[
            ctx.new(
                OperationKind.TRANSFER,
                package_id=package.id,
                source_location=buffer.id,
                destination_location=archive.id,
            )
        ]
    )


async def _recorded_buffer(ctx: StageContext, package: Package) -> Location | None:
    """The buffer a readable copy of the package is recorded at (a rerun), or None."""
    for copy in await ctx.call(ctx.catalog.copies_of_package, package.id):
        if copy.status in READABLE_STATUSES:
            location = await ctx.location(copy.location)
            if location.type is LocationType.BUFFER:
                return location
    return None


async def _tar_at_source(
    ctx: StageContext, package: Package, storage: LocationStorage, tar_path: str
) -> Package:
    found = await storage.stat(tar_path)
    if package.sha256 is not None and found is not None and found.size == package.size:
        return package  # written and recorded before a kill
    members = []
    for member in package.members:
        info = await storage.stat(member.path)
        members.append(
            MemberSource(member.path, member.size, member.sha256, info.mtime if info else 0.0)
        )
    result = await build_package(storage, members, storage, tar_path)
    await ctx.call(
        ctx.catalog.record_package_tar,
        package.id,
        size=result.size,
        sha256=result.sha256,
        now=ctx.clock.now(),
    )
    return await ctx.call(ctx.catalog.package, package.id) or package


async def _move_to_buffer(
    ctx: StageContext,
    package: Package,
    source: Location,
    source_storage: LocationStorage,
    tar_path: str,
) -> Location:
    """Move the tar to the primary buffer, failing over to the next; record the copy."""
    buffers = await ctx.call(ctx.catalog.list_locations, site=source.site, type=LocationType.BUFFER)
    if not any(b.active for b in buffers):
        raise ConfigError(f"site {source.site} has no active buffer for {package.name}")
    dest_path = buffer_path(package)
    answers: dict[int, bool] = {}
    for candidate in buffers:
        answers[candidate.id] = candidate.active and await _answers(
            ctx.storages.of(candidate), dest_path
        )
    last_error: Exception | None = None
    while True:
        buffer = primary_buffer(buffers, source.site, usable=lambda b: answers[b.id])
        if buffer is None:
            raise last_error or DiskError(f"no buffer of site {source.site} answers")
        storage = ctx.storages.of(buffer)
        try:
            moved = await move_object(
                source_storage, tar_path, storage, dest_path, expected_sha256=package.sha256
            )
        except Exception as error:
            logger.warning("buffer %s failed (%s); trying the next", buffer.ref, error)
            answers[buffer.id] = False
            last_error = error
            continue
        sha256 = moved.sha256 or await _hash(storage, dest_path)
        if sha256 != package.sha256:  # a resumed move whose first part was not these bytes
            await storage.delete(dest_path)
            raise IntegrityError(f"{dest_path} at {buffer.ref}: sha256 {sha256}, not the tar's")
        await ctx.call(
            ctx.catalog.record_copy,
            buffer.id,
            dest_path,
            package_id=package.id,
            sha256=sha256,
            verified_at=ctx.clock.now(),
            now=ctx.clock.now(),
        )
        return buffer


async def _answers(storage: LocationStorage, path: str) -> bool:
    """Whether a storage answers ``stat`` (what is there does not matter)."""
    try:
        await storage.stat(path)
    except Exception as error:
        logger.warning("%s does not answer: %s", storage.url, error)
        return False
    return True


async def _hash(storage: LocationStorage, path: str) -> str:
    """The sha256 of a stored object (after a resumed move, which could not hash it)."""
    digest = hashlib.sha256()
    async for chunk in storage.open_read(path):
        digest.update(chunk)
    return digest.hexdigest()
