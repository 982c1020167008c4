"""What every stage of the observatory pipeline shares: its context, the storages it reads
and writes, and the loop that claims operations, renews their leases and settles them.

Rules:
- A stage's worker pass first makes operations whose lease expired (or whose owner is a
  process of this host that died) PENDING again, then claims one batch of its kind under
  a lease, runs each operation and settles it: completed with the operations that follow
  (one catalog transaction), or failed as ``after_failure`` decides. A retryable failure
  is run again in a later pass, never in the same one, so "until nothing is left to do"
  ends. A queue's worker (``at_location``) claims only operations whose home is that
  location (:mod:`skyhaul.core.opqueues`).
- While an operation runs its lease is renewed every third of the lease; if it is lost
  (another worker took the operation over), the work is cancelled and nothing is settled.
- Failure classes come from skyhaul's errors: a ``TransferError`` carries its own
  (``IntegrityError``: retryable), a ``UsageError`` (``ConfigError``,
  ``PathEscapeError``) is permanent, anything else is retried like a transient fault. A
  permanent failure marks the operation's package FAILED with the error.
- Anything that is not an ``Exception`` (a cancellation, a kill) settles nothing: the
  lease runs out and another pass takes the operation over.
- The catalog is synchronous: every call goes through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from skyhaul.adapters.locations import location_storage
from skyhaul.adapters.s3 import S3Transport
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import (
    DEFAULT_MAX_RETRIES,
    NewOperation,
    Operation,
    OperationKind,
    OperationStatus,
    after_failure,
)
from skyhaul.core.packages import Package, PackageEvent, PackageState
from skyhaul.core.sites import Location
from skyhaul.errors import ConfigError, TransferError, UsageError
from skyhaul.ports.catalog import ObservatoryStore
from skyhaul.ports.locations import LocationStorage
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.owners import owner_is_dead_here

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "Failure",
    "Handler",
    "Outcome",
    "PipelineSettings",
    "StageContext",
    "StageCounts",
    "Storages",
    "error_class_of",
    "run_operations",
]

logger = logging.getLogger("skyhaul.observatory")

T = TypeVar("T")

#: How long a claimed operation is leased before another worker may take it over.
DEFAULT_LEASE_SECONDS = 120.0
#: Operations one worker pass claims at once.
CLAIM_BATCH = 8
#: Operations of one stage run at once by default.
DEFAULT_CONCURRENCY = 4
#: The most bytes a package's members may take (``--max-package-size``).
DEFAULT_MAX_PACKAGE_SIZE = 50 * 10**9


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """How the pipeline runs.

    Parameters
    ----------
    retention : timedelta
        How long a source or buffer copy is kept after its archive copy was verified.
    max_package_size : int
        Most bytes of members per package.
    max_retries : int
        Retries of an operation (and re-sends of a package) before it fails for good.
    lease_seconds : float
        The lease of a claimed operation.
    concurrency : int
        Operations of one stage run at once (their hashing and I/O run in threads, so
        two or more keep every core busy; each operation is one package).
    max_rate : float or None
        Most bytes per second one transfer sends (None: as fast as it goes), for a
        shared link.
    """

    retention: timedelta = timedelta(hours=24)
    max_package_size: int = DEFAULT_MAX_PACKAGE_SIZE
    max_retries: int = DEFAULT_MAX_RETRIES
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    max_rate: float | None = None


class Storages:
    """The storage of each location, opened once and closed together.

    Parameters
    ----------
    s3 : S3Transport, optional
        The transport ``s3://`` locations share (default: each makes its own).
    opener : callable, optional
        Builds a location's storage (default: ``location_storage(location.url, s3=s3)``);
        tests wrap it to inject faults.
    """

    def __init__(
        self,
        s3: S3Transport | None = None,
        opener: Callable[[Location], LocationStorage] | None = None,
    ) -> None:
        self._opener = opener or (lambda location: location_storage(location.url, s3=s3))
        self._open: dict[int, LocationStorage] = {}

    def of(self, location: Location) -> LocationStorage:
        """Return the storage of ``location``."""
        storage = self._open.get(location.id)
        if storage is None:
            storage = self._open[location.id] = self._opener(location)
        return storage

    async def aclose(self) -> None:
        """Close every storage opened."""
        opened, self._open = list(self._open.values()), {}
        for storage in opened:
            await storage.aclose()


@dataclass(slots=True)
class StageContext:
    """What a stage works with: the catalog, the storages, the time, who it is."""

    catalog: ObservatoryStore
    storages: Storages
    owner: str
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    clock: Clock = SYSTEM_CLOCK

    async def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a synchronous catalog call off the event loop."""
        return await asyncio.to_thread(method, *args, **kwargs)

    async def location(self, location_id: int | None) -> Location:
        """The location with that id (``ConfigError`` if it is gone)."""
        found = (
            None
            if location_id is None
            else await self.call(self.catalog.location_by_id, location_id)
        )
        if found is None:
            raise ConfigError(f"location {location_id} is not in the catalog")
        return found

    async def package(self, operation: Operation) -> Package:
        """The package ``operation`` works on (``ConfigError`` if it has none)."""
        found = None
        if operation.package_id is not None:
            found = await self.call(self.catalog.package, operation.package_id)
        if found is None:
            raise ConfigError(f"operation {operation.id} names no package")
        return found

    def new(self, kind: OperationKind, **ids: int | None) -> NewOperation:
        """An operation to enqueue, with this run's retry limit."""
        return NewOperation(kind, max_retries=self.settings.max_retries, **ids)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an operation that ran to its end is completed."""

    then: Sequence[NewOperation] = ()
    package_event: PackageEvent | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An operation that failed for good, for the run's summary."""

    kind: OperationKind
    package: str | None
    error: str


@dataclass(slots=True)
class StageCounts:
    """What one pass (or a whole run) of a stage did."""

    done: int = 0
    retried: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether anything happened."""
        return bool(self.done or self.retried or self.failures)

    def add(self, other: StageCounts) -> None:
        """Add ``other``'s counts to these."""
        self.done += other.done
        self.retried += other.retried
        self.failures.extend(other.failures)


Handler = Callable[[StageContext, Operation], Awaitable[Outcome]]


def error_class_of(error: BaseException) -> ErrorClass | None:
    """The class an error is retried by: its own, CLIENT (permanent) for a usage error,
    None (retried) for anything else."""
    if isinstance(error, TransferError):
        return error.error_class
    if isinstance(error, UsageError):
        return ErrorClass.CLIENT
    return None


async def recover_operations(ctx: StageContext) -> int:
    """Make operations whose lease expired, or whose owner died on this host, PENDING."""
    now = ctx.clock.now()
    held = await ctx.call(ctx.catalog.operations, statuses=[OperationStatus.IN_PROGRESS])
    for operation in held:
        owner = operation.lease_owner
        if owner is not None and owner != ctx.owner and owner_is_dead_here(owner):
            # Its process is gone: let its lease end now rather than at its expiry.
            await ctx.call(
                ctx.catalog.heartbeat_operations, owner, [operation.id], now=now, lease_seconds=-1
            )
    return await ctx.call(ctx.catalog.recover_stale_operations, now=now)


async def run_operations(
    ctx: StageContext, kind: OperationKind, handler: Handler, *, at_location: int | None = None
) -> StageCounts:
    """One worker pass of a stage: recover, claim a batch of ``kind`` (whose home is
    ``at_location``, when given: a queue's worker), run and settle each."""
    await recover_operations(ctx)
    claimed = await ctx.call(
        ctx.catalog.claim_operations,
        kind,
        ctx.owner,
        now=ctx.clock.now(),
        lease_seconds=ctx.settings.lease_seconds,
        limit=CLAIM_BATCH,
        at_location=at_location,
    )
    counts = StageCounts()
    width = max(1, ctx.settings.concurrency)
    for start in range(0, len(claimed), width):
        wave = claimed[start : start + width]
        # Each runs to its end (a kill of the process leaves them all to their leases);
        # an exception that is no failure to settle (an interrupt) is raised after.
        ended = await asyncio.gather(
            *(_run_one(ctx, operation, handler, counts) for operation in wave),
            return_exceptions=True,
        )
        for outcome in ended:
            if isinstance(outcome, BaseException):
                raise outcome
    return counts


async def _run_one(
    ctx: StageContext, operation: Operation, handler: Handler, counts: StageCounts
) -> None:
    work = asyncio.ensure_future(handler(ctx, operation))
    beat = asyncio.ensure_future(_heartbeat(ctx, operation, work))
    try:
        outcome = await work
    except asyncio.CancelledError:
        if beat.done() and not beat.cancelled() and beat.result():
            logger.warning("operation %s: lease lost, left to its new owner", operation.id)
            return
        raise
    except Exception as error:  # settled through the failure policy; others propagate
        await _fail(ctx, operation, error, counts)
        return
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    settled = await ctx.call(
        ctx.catalog.complete_operation,
        operation.id,
        ctx.owner,
        now=ctx.clock.now(),
        then=outcome.then,
        package_event=outcome.package_event,
    )
    if settled:
        counts.done += 1


async def _heartbeat(ctx: StageContext, operation: Operation, work: asyncio.Future[Any]) -> bool:
    """Renew the lease until cancelled; cancel ``work`` and return True if it is lost."""
    interval = ctx.settings.lease_seconds / 3
    while True:
        await ctx.clock.sleep(interval)
        held = await ctx.call(
            ctx.catalog.heartbeat_operations,
            ctx.owner,
            [operation.id],
            now=ctx.clock.now(),
            lease_seconds=ctx.settings.lease_seconds,
        )
        if operation.id not in held:
            work.cancel()
            return True


async def _fail(
    ctx: StageContext, operation: Operation, error: Exception, counts: StageCounts
) -> None:
    error_class = error_class_of(error)
    decision = after_failure(operation.retries, operation.max_retries, error_class)
    message = str(error) or type(error).__name__
    now = ctx.clock.now()
    status = await ctx.call(
        ctx.catalog.fail_operation,
        operation.id,
        ctx.owner,
        decision,
        error_class=error_class,
        error=message,
        now=now,
    )
    if status is None:
        return
    if not decision.permanent:
        counts.retried += 1
        logger.info("%s %s failed (%s); retried later", operation.kind, operation.id, message)
        return
    counts.failures.append(await fail_package(ctx, operation, message))


async def fail_package(ctx: StageContext, operation: Operation, error: str) -> Failure:
    """Mark the package of ``operation`` FAILED with ``error``; return the failure."""
    name = None
    if operation.package_id is not None:
        package = await ctx.call(ctx.catalog.package, operation.package_id)
        if package is not None:
            name = package.name
            if package.state in (PackageState.WAITING, PackageState.TRANSFERRING):
                await ctx.call(
                    ctx.catalog.set_package_state,
                    package.id,
                    PackageEvent.FAILED,
                    now=ctx.clock.now(),
                    error=error,
                )
    logger.error("%s of %s failed for good: %s", operation.kind, name or "-", error)
    return Failure(operation.kind, name, error)
