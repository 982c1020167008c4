"""The observatory's section of :class:`~skyhaul.adapters.catalog.Catalog`.

Rules:
- Each method is one transaction (as every catalog call) and delegates to the module
  of its concern: sites, locations and raw files in :mod:`.observatory`, packages in
  :mod:`.observatory_packages`, copies in :mod:`.observatory_copies`, operations in
  :mod:`.observatory_ops`.
- Steps that must not be separated by a kill are one call: a package is created with
  the operations that make it; an operation completes with the operations that follow
  it and the event of its package.
- Time is passed in; a call that lost its race returns None, False or fewer rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog import observatory as sites_and_files
from skyhaul.adapters.catalog import observatory_copies as copies
from skyhaul.adapters.catalog import observatory_ops as ops
from skyhaul.adapters.catalog import observatory_packages as packages
from skyhaul.adapters.catalog.database import Database
from skyhaul.adapters.catalog.observatory import RawRegistration
from skyhaul.adapters.catalog.observatory_schema import physical_copies
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import (
    FailureDecision,
    NewOperation,
    Operation,
    OperationKind,
    OperationStatus,
)
from skyhaul.core.packages import (
    Package,
    PackageEvent,
    PackagePlan,
    PackageState,
    RawFile,
    RawFileSpec,
)
from skyhaul.core.placement import CopyEvent, CopyStatus, PhysicalCopy
from skyhaul.core.sites import Location, LocationType, Site

if TYPE_CHECKING:
    from skyhaul.ports.catalog import ObservatoryStore

__all__ = ["ObservatoryCatalog", "RawRegistration"]

_copies = physical_copies.c


class ObservatoryCatalog:
    """Sites, locations, raw files, packages, physical copies and operations."""

    _db: Database

    # --- sites and locations -----------------------------------------------------------

    def add_site(self, name: str, *, short_name: str | None = None, now: datetime) -> Site:
        """Add a site (``short_name`` defaults to ``name``).

        Raises
        ------
        UsageError
            When the name is taken or not a valid name.
        """
        return self._db.write(lambda c: sites_and_files.add_site(c, name, short_name, now))

    def list_sites(self) -> list[Site]:
        """Return every site, by name."""
        return self._db.read(sites_and_files.list_sites)

    def add_location(
        self,
        site: str,
        name: str,
        type: LocationType,
        url: str,
        *,
        priority: int = 0,
        active: bool = True,
        now: datetime,
    ) -> Location:
        """Add location ``site/name`` of ``type`` at ``url`` (``file:///`` or ``s3://``).

        Raises
        ------
        UsageError
            For an unknown site, a taken name, a bad name or URL.
        """
        return self._db.write(
            lambda c: sites_and_files.add_location(c, site, name, type, url, priority, active, now)
        )

    def list_locations(
        self, *, site: str | None = None, type: LocationType | None = None
    ) -> list[Location]:
        """Return the locations (of ``site``, of ``type``), by site and priority."""
        return self._db.read(lambda c: sites_and_files.list_locations(c, site, type))

    def location(self, site: str, name: str) -> Location | None:
        """Return location ``site/name``, or None."""
        return self._db.read(lambda c: sites_and_files.find_location(c, site, name))

    def location_by_id(self, location_id: int) -> Location | None:
        """Return the location with id ``location_id``, or None."""
        return self._db.read(lambda c: sites_and_files.location_by_id(c, location_id))

    def set_location_active(self, site: str, name: str, active: bool, *, now: datetime) -> Location:
        """Make ``site/name`` active or inactive; return it. UsageError if unknown."""
        return self._db.write(
            lambda c: sites_and_files.set_location_active(c, site, name, active, now)
        )

    # --- raw files ---------------------------------------------------------------------

    def register_raw_files(
        self, location_id: int, specs: Sequence[RawFileSpec], *, now: datetime
    ) -> RawRegistration:
        """Register raw files at a location; idempotent by ``(location, path)``.

        Raises
        ------
        UsageError
            For an unknown location, an unsafe path, a bad size or sha256, or a path
            listed twice with different values (nothing is registered then).
        """
        return self._db.write(
            lambda c: sites_and_files.register_raw_files(c, location_id, specs, now)
        )

    def unpackaged_files(self, location_id: int, *, limit: int | None = None) -> list[RawFile]:
        """Return the files of a location that are in no package yet, by path."""
        return self._db.read(lambda c: sites_and_files.unpackaged_files(c, location_id, limit))

    def raw_file(self, file_id: int) -> RawFile | None:
        """Return one raw file, or None."""
        return self._db.read(lambda c: sites_and_files.raw_file(c, file_id))

    def raw_file_at(self, location_id: int, path: str) -> RawFile | None:
        """Return the raw file registered at ``location_id``/``path``, or None."""
        return self._db.read(
            lambda c: sites_and_files.raw_file(c, location_id=location_id, path=path)
        )

    # --- packages ----------------------------------------------------------------------

    def create_package(
        self,
        plan: PackagePlan,
        *,
        source_location: int,
        now: datetime,
        then: Sequence[NewOperation] = (),
    ) -> Package | None:
        """Create the WAITING package of ``plan``, claiming its files, and enqueue the
        operations ``then`` for it (their ``package_id`` set to the new package), in one
        transaction.

        Returns None, creating nothing, when a file of the plan is in a package already
        (another planner won) or the name is taken.
        """

        def work(c: Connection) -> Package:
            package_id = packages.create(c, plan, source_location, now, then)
            return packages.list_packages(c, ids=[package_id])[0]

        try:
            return self._db.write(work)
        except packages.LostRace:
            return None

    def record_package_tar(self, package_id: int, *, size: int, sha256: str, now: datetime) -> bool:
        """Record the size and sha256 of a package's tar; False for an unknown package."""
        return self._db.write(lambda c: packages.record_tar(c, package_id, size, sha256, now))

    def set_package_state(
        self, package_id: int, event: PackageEvent, *, now: datetime, error: str | None = None
    ) -> PackageState | None:
        """Apply ``event`` to a package (compare-and-set) and store ``error`` (None
        clears it); return the new state, or None if the package was in no state the
        event applies to."""
        return self._db.write(lambda c: packages.transition(c, package_id, event, now, error))

    def packages(
        self, states: Collection[PackageState] | None = None, *, obs_unit: str | None = None
    ) -> list[Package]:
        """Return the packages (in ``states``, of ``obs_unit``) with their members, by id."""
        return self._db.read(lambda c: packages.list_packages(c, states=states, obs_unit=obs_unit))

    def package(self, package_id: int) -> Package | None:
        """Return one package with its members, or None."""
        found = self._db.read(lambda c: packages.list_packages(c, ids=[package_id]))
        return found[0] if found else None

    def package_named(self, name: str) -> Package | None:
        """Return the package called ``name``, or None."""
        found = self._db.read(lambda c: packages.list_packages(c, name=name))
        return found[0] if found else None

    def package_names(self, obs_units: Collection[str] | None = None) -> set[str]:
        """Return the names taken (by packages of ``obs_units``), for ``plan_packages``."""
        return self._db.read(lambda c: packages.names(c, obs_units))

    # --- physical copies ---------------------------------------------------------------

    def record_copy(
        self,
        location_id: int,
        path: str,
        *,
        file_id: int | None = None,
        package_id: int | None = None,
        status: CopyStatus = CopyStatus.PRESENT,
        sha256: str | None,
        verified_at: datetime | None,
        now: datetime,
    ) -> PhysicalCopy:
        """Record a copy of one file or one package at ``location_id``/``path``.

        Idempotent: recording it again refreshes its checksum and verification time
        (a DELETED one comes back). ``status`` is PRESENT or STAGED.

        Raises
        ------
        UsageError
            When that path holds a copy of something else.
        """
        return self._db.write(
            lambda c: copies.record(
                c,
                location_id,
                path,
                file_id=file_id,
                package_id=package_id,
                status=status,
                sha256=sha256,
                verified_at=verified_at,
                now=now,
            )
        )

    def update_copy_status(
        self,
        copy_id: int,
        event: CopyEvent,
        *,
        now: datetime,
        expected: CopyStatus | None = None,
    ) -> CopyStatus | None:
        """Apply ``event`` to a copy (compare-and-set; only from ``expected`` if given);
        return its new status, or None if it was in no status the event applies to."""
        return self._db.write(lambda c: copies.transition(c, copy_id, event, now, expected))

    def copies_of_file(self, file_id: int) -> list[PhysicalCopy]:
        """Return every copy of a raw file, by id."""
        return self._db.read(lambda c: copies.select_copies(c, _copies.file_id == file_id))

    def copies_of_package(self, package_id: int) -> list[PhysicalCopy]:
        """Return every copy of a package (its tar), by id."""
        return self._db.read(lambda c: copies.select_copies(c, _copies.package_id == package_id))

    def copies_at(
        self, location_id: int, *, statuses: Collection[CopyStatus] | None = None
    ) -> list[PhysicalCopy]:
        """Return the copies at a location (in ``statuses``), by id."""
        return self._db.read(
            lambda c: copies.select_copies(
                c, _copies.location_id == location_id, *copies.status_filter(statuses)
            )
        )

    # --- operations --------------------------------------------------------------------

    def enqueue_operation(self, new: NewOperation, *, now: datetime) -> int:
        """Enqueue an operation PENDING; return its id (that of the same operation if
        one is open already)."""
        return self._db.write(lambda c: ops.enqueue(c, new, now))

    def claim_operations(
        self,
        kind: OperationKind,
        owner: str,
        *,
        now: datetime,
        lease_seconds: float,
        limit: int,
        location_ids: Collection[int] | None = None,
        at_location: int | None = None,
    ) -> list[Operation]:
        """Claim up to ``limit`` PENDING or SCHEDULED operations of ``kind`` for
        ``owner`` (IN_PROGRESS, leased until ``now + lease_seconds``), lowest ids first;
        with ``location_ids``, only those whose source or destination is one of them;
        with ``at_location``, only those whose home location is that one.
        Never one another claimer got."""
        if limit <= 0:
            return []
        return self._db.write(
            lambda c: ops.claim(
                c, kind, owner, now, lease_seconds, limit, location_ids, at_location
            )
        )

    def count_operations(
        self,
        *,
        kinds: Collection[OperationKind] | None = None,
        statuses: Collection[OperationStatus] | None = None,
        updated_since: datetime | None = None,
    ) -> dict[tuple[OperationKind, OperationStatus], int]:
        """How many operations (matching every filter given) of each kind and status."""
        return self._db.read(lambda c: ops.count_operations(c, kinds, statuses, updated_since))

    def waiting_operation_work(
        self, *, now: datetime, kinds: Collection[OperationKind] | None = None
    ) -> set[tuple[OperationKind, int | None]]:
        """(kind, home location id) of the operations (of ``kinds``) claimable now or
        whose lease expired before ``now``."""
        return self._db.read(lambda c: ops.waiting_work(c, now, kinds))

    def heartbeat_operations(
        self, owner: str, operation_ids: Sequence[int], *, now: datetime, lease_seconds: float
    ) -> set[int]:
        """Renew ``owner``'s leases; return the ids it still holds (stop the others)."""
        if not operation_ids:
            return set()
        return self._db.write(lambda c: ops.heartbeat(c, owner, operation_ids, now, lease_seconds))

    def complete_operation(
        self,
        operation_id: int,
        owner: str,
        *,
        now: datetime,
        then: Sequence[NewOperation] = (),
        package_event: PackageEvent | None = None,
    ) -> bool:
        """Mark ``owner``'s operation COMPLETED and, in the same transaction, enqueue
        ``then`` and apply ``package_event`` to its package.

        Returns False (changing nothing) when ``owner`` no longer held it.

        Raises
        ------
        IllegalTransitionError
            When ``package_event`` does not apply to the package's state (nothing is
            changed then).
        """

        def work(c: Connection) -> bool:
            operation = ops.get(c, operation_id)
            if operation is None or not ops.complete(c, operation_id, owner, now):
                return False
            for new in then:
                ops.enqueue(c, new, now)
            if package_event is not None and operation.package_id is not None:
                packages.apply(c, operation.package_id, package_event, now)
            return True

        return self._db.write(work)

    def fail_operation(
        self,
        operation_id: int,
        owner: str,
        decision: FailureDecision,
        *,
        error_class: ErrorClass | None,
        error: str,
        now: datetime,
    ) -> OperationStatus | None:
        """Apply ``decision`` (from ``after_failure``) to ``owner``'s failed operation;
        return PENDING or FAILED, or None when ``owner`` no longer held it."""
        return self._db.write(
            lambda c: ops.fail(c, operation_id, owner, decision, error_class, error, now)
        )

    def recover_stale_operations(self, *, now: datetime) -> int:
        """Make IN_PROGRESS operations whose lease expired before ``now`` PENDING again
        (no retry counted); return how many."""
        return self._db.write(lambda c: ops.recover_stale(c, now))

    def retry_operation(self, operation_id: int, *, now: datetime) -> bool:
        """Make a FAILED operation PENDING with its retries reset; False if it was not
        FAILED or the same operation is open again."""
        return self._db.write(lambda c: ops.retry(c, operation_id, now))

    def operation(self, operation_id: int) -> Operation | None:
        """Return one operation, or None."""
        return self._db.read(lambda c: ops.get(c, operation_id))

    def operations(
        self,
        *,
        package_id: int | None = None,
        kinds: Collection[OperationKind] | None = None,
        statuses: Collection[OperationStatus] | None = None,
    ) -> list[Operation]:
        """Return the operations (of a package, kinds, statuses), by id."""
        return self._db.read(
            lambda c: ops.list_operations(c, package_id=package_id, kinds=kinds, statuses=statuses)
        )


if TYPE_CHECKING:

    def _is_the_port(catalog: ObservatoryCatalog) -> ObservatoryStore:
        return catalog  # mypy checks here that this section implements the port
