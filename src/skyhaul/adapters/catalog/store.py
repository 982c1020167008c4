"""The catalog: every file skyhaul wants, where it stands, and who holds it.

Rules:
- The catalog persists states but never decides them: each state change is a
  compare-and-set update whose target comes from ``core.lifecycle`` (see
  :mod:`.transitions`). A change that lost its race returns False, None or a smaller
  count; it never raises.
- Every call is one transaction and is safe from any thread. Time is always passed in
  (``now``, timezone-aware); the catalog never reads a clock.
- Per-state totals change in the same transaction as the files (see :mod:`.totals`), so
  :meth:`Catalog.status_summary` never scans the files table.
- SQLAlchemy never shows through: errors are skyhaul errors (see :mod:`.database`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import case, delete, insert
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog import copies as catalog_copies
from skyhaul.adapters.catalog import headers, hostwindows, leases, ledger, queries, transfers
from skyhaul.adapters.catalog import jobs as catalog_jobs
from skyhaul.adapters.catalog.database import Database, create_catalog_engine, unavailable
from skyhaul.adapters.catalog.day_claims import DayClaimsCatalog
from skyhaul.adapters.catalog.facts import where_clauses
from skyhaul.adapters.catalog.migrate import ensure_schema
from skyhaul.adapters.catalog.observatory_catalog import ObservatoryCatalog
from skyhaul.adapters.catalog.records import chunks
from skyhaul.adapters.catalog.register import FORGET_BYTES, RegisterResult, register_specs
from skyhaul.adapters.catalog.schema import attempts, copies, files, segments
from skyhaul.adapters.catalog.selection import is_windowed
from skyhaul.adapters.catalog.totals import (
    TotalsDelta,
    as_state_totals,
    read_totals,
    rebuild,
    recount,
)
from skyhaul.adapters.catalog.transitions import NO_LEASE, transition
from skyhaul.adapters.catalog.urls import catalog_url
from skyhaul.core.backfill import DayRun
from skyhaul.core.copies import CopyEvent, CopyRecord, CopyTask, Damage, StoredCopy
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.fitsheaders import StoredHeaders
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobRecord, JobState
from skyhaul.core.jobtotals import FileTotals
from skyhaul.core.lifecycle import FileEvent, FileState, sources_of
from skyhaul.core.model import (
    AttemptRecord,
    Completion,
    FileRecord,
    FileSpec,
    Selection,
    StateTotals,
)
from skyhaul.core.redact import redact_url
from skyhaul.core.specs import validate_specs
from skyhaul.core.windowchange import HostDecision
from skyhaul.errors import IllegalTransitionError, NoCatalogError, SkyhaulError

T = TypeVar("T")

#: Shards of the totals rows per state (PostgreSQL; SQLite has one writer at a time).
POSTGRES_TOTALS_SHARDS = 8


#: What a present copy found missing or changed forgets about the file's bytes: the next
#: download fetches it again from the start, and is due at once.
_VERIFY_FAILED = {
    "error_class": ErrorClass.INTEGRITY.value,
    "attempts": 0,
    "bytes_done": 0,
    "sha256": None,
    "validator": None,
    "validator_url": None,
    "downloaded_at": None,
}


def _insert_attempts(c: Connection, attempt_records: Sequence[AttemptRecord]) -> None:
    """Append attempt rows (nothing for none)."""
    if not attempt_records:
        return
    rows = [
        {
            "file_id": a.file_id,
            "started_at": a.started_at,
            "finished_at": a.finished_at,
            "outcome": a.outcome,
            "bytes": a.bytes,
            "error_class": None if a.error_class is None else str(a.error_class),
            "message": a.message,
            "sources": json.dumps(dict(a.sources)) if a.sources else None,
        }
        for a in attempt_records
    ]
    c.execute(insert(attempts), rows)


def _operator_values(event: FileEvent, now: datetime) -> dict[str, Any]:
    """Columns an operator event sets besides the state; raises for engine-only events."""
    if event in (FileEvent.RETRY, FileEvent.UNIGNORE):
        return {"attempts": 0, "next_attempt_at": None, "updated_at": now}
    if event is FileEvent.IGNORE:
        return {"next_attempt_at": None, "updated_at": now}
    if event is FileEvent.REMOTE_CHANGED:
        return {**FORGET_BYTES, "updated_at": now}
    raise IllegalTransitionError(
        f"{event.value} is not an operator event (use retry, ignore, unignore or remote_changed)",
        event=event.value,
    )


class Catalog(ObservatoryCatalog, DayClaimsCatalog):
    """The file catalog on SQLite or PostgreSQL. Create with :func:`open_catalog`.

    The observatory's section (sites, locations, raw files, packages, physical copies,
    operations) is :class:`~.observatory_catalog.ObservatoryCatalog`; the day claims of
    backfill jobs run by workers, :class:`~.day_claims.DayClaimsCatalog`.

    Parameters
    ----------
    database : Database
        The engine and transaction runners (schema already at head).
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self.url: str = database.url
        shards = POSTGRES_TOTALS_SHARDS if database.dialect == "postgresql" else 1
        self._shards = itertools.cycle(range(shards))

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection. The catalog cannot be used afterwards."""
        self._db.dispose()

    @property
    def shareable(self) -> bool:
        """True when other processes can open this catalog too (not in-memory SQLite)."""
        return self._db.shareable

    def before_fork(self) -> None:
        """Close pooled connections so that no forked child inherits one.

        The catalog stays usable: connections are opened again on demand.
        """
        self._db.dispose()

    def after_fork(self) -> None:
        """In a forked child: drop the inherited pool without touching the parent's sockets."""
        self._db.engine.dispose(close=False)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({redact_url(self.url)!r})"

    def _change(self, work: Callable[[Connection, TotalsDelta], T]) -> T:
        """Run ``work`` in a write transaction and apply its totals delta before commit."""

        def run(connection: Connection) -> T:
            delta = TotalsDelta()
            result = work(connection, delta)
            delta.apply(connection, next(self._shards))
            return result

        return self._db.write(run)

    # --- registering ---------------------------------------------------------------------

    def register(
        self,
        specs: Sequence[FileSpec],
        dest_root: str,
        *,
        now: datetime,
        job_id: int | None = None,
        copies: bool = False,
    ) -> RegisterResult:
        """Add wanted files; idempotent by URL (see :mod:`.register` for the rules).

        Parameters
        ----------
        specs : sequence of FileSpec
            The files; a URL listed twice counts once.
        dest_root : str
            Destination root the paths are relative to (for new files).
        now : datetime
            Creation time of new rows.
        job_id : int, optional
            The job every file named (new and known) is linked to, so that the job's run
            downloads exactly them.
        copies : bool
            A known URL named for another destination wants a copy there
            (``skyhaul get``); otherwise it keeps its row as it is (discovery).

        Raises
        ------
        UsageError
            When a destination's real path is already used by another URL (the message
            names both), a path is one only a part file may have, or one URL is listed
            with two paths. Nothing is registered then.
        """
        validate_specs(specs)  # every row as the engine will use it, before any is written
        return self._change(
            lambda c, delta: register_specs(
                c, specs, dest_root, now=now, job_id=job_id, delta=delta, copies=copies
            )
        )

    # --- leases --------------------------------------------------------------------------

    def claim_batch(
        self,
        owner: str,
        limit: int,
        *,
        now: datetime,
        lease_seconds: float,
        selection: Selection | None = None,
        job_id: int | None = None,
    ) -> list[FileRecord]:
        """Claim up to ``limit`` due files for ``owner`` (DOWNLOADING, leased, attempts+1).

        Due files are DISCOVERED ones and FAILED ones whose ``next_attempt_at`` has come.
        Returns the claimed records ordered by id; never a file another claimer got.
        """
        if limit <= 0:
            return []

        def work(c: Connection, delta: TotalsDelta) -> list[FileRecord]:
            return leases.claim(
                c,
                owner,
                limit,
                now=now,
                lease_seconds=lease_seconds,
                where=where_clauses(c, selection, job_id=job_id),
                delta=delta,
                # A job's files are claimed along the state index, which stops at the
                # limit; the job's links are looked up for each candidate, not walked.
                windowed=is_windowed(selection),
            )

        return self._change(work)

    def renew_leases(
        self,
        owner: str,
        file_ids: Sequence[int],
        *,
        now: datetime,
        lease_seconds: float,
        bytes_done: Mapping[int, int] | None = None,
    ) -> set[int]:
        """Extend ``owner``'s leases to ``now + lease_seconds``; return the ids still held.

        An id is held while its file is DOWNLOADING under ``owner`` (even if the lease ran
        out, as long as nobody recovered it). ``bytes_done`` updates progress of held files.
        """
        if not file_ids:
            return set()
        return self._db.write(
            lambda c: leases.renew(
                c, owner, file_ids, now=now, lease_seconds=lease_seconds, bytes_done=bytes_done
            )
        )

    def recover_stale(self, *, now: datetime, instrument: str | None = None) -> int:
        """Fail DOWNLOADING files whose lease expired before ``now`` (due again at ``now``).

        Each gets ``error_class`` ``lease_expired`` and an attempt row with outcome
        ``expired``. A lease renewed past ``now`` is left alone. Returns how many.
        """
        return self._change(
            lambda c, delta: leases.recover_stale(c, now=now, instrument=instrument, delta=delta)
        )

    def release(self, file_ids: Sequence[int], owner: str, *, now: datetime) -> int:
        """Give files back after a cancelled run: DISCOVERED again, segments kept.

        The interrupted attempt does not count (``attempts`` goes back down by one).
        Returns how many of ``file_ids`` ``owner`` still held and released.
        """
        values = {
            **NO_LEASE,
            "attempts": case((files.c.attempts > 0, files.c.attempts - 1), else_=0),
            "next_attempt_at": None,
            "updated_at": now,
        }

        def work(c: Connection, delta: TotalsDelta) -> int:
            released = 0
            for chunk in chunks(sorted(set(file_ids))):
                where = [files.c.id.in_(chunk), files.c.lease_owner == owner]
                released += len(transition(c, FileEvent.RELEASE, where, values, delta, by_id=True))
            return released

        return self._change(work) if file_ids else 0

    # --- one transfer --------------------------------------------------------------------

    def set_validator(
        self,
        file_id: int,
        owner: str,
        *,
        validator: str | None,
        size: int | None,
        url: str | None = None,
    ) -> bool:
        """Record the remote validator (and size, when known) of the durable bytes, and
        which of the file's URLs gave it (None: its own URL).

        Returns False when ``owner`` no longer holds the file (nothing is changed).
        """
        return self._change(
            lambda c, delta: transfers.set_validator(c, file_id, owner, validator, size, delta, url)
        )

    def segments(self, file_id: int) -> list[tuple[int, int]]:
        """Return the durable byte ranges ``[start, end)`` of an in-flight file, in order."""
        return self._db.read(lambda c: queries.segments(c, file_id))

    def add_segment(self, file_id: int, start: int, end: int) -> None:
        """Record ``[start, end)`` as durable (call only after the bytes are fsynced)."""
        self.add_segments(file_id, [(start, end)])

    def add_segments(self, file_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        """Record several durable ranges of one file at once; touching ranges are merged.

        Raises
        ------
        ValueError
            For an empty or negative range.
        UsageError
            When there is no file ``file_id``.
        """
        if ranges:
            self._db.write(lambda c: transfers.add_segments(c, file_id, ranges))

    def reset_segments(self, file_id: int) -> None:
        """Forget every durable range of a file (its part file starts again from byte 0)."""
        self._db.write(lambda c: c.execute(delete(segments).where(segments.c.file_id == file_id)))

    def complete(
        self,
        file_id: int,
        owner: str,
        *,
        now: datetime,
        size: int,
        sha256: str,
        validator: str | None,
    ) -> bool:
        """Record a verified, promoted file as DOWNLOADED; False if the lease was lost."""
        item = Completion(file_id=file_id, size=size, sha256=sha256, validator=validator)
        return file_id in self.complete_many([item], owner, now=now)

    def complete_many(
        self,
        items: Sequence[Completion],
        owner: str,
        *,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
    ) -> set[int]:
        """Record many completions, and ``attempts`` with them, in one transaction; return
        the ids promoted.

        A file ``owner`` no longer holds is skipped (its id is not returned); its attempt
        row is written all the same (the attempt was made).
        """
        if not items:
            self.record_attempts(attempts)
            return set()

        def work(c: Connection, delta: TotalsDelta) -> set[int]:
            promoted = transfers.complete_many(c, items, owner, now, delta)
            _insert_attempts(c, attempts)
            return promoted

        return self._change(work)

    def fail(
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
        """Record a failed attempt: FAILED (due at ``next_attempt_at``, default ``now``)
        or, when ``permanent``, ABANDONED. Returns the new state; None if the lease was lost.
        """
        event = FileEvent.FAIL_PERMANENT if permanent else FileEvent.FAIL_RETRYABLE
        values = {
            **NO_LEASE,
            "error_class": error_class,
            "last_error": message,
            "next_attempt_at": None if permanent else (next_attempt_at or now),
            "updated_at": now,
        }
        where = [files.c.id == file_id, files.c.lease_owner == owner]
        rows = self._change(lambda c, delta: transition(c, event, where, values, delta, by_id=True))
        return FileState(rows[0].state) if rows else None

    def record_attempts(self, attempt_records: Sequence[AttemptRecord]) -> None:
        """Append attempt rows (one per try, written in one batch)."""
        if attempt_records:
            self._db.write(lambda c: _insert_attempts(c, attempt_records))

    # --- operators -----------------------------------------------------------------------

    def apply_event(self, event: FileEvent, selection: Selection, *, now: datetime) -> int:
        """Apply an operator event to every selected file in a state it is legal from.

        ``retry`` (FAILED, ABANDONED -> DISCOVERED, attempts reset), ``ignore``,
        ``unignore`` (attempts reset) and ``remote_changed`` (forget the bytes we had).
        Files in other states are left alone. Returns how many changed.

        Raises
        ------
        IllegalTransitionError
            For events only the engine may apply (claim, promote, fail_*, ...).
        """
        values = _operator_values(event, now)
        sources = sources_of(event)
        if selection.states is not None:
            sources = sources & selection.states

        def work(c: Connection, delta: TotalsDelta) -> int:
            where = where_clauses(c, selection)
            rows = transition(
                c, event, where, values, delta, sources=sources, by_id=selection.ids is not None
            )
            if event is FileEvent.REMOTE_CHANGED:
                for chunk in chunks([row.id for row in rows]):
                    c.execute(delete(segments).where(segments.c.file_id.in_(chunk)))
                headers.forget_headers(c, [row.id for row in rows])
            return len(rows)

        return self._change(work) if sources else 0

    def verify_failed(self, damage: Sequence[Damage], *, now: datetime) -> int:
        """Record what a check of present copies found missing or changed.

        A file's own copy: ``verify_failed`` (DOWNLOADED -> FAILED, due at ``now``, its
        bytes forgotten), so the next download fetches it again. A copy: WANTED again,
        remade from the file. Each applies only if the row still holds the sha256 that
        was checked (it was not downloaded or copied again meanwhile). Returns how many.
        """

        def work(c: Connection, delta: TotalsDelta) -> int:
            changed = 0
            for item in damage:
                stored = item.copy
                if stored.copy_id is None:
                    where = [files.c.id == stored.file_id, files.c.sha256 == stored.sha256]
                    values = {
                        **_VERIFY_FAILED,
                        "last_error": item.detail,
                        "next_attempt_at": now,
                        "updated_at": now,
                    }
                    rows = transition(c, FileEvent.VERIFY_FAILED, where, values, delta, by_id=True)
                    changed += len(rows)
                else:
                    where = [copies.c.id == stored.copy_id, copies.c.sha256 == stored.sha256]
                    values = {"last_error": item.detail, "copied_at": None, "updated_at": now}
                    changed += catalog_copies.transition(c, CopyEvent.VERIFY_FAILED, where, values)
            return changed

        return self._change(work) if damage else 0

    # --- copies (see :mod:`skyhaul.core.copies`) ------------------------------------------

    def copies_of(self, file_ids: Sequence[int]) -> dict[int, list[CopyRecord]]:
        """Return the copies of each of ``file_ids`` that has some."""
        return self._db.read(lambda c: catalog_copies.copies_of(c, file_ids))

    def copies_to_make(
        self, *, selection: Selection | None = None, job_id: int | None = None
    ) -> list[CopyTask]:
        """Return the WANTED copies of the selected (or the job's) files now DOWNLOADED."""
        return self._db.read(lambda c: catalog_copies.to_make(c, selection, job_id))

    def copy_made(self, copy_id: int, *, size: int, sha256: str, now: datetime) -> bool:
        """Record a WANTED copy as PRESENT with the bytes verified; False if it was not WANTED."""
        return self._db.write(lambda c: catalog_copies.made(c, copy_id, size, sha256, now))

    def copy_failed(self, copy_id: int, *, message: str, now: datetime) -> bool:
        """Record why a WANTED copy could not be made (it stays WANTED)."""
        return self._db.write(lambda c: catalog_copies.note_failure(c, copy_id, message, now))

    def stored_files(
        self,
        selection: Selection | None = None,
        *,
        job_id: int | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[StoredCopy]:
        """Return a page of the own destinations of the selected DOWNLOADED files, by id
        (from id ``after``, exclusive)."""
        return self._db.read(
            lambda c: catalog_copies.stored_files(c, selection, job_id, after, limit)
        )

    def stored_copies(
        self,
        selection: Selection | None = None,
        *,
        job_id: int | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[StoredCopy]:
        """Return a page of the PRESENT copies of the selected files, by copy id (from
        ``after``, exclusive)."""
        return self._db.read(
            lambda c: catalog_copies.stored_copies(c, selection, job_id, after, limit)
        )

    def rebuild_totals(self) -> None:
        """Recount the per-state totals from the files table (repair; scans the table)."""
        self._db.write(rebuild)

    # --- reading -------------------------------------------------------------------------

    def status_summary(self) -> dict[FileState, StateTotals]:
        """Return count and bytes (of known sizes) per state, every state present.

        Reads the totals table only: as fast on a million files as on ten.
        """
        return as_state_totals(self._db.read(read_totals))

    def recount_totals(self) -> dict[FileState, StateTotals]:
        """Return the same as :meth:`status_summary`, counted from the files table (slow)."""
        return as_state_totals(self._db.read(recount))

    def attempts(self, file_id: int) -> list[AttemptRecord]:
        """Return the attempts at one file, oldest first."""
        return self._db.read(lambda c: queries.attempts(c, file_id))

    def get(self, file_id: int) -> FileRecord | None:
        """Return one file, or None."""
        return self._db.read(lambda c: queries.get(c, file_id))

    def file_at(self, real_path: str) -> FileRecord | None:
        """Return the file stored at ``real_path`` (its destination or a copy's), or None."""
        return self._db.read(lambda c: queries.file_at(c, real_path))

    def file_headers(self, file_id: int) -> StoredHeaders | None:
        """Return what the catalog holds of a file's FITS headers and archive record
        (None: nothing)."""
        return self._db.read(lambda c: headers.stored_headers(c, file_id))

    def list_files(
        self,
        selection: Selection | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str = "id",
        job_id: int | None = None,
    ) -> list[FileRecord]:
        """Return the selected files, ordered by ``order`` (a column, ``-column`` descending);
        with ``job_id``, only that job's files.

        Raises
        ------
        UsageError
            For a column files cannot be ordered by.
        """
        return self._db.read(
            lambda c: queries.list_files(
                c, selection, limit=limit, offset=offset, order=order, job_id=job_id
            )
        )

    def count_files(self, selection: Selection | None = None) -> int:
        """Return how many files are selected (from the totals when only states are given)."""
        return self._db.read(lambda c: queries.count_files(c, selection))

    def expected_totals(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> tuple[int, int | None]:
        """Return files and bytes still to download (not DOWNLOADED, ABANDONED or IGNORED).

        Bytes are None when any of those files has an unknown size.
        """
        return self._db.read(
            lambda c: queries.expected_totals(c, job_id=job_id, selection=selection)
        )

    def next_attempt_due(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> datetime | None:
        """Return the earliest ``next_attempt_at`` of the selected FAILED files (None: none)."""
        return self._db.read(
            lambda c: queries.next_attempt_due(c, job_id=job_id, selection=selection)
        )

    # --- host windows (see :mod:`.hostwindows`) -------------------------------------------

    def record_host_window(self, decision: HostDecision) -> None:
        """Store a host's window and pace as decided (replacing an older decision)."""
        self._db.write(lambda c: hostwindows.record(c, decision))

    def host_windows(self) -> dict[str, HostDecision]:
        """Return every host's latest decision, by host."""
        return self._db.read(hostwindows.read)

    def host_window(self, host: str) -> HostDecision | None:
        """Return ``host``'s latest decision, None when none was stored."""
        return self._db.read(lambda c: hostwindows.read(c, host)).get(host)

    # --- backfill ledger (see :mod:`.ledger`) ---------------------------------------------

    def append_day_run(self, run: DayRun) -> None:
        """Append one ledger row (rows are never updated or deleted)."""
        self._db.write(lambda c: ledger.append(c, run))

    def latest_day_runs(self, source: str, first: date, last: date) -> dict[date, DayRun]:
        """Return the latest ledger row of each day of ``source`` in ``[first, last]``.

        Days without a row are absent. One indexed query, however long the ledger.
        """
        return self._db.read(lambda c: ledger.latest(c, source, first, last))

    def day_runs(
        self, source: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[DayRun]:
        """Return every ledger row, or those of ``source`` and days in ``[first, last]``, by id."""
        return self._db.read(lambda c: ledger.rows(c, source, first, last))

    def ledger_sources(self) -> list[str]:
        """Return the names of the sources with ledger rows, sorted."""
        return self._db.read(ledger.sources)

    def files_per_day(self, source: str, first: date, last: date) -> dict[date, tuple[int, int]]:
        """Return (files discovered, files downloaded) of ``source`` per UTC day.

        A file's day is that of ``obs_start`` (of ``created_at`` without one); discovered
        counts all but IGNORED files. Days in ``[first, last]`` without files are absent.
        """
        return self._db.read(lambda c: ledger.files_per_day(c, source, first, last))

    # --- jobs (see :mod:`.jobs`; states from :mod:`skyhaul.core.jobs`) -------------------

    def create_job(self, kind: JobKind, params: Mapping[str, Any], *, now: datetime) -> int:
        """Queue a new job; return its id.

        ``params`` must be JSON-ready: they reproduce the job (``jobs resume``).
        """
        return self._db.write(lambda c: catalog_jobs.create(c, kind, params, now))

    def link_job_files(self, job_id: int, file_ids: Sequence[int]) -> int:
        """Link files to a job, idempotently and in chunks; return how many links are new.

        Raises
        ------
        UsageError
            When there is no such job or no such file.
        """
        if not file_ids:
            return 0
        return self._db.write(lambda c: catalog_jobs.link_files(c, job_id, file_ids))

    def start_job(self, job_id: int, owner: str, *, now: datetime, lease_seconds: float) -> bool:
        """Start a queued job for ``owner``, leased until ``now + lease_seconds``.

        Returns False when the job was not queued (another process started it first).
        """
        return self._db.write(lambda c: catalog_jobs.start(c, job_id, owner, now, lease_seconds))

    def publish_job_progress(
        self,
        job_id: int,
        owner: str,
        progress: JobProgress,
        *,
        now: datetime,
        lease_seconds: float,
    ) -> bool | None:
        """Store a running job's progress and renew its lease (one small UPDATE).

        Returns whether a cancel was requested, or None when ``owner`` no longer holds the
        running job (it was recovered as interrupted, or finished): the caller must stop.
        """
        return self._db.write(
            lambda c: catalog_jobs.publish_progress(c, job_id, owner, progress, now, lease_seconds)
        )

    def finish_job(
        self,
        job_id: int,
        owner: str,
        state: JobState,
        *,
        now: datetime,
        summary: Mapping[str, Any] | None,
        error: str | None = None,
    ) -> bool:
        """End ``owner``'s running job in ``state`` (succeeded, failed, cancelled or
        interrupted) with its JSON-ready summary. False when it no longer held the job.

        Raises
        ------
        IllegalTransitionError
            When ``state`` is not one a running job can end in.
        """
        return self._db.write(
            lambda c: catalog_jobs.finish(c, job_id, owner, state, now, summary, error)
        )

    def request_job_cancel(self, job_id: int, *, now: datetime) -> bool:
        """Ask a running job to stop (its owner sees the flag within a publish), or cancel
        a queued one at once. False when the job is unknown or already finished."""
        return self._db.write(lambda c: catalog_jobs.cancel(c, job_id, now))

    def recover_interrupted_jobs(self, *, now: datetime) -> int:
        """Mark running jobs whose lease expired before ``now`` interrupted; return how many.

        A lease renewed past ``now`` is left alone, so a slow but live job is never taken.
        """
        return self._db.write(lambda c: catalog_jobs.recover_interrupted(c, now))

    def requeue_job(self, job_id: int, *, now: datetime) -> bool:
        """Queue a failed, cancelled or interrupted job again (cancel flag cleared).

        Returns False when the job is unknown or in another state.
        """
        return self._db.write(lambda c: catalog_jobs.requeue(c, job_id, now))

    def get_job(self, job_id: int) -> JobRecord | None:
        """Return one job, or None."""
        return self._db.read(lambda c: catalog_jobs.get(c, job_id))

    def list_jobs(
        self, *, states: Collection[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Return up to ``limit`` jobs, newest first; only those in ``states`` if given.

        Call :meth:`recover_interrupted_jobs` first to show dead jobs as interrupted.
        """
        return self._db.read(lambda c: catalog_jobs.list_jobs(c, states, limit))

    def job_file_ids(self, job_id: int) -> list[int]:
        """Return the ids of the files a job concerns, in order."""
        return self._db.read(lambda c: catalog_jobs.file_ids(c, job_id))

    def job_file_states(self, job_id: int) -> dict[FileState, int]:
        """Return how many of a job's files are in each state (states with none left out)."""
        return self._db.read(lambda c: queries.states_of_job(c, job_id))

    def job_file_totals(self, job_id: int) -> dict[FileState, FileTotals]:
        """Return the count, sizes and bytes on disk of a job's files by state (states
        with none left out)."""
        return self._db.read(lambda c: queries.totals_of_job(c, job_id))


def open_catalog(url: str | None = None, *, migrate: bool = True, create: bool = True) -> Catalog:
    """Open (and create or migrate, as needed) the catalog at ``url``.

    Parameters
    ----------
    url : str or None
        A database URL or SQLite path; None for ``$SKYHAUL_CATALOG`` or the default
        (see :func:`~skyhaul.adapters.catalog.urls.catalog_url`).
    migrate : bool
        Bring the schema to the current version (fast when it already is).
    create : bool
        Create the catalog (a SQLite file, mode 0600, or the schema in an empty
        database) when there is none. False for readers: nothing is created.

    Raises
    ------
    NoCatalogError
        Without ``create``, when there is no catalog at ``url``.
    CatalogUnavailableError
        When the catalog cannot be opened, with one line naming the redacted URL and why.
    """
    url = catalog_url(url)
    try:
        engine = create_catalog_engine(url, create=create)
    except SkyhaulError:
        raise
    except Exception as error:
        raise unavailable(error, url) from error
    try:
        if migrate:
            ensure_schema(engine, create=create)
    except NoCatalogError:
        engine.dispose()
        raise
    except Exception as error:
        engine.dispose()
        raise unavailable(error, url) from error
    return Catalog(Database(engine, url))
