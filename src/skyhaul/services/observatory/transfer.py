"""Transfer: a package's tar from its buffer to a long-term archive.

Rules:
- The archive a TRANSFER goes to is chosen when it is enqueued (after packaging, or a
  re-send after a failed verification): round-robin across archive *sites*, starting
  after the site of the latest TRANSFER's destination (``archive_order``); so the
  catalog's operations are the round-robin's memory, and a restart keeps the turn.
- The tar goes to ``packages/{obs_unit}/NAME`` at the archive with ``move_object``: a
  local archive resumes a move a kill interrupted; an S3 one is a multipart upload (a
  new one after a kill). It is not hashed on the way: UNPACK_VERIFY, next, reads it
  whole and checks the tar's sha256 and every member's (one pass, not two).
- The archive copy is recorded unverified; UNPACK_VERIFY, enqueued as the transfer
  completes, is what verifies it. The first transfer moves the package to TRANSFERRING.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from skyhaul.core.operations import Operation, OperationKind
from skyhaul.core.packages import PackageEvent, PackageState
from skyhaul.core.sites import Location, LocationType, archive_order
from skyhaul.errors import ConfigError, ServerError
from skyhaul.services.clock import Clock
from skyhaul.services.observatory.layout import archive_path, buffer_path
from skyhaul.services.observatory.moving import move_object
from skyhaul.services.observatory.stagework import Outcome, StageContext

__all__ = ["next_archive", "rate_limit", "transfer_package"]


def rate_limit(rate: float | None, clock: Clock) -> Callable[[int], Awaitable[None]] | None:
    """A ``pace`` for :func:`.moving.move_object` that keeps a move under ``rate`` bytes
    per second on ``clock`` (None: no limit)."""
    if rate is None:
        return None
    started = clock.monotonic()
    sent = 0

    async def pace(size: int) -> None:
        nonlocal sent
        sent += size
        ahead = sent / rate - (clock.monotonic() - started)
        if ahead > 0:
            await clock.sleep(ahead)

    return pace


async def next_archive(ctx: StageContext) -> Location:
    """The archive the next TRANSFER goes to (see the module's rules).

    Raises
    ------
    ConfigError
        When there is no active long-term archive.
    """
    archives = await ctx.call(ctx.catalog.list_locations, type=LocationType.LONG_TERM_ARCHIVE)
    transfers = await ctx.call(ctx.catalog.operations, kinds=[OperationKind.TRANSFER])
    last_site = None
    for operation in reversed(transfers):
        if operation.destination_location is not None:
            last_site = next(
                (a.site for a in archives if a.id == operation.destination_location), None
            )
            break
    order = archive_order(archives, last_site)
    if not order:
        raise ConfigError("no active long-term archive to send packages to")
    return order[0]


async def transfer_package(ctx: StageContext, operation: Operation) -> Outcome:
    """Run a TRANSFER operation: buffer → archive; then UNPACK_VERIFY."""
    package = await ctx.package(operation)
    buffer = await ctx.location(operation.source_location)
    archive = await ctx.location(operation.destination_location)
    if not archive.active:
        raise ServerError(f"archive {archive.ref} is inactive; {package.name} waits for it")
    if package.sha256 is None:
        raise ConfigError(f"{package.name} has no tar recorded")
    path = archive_path(package)
    await move_object(
        ctx.storages.of(buffer),
        buffer_path(package),
        ctx.storages.of(archive),
        path,
        hashed=False,  # UNPACK_VERIFY reads it whole next: the tar's and members' sha256
        pace=rate_limit(ctx.settings.max_rate, ctx.clock),
    )
    await ctx.call(
        ctx.catalog.record_copy,
        archive.id,
        path,
        package_id=package.id,
        sha256=package.sha256,
        verified_at=None,
        now=ctx.clock.now(),
    )
    started = package.state is PackageState.WAITING
    return Outcome(
        then=[
            ctx.new(
                OperationKind.UNPACK_VERIFY,
                package_id=package.id,
                source_location=buffer.id,
                destination_location=archive.id,
            )
        ],
        package_event=PackageEvent.START_TRANSFER if started else None,
    )
