"""The catalog as services see it: one typed Protocol per role.

Rules:
- A service asks for the roles it uses and nothing else: the engine for ``Claims`` and
  ``SegmentMap`` (and ``HostWindows`` when workers share politeness), discovery for
  ``Registry``, backfill for ``DayLedger``, the jobs
  service for ``JobStore`` (and watch, which queues a job per cycle while its loop runs).
  A rename or a changed signature fails in mypy, not at run time.
- These Protocols are asynchronous: how the catalog runs off the event loop (a thread
  for the SQLAlchemy catalog) is the adapter's business (``adapters.catalog.AsyncCatalog``).
- Time is always passed in (``now``); the catalog never reads a clock. A call that lost
  its race (a lease another worker took) returns False, None or a smaller set; it never
  raises.
- ``OperatorQueries`` is the synchronous role of the interfaces (``status``, ``ls``,
  ``retry``): one call, one short transaction, no event loop needed. So are
  ``StoredCopies``, the role of the verify and copy services (they run in threads), and
  ``HeaderQueries``, that of the FITS header queries (``ls --where``, ``fits show``).
- ``ObservatoryStore`` is the role of the observatory pipeline (sites, locations, raw
  files, packages, physical copies, operations), synchronous too: its services call it
  from a thread, or through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from skyhaul.core.backfill import DayRun
from skyhaul.core.copies import CopyTask, Damage, StoredCopy
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.fitsheaders import StoredHeaders
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import (
    AttemptRecord,
    Completion,
    FileRecord,
    FileSpec,
    Selection,
    StateTotals,
)
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
from skyhaul.core.windowchange import HostDecision

__all__ = [
    "AcquireCatalog",
    "Claims",
    "DayLedger",
    "HeaderQueries",
    "HostWindows",
    "JobStore",
    "ObservatoryStore",
    "OperatorQueries",
    "RawRegistrationCounts",
    "Registration",
    "Registry",
    "SegmentMap",
    "StoredCopies",
]


class Registration(Protocol):
    """What registering specs did (counts of distinct URLs)."""

    @property
    def new(self) -> int:
        """Rows created."""

    @property
    def known(self) -> int:
        """Rows already there and unchanged."""

    @property
    def changed(self) -> int:
        """Rows whose remote file changed (back to DISCOVERED)."""


class Claims(Protocol):
    """Claims and leases: who downloads which file, and what became of each attempt."""

    async def claim_batch(
        self,
        owner: str,
        limit: int,
        *,
        now: datetime,
        lease_seconds: float,
        selection: Selection | None = None,
        job_id: int | None = None,
    ) -> list[FileRecord]:
        """Claim up to ``limit`` due files of the selection (compare-and-set)."""

    async def renew_leases(
        self,
        owner: str,
        file_ids: Sequence[int],
        *,
        now: datetime,
        lease_seconds: float,
        bytes_done: Mapping[int, int] | None = None,
    ) -> set[int]:
        """Extend ``owner``'s leases; return the ids it still holds."""

    async def release(self, file_ids: Sequence[int], owner: str, *, now: datetime) -> int:
        """Give held files back (DISCOVERED, segments kept); return how many."""

    async def recover_stale(self, *, now: datetime) -> int:
        """Fail DOWNLOADING files whose lease expired; return how many."""

    async def leased_files(self) -> list[FileRecord]:
        """Return every DOWNLOADING file (to find leases of dead local processes)."""

    async def complete_many(
        self,
        items: Sequence[Completion],
        owner: str,
        *,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
    ) -> set[int]:
        """Record verified files as DOWNLOADED, and ``attempts`` with them (in one
        transaction); return the ids ``owner`` still held."""

    async def fail(
        self,
        file_id: int,
        owner: str,
        *,
        now: datetime,
        error_class: str,
        message: str,
        next_attempt_at: datetime | None,
        permanent: bool,
    ) -> FileState | None:
        """Record a failed attempt; return FAILED, ABANDONED, or None if the lease was lost."""

    async def record_attempts(self, attempt_records: Sequence[AttemptRecord]) -> None:
        """Append attempt rows."""

    async def expected_totals(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> tuple[int, int | None]:
        """Return files and bytes still to download (bytes None if a size is unknown)."""

    async def next_attempt_due(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> datetime | None:
        """Return the earliest retry time of the selected FAILED files."""


class SegmentMap(Protocol):
    """Which bytes of an in-flight file are durable, and which remote version they are."""

    async def segments(self, file_id: int) -> list[tuple[int, int]]:
        """Return the durable ranges ``[start, end)``, in order."""

    async def add_segments(self, file_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        """Record ranges as durable (only after their bytes are fsynced)."""

    async def reset_segments(self, file_id: int) -> None:
        """Forget every durable range (the part file starts again from byte 0)."""

    async def set_validator(
        self,
        file_id: int,
        owner: str,
        *,
        validator: str | None,
        size: int | None,
        url: str | None = None,
    ) -> bool:
        """Record the remote validator and size the durable bytes belong to, and which
        of the file's URLs gave it (None: its own URL)."""


class Registry(Protocol):
    """Registering wanted files (idempotent by URL)."""

    async def register(
        self,
        specs: Sequence[FileSpec],
        dest_root: str,
        *,
        now: datetime,
        job_id: int | None = None,
    ) -> Registration:
        """Add ``specs`` under ``dest_root``; link them to job ``job_id`` when given."""


class HostWindows(Protocol):
    """Each host's window and pace as last decided by any worker."""

    async def record_host_window(self, decision: HostDecision) -> None:
        """Store ``decision`` as its host's (an older one never replaces a newer)."""

    async def host_windows(self) -> dict[str, HostDecision]:
        """Return every host's latest decision, by host."""


class AcquireCatalog(Claims, SegmentMap, Registry, HostWindows, Protocol):
    """The roles a discovery-and-download run uses."""


class DayLedger(Protocol):
    """The backfill's append-only ledger of day runs."""

    async def append_day_run(self, run: DayRun) -> None:
        """Append one row."""

    async def latest_day_runs(self, source: str, first: date, last: date) -> dict[date, DayRun]:
        """Return the latest row of each day of ``source`` in ``[first, last]``."""


class JobStore(Protocol):
    """A job's side of the jobs table: its creation, its lease, its progress, its end."""

    async def create_job(self, kind: JobKind, params: Mapping[str, Any], *, now: datetime) -> int:
        """Queue a job whose JSON-ready ``params`` reproduce it; return its id."""

    async def start_job(
        self, job_id: int, owner: str, *, now: datetime, lease_seconds: float
    ) -> bool:
        """Start a queued job for ``owner`` (compare-and-set); False if it was not queued."""

    async def publish_job_progress(
        self,
        job_id: int,
        owner: str,
        progress: JobProgress,
        *,
        now: datetime,
        lease_seconds: float,
    ) -> bool | None:
        """Store progress and renew the lease; return whether a cancel was asked, or
        None when ``owner`` no longer holds the running job."""

    async def finish_job(
        self,
        job_id: int,
        owner: str,
        state: JobState,
        *,
        now: datetime,
        summary: Mapping[str, Any] | None,
        error: str | None = None,
    ) -> bool:
        """End ``owner``'s running job in ``state`` with its summary."""


class OperatorQueries(Protocol):
    """What an operator reads and changes from an interface (synchronous)."""

    def status_summary(self) -> dict[FileState, StateTotals]:
        """Count and bytes per state."""

    def list_files(
        self,
        selection: Selection | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str = "id",
    ) -> list[FileRecord]:
        """The selected files."""

    def count_files(self, selection: Selection | None = None) -> int:
        """How many files are selected."""

    def attempts(self, file_id: int) -> list[AttemptRecord]:
        """The attempts at one file, oldest first."""

    def apply_event(self, event: FileEvent, selection: Selection, *, now: datetime) -> int:
        """Apply an operator event (retry, ignore, unignore) to the selected files."""

    def recover_stale(self, *, now: datetime, instrument: str | None = None) -> int:
        """Fail expired leases now."""


class HeaderQueries(OperatorQueries, Protocol):
    """Files found by their FITS header values (``Selection.headers``), and what is stored
    of those (synchronous)."""

    def get(self, file_id: int) -> FileRecord | None:
        """One file, or None."""

    def file_at(self, real_path: str) -> FileRecord | None:
        """The file stored at ``real_path`` (its destination or a copy's), or None."""

    def file_headers(self, file_id: int) -> StoredHeaders | None:
        """What is stored of a file's FITS headers and archive record (None: nothing)."""


class StoredCopies(Protocol):
    """The copies that should be on disk, and what checks and copies found (synchronous)."""

    def stored_files(
        self,
        selection: Selection | None = None,
        *,
        job_id: int | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[StoredCopy]:
        """A page of the own destinations of the selected DOWNLOADED files (by file id)."""

    def stored_copies(
        self,
        selection: Selection | None = None,
        *,
        job_id: int | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[StoredCopy]:
        """A page of the PRESENT copies of the selected files (by copy id)."""

    def verify_failed(self, damage: Sequence[Damage], *, now: datetime) -> int:
        """Record damage: a file's own copy to FAILED (fetched again), a copy to WANTED."""

    def copies_to_make(
        self, *, selection: Selection | None = None, job_id: int | None = None
    ) -> list[CopyTask]:
        """The WANTED copies of the selected (or the job's) files now DOWNLOADED."""

    def copy_made(self, copy_id: int, *, size: int, sha256: str, now: datetime) -> bool:
        """Record a copy made and verified (WANTED -> PRESENT)."""

    def copy_failed(self, copy_id: int, *, message: str, now: datetime) -> bool:
        """Record why a copy could not be made (it stays WANTED)."""


class RawRegistrationCounts(Protocol):
    """What registering raw files did (counts of distinct paths)."""

    @property
    def new(self) -> int:
        """Files registered now."""

    @property
    def known(self) -> int:
        """Files known with the same values."""

    @property
    def changed(self) -> int:
        """Files known with other values, updated."""

    @property
    def locked(self) -> int:
        """Files known with other values but already in a package, kept."""


class ObservatoryStore(Protocol):
    """The observatory pipeline's catalog: where raw data is, in which package, and the
    operations that move it (synchronous; compare-and-set claims under leases)."""

    def add_site(self, name: str, *, short_name: str | None = None, now: datetime) -> Site:
        """Add a site."""

    def list_sites(self) -> list[Site]:
        """Every site, by name."""

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
        """Add location ``site/name``."""

    def list_locations(
        self, *, site: str | None = None, type: LocationType | None = None
    ) -> list[Location]:
        """The locations (of a site, of a type), by site and priority."""

    def location(self, site: str, name: str) -> Location | None:
        """Location ``site/name``, or None."""

    def location_by_id(self, location_id: int) -> Location | None:
        """The location with that id, or None."""

    def set_location_active(self, site: str, name: str, active: bool, *, now: datetime) -> Location:
        """Make a location active or inactive."""

    def register_raw_files(
        self, location_id: int, specs: Sequence[RawFileSpec], *, now: datetime
    ) -> RawRegistrationCounts:
        """Register raw files, idempotently by ``(location, path)``."""

    def unpackaged_files(self, location_id: int, *, limit: int | None = None) -> list[RawFile]:
        """The files of a location in no package yet, by path."""

    def raw_file(self, file_id: int) -> RawFile | None:
        """One raw file, or None."""

    def raw_file_at(self, location_id: int, path: str) -> RawFile | None:
        """The raw file at a location and path, or None."""

    def create_package(
        self,
        plan: PackagePlan,
        *,
        source_location: int,
        now: datetime,
        then: Sequence[NewOperation] = (),
    ) -> Package | None:
        """Create a package claiming its files, with its first operations; None if
        another planner won."""

    def record_package_tar(self, package_id: int, *, size: int, sha256: str, now: datetime) -> bool:
        """Record the tar's size and sha256."""

    def set_package_state(
        self, package_id: int, event: PackageEvent, *, now: datetime, error: str | None = None
    ) -> PackageState | None:
        """Apply a package event (compare-and-set)."""

    def packages(
        self, states: Collection[PackageState] | None = None, *, obs_unit: str | None = None
    ) -> list[Package]:
        """Packages with their members, by id."""

    def package(self, package_id: int) -> Package | None:
        """One package, or None."""

    def package_named(self, name: str) -> Package | None:
        """The package called ``name``, or None."""

    def package_names(self, obs_units: Collection[str] | None = None) -> set[str]:
        """Package names taken."""

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
        """Record a copy of a file or package (idempotent by location and path)."""

    def update_copy_status(
        self,
        copy_id: int,
        event: CopyEvent,
        *,
        now: datetime,
        expected: CopyStatus | None = None,
    ) -> CopyStatus | None:
        """Apply a copy event (compare-and-set)."""

    def copies_of_file(self, file_id: int) -> list[PhysicalCopy]:
        """Every copy of a raw file."""

    def copies_of_package(self, package_id: int) -> list[PhysicalCopy]:
        """Every copy of a package's tar."""

    def copies_at(
        self, location_id: int, *, statuses: Collection[CopyStatus] | None = None
    ) -> list[PhysicalCopy]:
        """The copies at a location."""

    def enqueue_operation(self, new: NewOperation, *, now: datetime) -> int:
        """Enqueue an operation (the open one's id if it is open already)."""

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
        """Claim operations of a kind (compare-and-set, leased)."""

    def count_operations(
        self,
        *,
        kinds: Collection[OperationKind] | None = None,
        statuses: Collection[OperationStatus] | None = None,
        updated_since: datetime | None = None,
    ) -> dict[tuple[OperationKind, OperationStatus], int]:
        """Operations of each kind and status (matching every filter given)."""

    def waiting_operation_work(
        self, *, now: datetime, kinds: Collection[OperationKind] | None = None
    ) -> set[tuple[OperationKind, int | None]]:
        """(kind, home location id) of operations claimable now or with expired leases."""

    def heartbeat_operations(
        self, owner: str, operation_ids: Sequence[int], *, now: datetime, lease_seconds: float
    ) -> set[int]:
        """Renew leases; the ids still held."""

    def complete_operation(
        self,
        operation_id: int,
        owner: str,
        *,
        now: datetime,
        then: Sequence[NewOperation] = (),
        package_event: PackageEvent | None = None,
    ) -> bool:
        """Complete an operation, enqueue what follows, move its package: one step."""

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
        """Apply a failure decision (PENDING again, or FAILED for good)."""

    def recover_stale_operations(self, *, now: datetime) -> int:
        """Make operations with expired leases PENDING again."""

    def retry_operation(self, operation_id: int, *, now: datetime) -> bool:
        """Make a FAILED operation PENDING again (retries reset)."""

    def operation(self, operation_id: int) -> Operation | None:
        """One operation, or None."""

    def operations(
        self,
        *,
        package_id: int | None = None,
        kinds: Collection[OperationKind] | None = None,
        statuses: Collection[OperationStatus] | None = None,
    ) -> list[Operation]:
        """Operations (of a package, kinds, statuses), by id."""
