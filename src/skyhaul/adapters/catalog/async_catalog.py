"""The catalog for services on an event loop: every call on one dedicated thread.

Rules:
- The SQLAlchemy catalog is synchronous; a service must never block its loop on it. Each
  method here runs the same-named :class:`Catalog` method on one worker thread and awaits
  it, so services see the asynchronous roles of :mod:`skyhaul.ports.catalog` and never
  know a thread exists.
- One thread serialises every call: SQLite allows one writer at a time anyway, and a
  single thread keeps the order of transitions the order in which they were asked.
- Methods are written out (no ``getattr`` by name): a renamed catalog method fails in
  mypy here, not at run time in a service.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from skyhaul.adapters.catalog.register import RegisterResult
from skyhaul.adapters.catalog.store import Catalog
from skyhaul.core.backfill import DayRun
from skyhaul.core.jobprogress import JobProgress
from skyhaul.core.jobs import JobKind, JobState
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import AttemptRecord, Completion, FileRecord, FileSpec, Selection
from skyhaul.core.windowchange import HostDecision

__all__ = ["AsyncCatalog"]

P = ParamSpec("P")
T = TypeVar("T")

_LEASED = Selection(states=frozenset({FileState.DOWNLOADING}))


class AsyncCatalog:
    """A :class:`Catalog` seen through the asynchronous ports (claims, segments, ...).

    Parameters
    ----------
    catalog : Catalog
        The synchronous catalog; it stays owned (and closed) by the caller.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skyhaul-catalog")

    async def _call(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(method, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Finish queued calls and stop the thread (the catalog itself stays open)."""
        self._executor.shutdown(wait=True)

    # --- Claims ------------------------------------------------------------------------

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
        """See :meth:`Catalog.claim_batch`."""
        return await self._call(
            self.catalog.claim_batch,
            owner,
            limit,
            now=now,
            lease_seconds=lease_seconds,
            selection=selection,
            job_id=job_id,
        )

    async def renew_leases(
        self,
        owner: str,
        file_ids: Sequence[int],
        *,
        now: datetime,
        lease_seconds: float,
        bytes_done: Mapping[int, int] | None = None,
    ) -> set[int]:
        """See :meth:`Catalog.renew_leases`."""
        return await self._call(
            self.catalog.renew_leases,
            owner,
            file_ids,
            now=now,
            lease_seconds=lease_seconds,
            bytes_done=bytes_done,
        )

    async def release(self, file_ids: Sequence[int], owner: str, *, now: datetime) -> int:
        """See :meth:`Catalog.release`."""
        return await self._call(self.catalog.release, file_ids, owner, now=now)

    async def recover_stale(self, *, now: datetime) -> int:
        """See :meth:`Catalog.recover_stale`."""
        return await self._call(self.catalog.recover_stale, now=now)

    async def leased_files(self) -> list[FileRecord]:
        """Return every DOWNLOADING file."""
        return await self._call(self.catalog.list_files, _LEASED)

    async def complete_many(
        self,
        items: Sequence[Completion],
        owner: str,
        *,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
    ) -> set[int]:
        """See :meth:`Catalog.complete_many`."""
        return await self._call(
            self.catalog.complete_many, items, owner, now=now, attempts=attempts
        )

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
        """See :meth:`Catalog.fail`."""
        return await self._call(
            self.catalog.fail,
            file_id,
            owner,
            now=now,
            error_class=error_class,
            message=message,
            next_attempt_at=next_attempt_at,
            permanent=permanent,
        )

    async def record_attempts(self, attempt_records: Sequence[AttemptRecord]) -> None:
        """See :meth:`Catalog.record_attempts`."""
        await self._call(self.catalog.record_attempts, attempt_records)

    async def expected_totals(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> tuple[int, int | None]:
        """See :meth:`Catalog.expected_totals`."""
        return await self._call(self.catalog.expected_totals, job_id=job_id, selection=selection)

    async def next_attempt_due(
        self, *, job_id: int | None = None, selection: Selection | None = None
    ) -> datetime | None:
        """See :meth:`Catalog.next_attempt_due`."""
        return await self._call(self.catalog.next_attempt_due, job_id=job_id, selection=selection)

    # --- SegmentMap ----------------------------------------------------------------------

    async def segments(self, file_id: int) -> list[tuple[int, int]]:
        """See :meth:`Catalog.segments`."""
        return await self._call(self.catalog.segments, file_id)

    async def add_segments(self, file_id: int, ranges: Sequence[tuple[int, int]]) -> None:
        """See :meth:`Catalog.add_segments`."""
        await self._call(self.catalog.add_segments, file_id, ranges)

    async def reset_segments(self, file_id: int) -> None:
        """See :meth:`Catalog.reset_segments`."""
        await self._call(self.catalog.reset_segments, file_id)

    async def set_validator(
        self,
        file_id: int,
        owner: str,
        *,
        validator: str | None,
        size: int | None,
        url: str | None = None,
    ) -> bool:
        """See :meth:`Catalog.set_validator`."""
        return await self._call(
            self.catalog.set_validator, file_id, owner, validator=validator, size=size, url=url
        )

    # --- Registry ------------------------------------------------------------------------

    async def register(
        self,
        specs: Sequence[FileSpec],
        dest_root: str,
        *,
        now: datetime,
        job_id: int | None = None,
    ) -> RegisterResult:
        """See :meth:`Catalog.register`."""
        return await self._call(self.catalog.register, specs, dest_root, now=now, job_id=job_id)

    # --- HostWindows ---------------------------------------------------------------------

    async def record_host_window(self, decision: HostDecision) -> None:
        """See :meth:`Catalog.record_host_window`."""
        await self._call(self.catalog.record_host_window, decision)

    async def host_windows(self) -> dict[str, HostDecision]:
        """See :meth:`Catalog.host_windows`."""
        return await self._call(self.catalog.host_windows)

    # --- DayLedger -----------------------------------------------------------------------

    async def append_day_run(self, run: DayRun) -> None:
        """See :meth:`Catalog.append_day_run`."""
        await self._call(self.catalog.append_day_run, run)

    async def latest_day_runs(self, source: str, first: date, last: date) -> dict[date, DayRun]:
        """See :meth:`Catalog.latest_day_runs`."""
        return await self._call(self.catalog.latest_day_runs, source, first, last)

    # --- JobStore ------------------------------------------------------------------------

    async def create_job(self, kind: JobKind, params: Mapping[str, Any], *, now: datetime) -> int:
        """See :meth:`Catalog.create_job`."""
        return await self._call(self.catalog.create_job, kind, params, now=now)

    async def start_job(
        self, job_id: int, owner: str, *, now: datetime, lease_seconds: float
    ) -> bool:
        """See :meth:`Catalog.start_job`."""
        return await self._call(
            self.catalog.start_job, job_id, owner, now=now, lease_seconds=lease_seconds
        )

    async def publish_job_progress(
        self,
        job_id: int,
        owner: str,
        progress: JobProgress,
        *,
        now: datetime,
        lease_seconds: float,
    ) -> bool | None:
        """See :meth:`Catalog.publish_job_progress`."""
        return await self._call(
            self.catalog.publish_job_progress,
            job_id,
            owner,
            progress,
            now=now,
            lease_seconds=lease_seconds,
        )

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
        """See :meth:`Catalog.finish_job`."""
        return await self._call(
            self.catalog.finish_job, job_id, owner, state, now=now, summary=summary, error=error
        )
