"""Unpack and verify: a package's tar read whole at its archive and checked against the
catalog, before anything may call it archived.

Rules:
- The tar's sha256 and every member's are compared with the catalog's
  (``verify_package``). When they all match, the archive copy is recorded verified and
  ARCHIVE is enqueued as the operation completes.
- A mismatch (or a tar gone missing) means the archive holds bad bytes: they are deleted,
  the copy recorded lost, and the package is sent again (a new TRANSFER, to the next
  archive in turn), in the same step that completes this operation. Each re-send counts
  as a retry: once ``max_retries`` re-sends were made, the mismatch is final and the
  package FAILED with it. It is never ARCHIVED unverified.
- Any other failure (the archive does not answer) is this operation's, retried as usual.
"""

from __future__ import annotations

import logging

from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import Operation, OperationKind
from skyhaul.core.placement import CopyEvent
from skyhaul.errors import IntegrityError
from skyhaul.services.observatory.layout import archive_path
from skyhaul.services.observatory.packing import verify_package
from skyhaul.services.observatory.stagework import Outcome, StageContext
from skyhaul.services.observatory.transfer import next_archive

__all__ = ["ResendsExhausted", "verify_at_archive"]

logger = logging.getLogger("skyhaul.observatory")


class ResendsExhausted(IntegrityError):
    """A package's archive copy was bad after every re-send allowed: final."""

    error_class = ErrorClass.CLIENT


async def verify_at_archive(ctx: StageContext, operation: Operation) -> Outcome:
    """Run an UNPACK_VERIFY operation (see the module's rules)."""
    package = await ctx.package(operation)
    archive = await ctx.location(operation.destination_location)
    storage = ctx.storages.of(archive)
    path = archive_path(package)
    members = {member.path: member.sha256 for member in package.members}
    try:
        if await storage.stat(path) is None:
            raise IntegrityError(f"{path} is missing at {archive.ref}")
        await verify_package(storage, path, sha256=package.sha256 or "", members=members)
    except IntegrityError as mismatch:
        return await _send_again(ctx, operation, mismatch)
    await ctx.call(
        ctx.catalog.record_copy,
        archive.id,
        path,
        package_id=package.id,
        sha256=package.sha256,
        verified_at=ctx.clock.now(),
        now=ctx.clock.now(),
    )
    return Outcome(
        then=[
            ctx.new(OperationKind.ARCHIVE, package_id=package.id, destination_location=archive.id)
        ]
    )


async def _send_again(ctx: StageContext, operation: Operation, mismatch: IntegrityError) -> Outcome:
    package = await ctx.package(operation)
    archive = await ctx.location(operation.destination_location)
    path = archive_path(package)
    await ctx.storages.of(archive).delete(path)
    for copy in await ctx.call(ctx.catalog.copies_of_package, package.id):
        if copy.location == archive.id and copy.path == path:
            await ctx.call(
                ctx.catalog.update_copy_status, copy.id, CopyEvent.LOST, now=ctx.clock.now()
            )
    transfers = await ctx.call(
        ctx.catalog.operations, package_id=package.id, kinds=[OperationKind.TRANSFER]
    )
    resends = len(transfers) - 1
    if resends >= ctx.settings.max_retries:
        raise ResendsExhausted(
            f"{mismatch}; sent {len(transfers)} times, the archive copy was bad each time"
        )
    logger.warning("%s: %s; sending it again", package.name, mismatch)
    destination = await next_archive(ctx)
    return Outcome(
        then=[
            ctx.new(
                OperationKind.TRANSFER,
                package_id=package.id,
                source_location=operation.source_location,
                destination_location=destination.id,
            )
        ]
    )
