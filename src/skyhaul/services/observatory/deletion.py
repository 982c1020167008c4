"""Deletion: raw files at their source and package tars at buffers, removed once their
package is safe in an archive.

Rules:
- The planner looks at the PRESENT copies at SOURCE and BUFFER locations whose package
  is ARCHIVED and enqueues a DELETE for each that ``may_delete`` allows (the archive
  copy verified, the retention over, no staging of the package open, another verified
  copy of the bytes).
- The worker walks the copy through the deletion statuses so a kill leaves a status that
  says what to do: DELETION_SCHEDULED, then the verdict asked again right before the
  bytes go (a copy no longer deletable is kept: PRESENT again), DELETION_IN_PROGRESS,
  the storage's delete, DELETED. A failed delete is DELETION_FAILED and the operation is
  retried; a copy found DELETION_IN_PROGRESS was left by a worker that died (this one
  holds the operation's lease) and is scheduled again.
- Copies whose deletion failed for good are left DELETION_FAILED for an operator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from skyhaul.core.deletion import DELETABLE_TYPES, DeletionVerdict, may_delete
from skyhaul.core.operations import OPEN_STATUSES, Operation, OperationKind
from skyhaul.core.packages import Package, PackageState
from skyhaul.core.placement import CopyEvent, CopyStatus, PhysicalCopy
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import ConfigError
from skyhaul.services.observatory.stagework import Outcome, StageContext, StageCounts

__all__ = ["delete_copy", "plan_deletions"]

logger = logging.getLogger("skyhaul.observatory")

#: Statuses of a copy the planner considers (others are on their way out, or stuck).
_CANDIDATES = (CopyStatus.PRESENT, CopyStatus.DELETION_POSSIBLE)


@dataclass(frozen=True, slots=True)
class _Safety:
    """What the archives hold of one package: the facts ``may_delete`` needs."""

    archive_verified_at: datetime | None
    verified_archive_copies: frozenset[int]
    in_use: bool


async def plan_deletions(ctx: StageContext) -> StageCounts:
    """Enqueue a DELETE for every source and buffer copy that may go now."""
    counts = StageCounts()
    archived = await ctx.call(ctx.catalog.packages, [PackageState.ARCHIVED])
    if not archived:
        return counts
    by_id = {package.id: package for package in archived}
    by_file = {member.file_id: package for package in archived for member in package.members}
    open_deletes = await ctx.call(
        ctx.catalog.operations, kinds=[OperationKind.DELETE], statuses=OPEN_STATUSES
    )
    pending = {operation.copy_id for operation in open_deletes}
    locations = await ctx.call(ctx.catalog.list_locations)
    safety: dict[int, _Safety] = {}
    for location in locations:
        if location.type not in DELETABLE_TYPES:
            continue
        for copy in await ctx.call(ctx.catalog.copies_at, location.id, statuses=_CANDIDATES):
            package = (
                by_file.get(copy.file_id)
                if copy.file_id is not None
                else by_id.get(copy.package_id or 0)
            )
            if package is None or copy.id in pending:
                continue
            if package.id not in safety:
                safety[package.id] = await _safety(ctx, package, locations)
            if _verdict(ctx, copy, location, package, safety[package.id]).allowed:
                await ctx.call(
                    ctx.catalog.enqueue_operation,
                    ctx.new(
                        OperationKind.DELETE,
                        package_id=package.id,
                        copy_id=copy.id,
                        source_location=location.id,
                    ),
                    now=ctx.clock.now(),
                )
                counts.done += 1
    return counts


async def delete_copy(ctx: StageContext, operation: Operation) -> Outcome:
    """Run a DELETE operation (see the module's rules)."""
    location = await ctx.location(operation.source_location)
    package = await ctx.package(operation)
    copy = await _copy(ctx, operation, location)
    if copy.status is CopyStatus.DELETED:
        return Outcome()
    if copy.status is CopyStatus.DELETION_IN_PROGRESS:
        await _step(ctx, copy, CopyEvent.LEASE_EXPIRED)
    elif copy.status is not CopyStatus.DELETION_SCHEDULED:
        await _step(ctx, copy, CopyEvent.SCHEDULE_DELETION)
    locations = await ctx.call(ctx.catalog.list_locations)
    scheduled = await _copy(ctx, operation, location)
    verdict = _verdict(ctx, scheduled, location, package, await _safety(ctx, package, locations))
    if not verdict.allowed:
        logger.info("kept %s at %s: %s", copy.path, location.ref, verdict.reason)
        await _step(ctx, scheduled, CopyEvent.KEEP)
        return Outcome()
    await _step(ctx, scheduled, CopyEvent.START_DELETION)
    try:
        await ctx.storages.of(location).delete(copy.path)
    except Exception:
        await _step(ctx, scheduled, CopyEvent.DELETION_FAILED)
        raise
    await _step(ctx, scheduled, CopyEvent.DELETED)
    return Outcome()


async def _copy(ctx: StageContext, operation: Operation, location: Location) -> PhysicalCopy:
    for copy in await ctx.call(ctx.catalog.copies_at, location.id):
        if copy.id == operation.copy_id:
            return copy
    raise ConfigError(f"copy {operation.copy_id} is not at {location.ref}")


async def _step(ctx: StageContext, copy: PhysicalCopy, event: CopyEvent) -> None:
    await ctx.call(ctx.catalog.update_copy_status, copy.id, event, now=ctx.clock.now())


async def _safety(ctx: StageContext, package: Package, locations: list[Location]) -> _Safety:
    archives = {loc.id for loc in locations if loc.type is LocationType.LONG_TERM_ARCHIVE}
    copies = await ctx.call(ctx.catalog.copies_of_package, package.id)
    verified = [c for c in copies if c.location in archives and c.verified]
    staging = await ctx.call(
        ctx.catalog.operations,
        package_id=package.id,
        kinds=[OperationKind.STAGE],
        statuses=OPEN_STATUSES,
    )
    return _Safety(
        archive_verified_at=max((c.verified_at for c in verified if c.verified_at), default=None),
        verified_archive_copies=frozenset(c.id for c in verified),
        in_use=bool(staging),
    )


def _verdict(
    ctx: StageContext, copy: PhysicalCopy, location: Location, package: Package, safety: _Safety
) -> DeletionVerdict:
    return may_delete(
        copy,
        location_type=location.type,
        package_state=package.state,
        archive_verified_at=safety.archive_verified_at,
        retention=ctx.settings.retention,
        now=ctx.clock.now(),
        in_use=safety.in_use,
        verified_elsewhere=len(safety.verified_archive_copies - {copy.id}),
    )
