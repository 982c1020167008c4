"""Staging on demand: the archived packages of an observation unit (or one package)
unpacked into a PROCESSING location, for use, as STAGE operations.

Rules:
- ``stage`` enqueues one STAGE operation per ARCHIVED package (package, destination; an
  open one is reused), then runs the STAGE operations in this process through the
  pipeline's worker loop (:func:`.stagework.run_operations`: claimed under a lease,
  heartbeats, completed or failed by ``after_failure``) until its own are settled. One
  held by a live worker elsewhere is waited for; one left by a dead worker (its lease
  over, or its process gone from this host) is taken over. The pipeline's ``staging``
  stage runs the same operations with :func:`stage_package`.
- While a STAGE operation is open its package is in use: the deletion stage keeps the
  package's source and buffer copies.
- Only ARCHIVED packages are staged, and only from a LONG_TERM_ARCHIVE copy at an
  active location whose bytes are there to read; verified copies are tried first, then
  the others, in copy order. A copy that fails (damaged, unreachable) is logged and the
  next one is tried; when every copy failed, the last copy's error fails the operation
  (an ``IntegrityError``: retried). A destination gone, inactive or not PROCESSING, a
  package not ARCHIVED or without an archive copy: a ``ConfigError`` (permanent).
- Every member is checked against the catalog's sha256 as it is unpacked
  (``unpack_tar(expected=...)``): a member whose bytes differ is never committed.
- Members land at their own paths (``{obs_unit}/{instrument_module}/...``) and each is
  recorded as a STAGED copy of its raw file, verified now. Staging again rewrites them.
- Staging reads archive copies only, never a source's or a buffer's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from skyhaul.adapters.tarpack import unpack_tar
from skyhaul.core.operations import OPEN_STATUSES, Operation, OperationKind, OperationStatus
from skyhaul.core.packages import Package, PackageState
from skyhaul.core.placement import READABLE_STATUSES, CopyStatus, PhysicalCopy
from skyhaul.core.sites import Location, LocationType
from skyhaul.errors import ConfigError, SkyhaulError, UsageError
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.observatory.refs import find_location
from skyhaul.services.observatory.stagework import (
    Outcome,
    PipelineSettings,
    StageContext,
    Storages,
    run_operations,
)
from skyhaul.services.owners import new_owner

__all__ = ["StagedPackage", "StagingReport", "stage", "stage_package"]

logger = logging.getLogger("skyhaul.observatory")

#: Seconds ``stage`` waits before looking again at operations another worker holds.
POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class StagedPackage:
    """One package unpacked: from which archive location (None: another worker staged
    it while this run waited), how many files and bytes."""

    name: str
    archive: str | None
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
    storages: Storages | None = None,
    settings: PipelineSettings | None = None,
) -> StagingReport:
    """Stage the ARCHIVED package ``what`` (a package name), or those of observation
    unit ``what``, into the PROCESSING location ``destination`` (``SITE/NAME``).

    Parameters
    ----------
    store : ObservatoryStore
        The catalog (synchronous; called from worker threads).
    what : str
        A package name or an observation unit.
    destination : str
        The PROCESSING location, ``SITE/NAME``.
    clock : Clock
        Time for leases and waits.
    storages : Storages, optional
        Storages of the locations (default: opened from their URLs, closed at the end).
    settings : PipelineSettings, optional
        Retries, lease and concurrency of the STAGE operations.

    Raises
    ------
    UsageError
        An unknown, inactive or non-PROCESSING destination, or nothing ARCHIVED to stage.
    SkyhaulError
        A package's operation failed for good (when this run ran it, its own error: the
        last archive copy's, an ``IntegrityError`` if its bytes were damaged).
    """
    target = await asyncio.to_thread(find_location, store, destination)
    _check_destination(target)
    packages = await asyncio.to_thread(_archived, store, what)
    ctx = StageContext(
        store, storages or Storages(), new_owner(), settings or PipelineSettings(), clock
    )
    wanted: dict[int, Package] = {}
    for package in packages:
        new = ctx.new(OperationKind.STAGE, package_id=package.id, destination_location=target.id)
        wanted[await ctx.call(store.enqueue_operation, new, now=clock.now())] = package
    run = _Run()
    try:
        settled = await _run_until_settled(ctx, run, wanted)
    finally:
        if storages is None:
            await ctx.storages.aclose()
    return StagingReport(target.ref, tuple(run.report(settled, wanted)))


async def stage_package(ctx: StageContext, operation: Operation) -> Outcome:
    """Run a STAGE operation (the pipeline's ``staging`` stage; see the module's rules)."""
    await _unpack(ctx, operation)
    return Outcome()


@dataclass(slots=True)
class _Run:
    """What this ``stage`` run's handler did, by operation id: staged, or the error."""

    staged: dict[int, StagedPackage] = field(default_factory=dict)
    errors: dict[int, Exception] = field(default_factory=dict)

    async def handle(self, ctx: StageContext, operation: Operation) -> Outcome:
        try:
            self.staged[operation.id] = await _unpack(ctx, operation)
        except Exception as error:
            self.errors[operation.id] = error
            raise
        return Outcome()

    def report(self, settled: list[Operation], wanted: dict[int, Package]) -> list[StagedPackage]:
        """The packages staged, or the error of the first whose operation failed."""
        for operation in settled:
            if operation.status is OperationStatus.FAILED:
                error = self.errors.get(operation.id)
                name = wanted[operation.id].name
                raise error or SkyhaulError(f"{name}: staging failed: {operation.error}")
        return [
            self.staged.get(operation.id) or _staged_elsewhere(wanted[operation.id])
            for operation in settled
        ]


async def _run_until_settled(
    ctx: StageContext, run: _Run, wanted: dict[int, Package]
) -> list[Operation]:
    """Run STAGE operations until those of ``wanted`` are COMPLETED or FAILED."""
    while True:
        counts = await run_operations(ctx, OperationKind.STAGE, run.handle)
        current = [await _operation(ctx, op_id, package) for op_id, package in wanted.items()]
        if all(operation.status not in OPEN_STATUSES for operation in current):
            return current
        if not counts.busy:
            # Another live worker holds them: it finishes, or its lease runs out.
            await ctx.clock.sleep(POLL_SECONDS)


async def _operation(ctx: StageContext, operation_id: int, package: Package) -> Operation:
    found = await ctx.call(
        ctx.catalog.operations, package_id=package.id, kinds=[OperationKind.STAGE]
    )
    return next(operation for operation in found if operation.id == operation_id)


def _staged_elsewhere(package: Package) -> StagedPackage:
    return StagedPackage(
        package.name, None, len(package.members), sum(m.size for m in package.members)
    )


def _check_destination(target: Location) -> None:
    if target.type is not LocationType.PROCESSING:
        raise ConfigError(f"{target.ref} is a {target.type.value} location, not processing")
    if not target.active:
        raise ConfigError(f"{target.ref} is inactive (skyhaul location set --active)")


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


async def _unpack(ctx: StageContext, operation: Operation) -> StagedPackage:
    target = await ctx.location(operation.destination_location)
    _check_destination(target)
    package = await ctx.package(operation)
    if package.state is not PackageState.ARCHIVED:
        raise ConfigError(f"{package.name} is {package.state.value}, not ARCHIVED")
    candidates = await ctx.call(_archive_copies, ctx.catalog, package)
    if not candidates:
        raise ConfigError(f"{package.name}: ARCHIVED but no active archive copy is recorded")
    expected = {m.path: m.sha256 for m in package.members}
    into = ctx.storages.of(target)
    failure: SkyhaulError | None = None
    for copy, archive in candidates:
        source = ctx.storages.of(archive)
        try:
            result = await unpack_tar(source.open_read(copy.path), into, expected=expected)
        except SkyhaulError as error:
            logger.warning("%s at %s not staged: %s", package.name, archive.ref, error)
            failure = error  # damaged or unreachable: the next archive copy may do
            continue
        await ctx.call(_record_staged, ctx.catalog, package, target, ctx.clock.now())
        return StagedPackage(package.name, archive.ref, len(result.members), result.size)
    assert failure is not None
    raise failure


def _archive_copies(
    store: ObservatoryStore, package: Package
) -> list[tuple[PhysicalCopy, Location]]:
    """The package's readable copies at active archives, verified ones first."""
    found: list[tuple[PhysicalCopy, Location]] = []
    for copy in store.copies_of_package(package.id):
        location = store.location_by_id(copy.location)
        if (
            location is not None
            and location.active
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
