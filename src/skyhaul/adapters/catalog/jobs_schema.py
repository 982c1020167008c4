"""The jobs tables, on the catalog's one ``metadata`` (see :mod:`.schema`).

Rules:
- ``jobs`` holds one row per job (:class:`~skyhaul.core.jobs.JobRecord`); ``params``,
  ``progress`` and ``summary`` are JSON text written and read by :mod:`.jobs`, so the
  once-a-second progress write costs the same on both backends (no ``jsonb`` parse).
- ``job_files`` links a job to the files it concerns (many to many), so a second run over
  the same files adds links instead of overwriting the first run's.
- ``day_claims`` holds the days of a backfill job run by workers: one row per planned
  day with its action; a day to run is claimed compare-and-set under a lease
  (``owner``, ``lease_until``) and ``done`` once its ledger row is final (:mod:`.day_claims`).
- Importing this module registers the tables on ``metadata``; :mod:`.migrate` imports it
  so that a catalog built at head has them.

Indices and the query each one serves:

- ``ix_jobs_state`` (state, id): ``list_jobs`` by state, newest first.
- ``ix_jobs_lease`` (state, lease_expires_at), over jobs holding a lease (only running
  ones do): ``recover_interrupted_jobs`` finds expired leases without a scan.
- ``ix_job_files_file_id``: the jobs of a file (the primary key serves a job's files).
- ``day_claims``' primary key (job_id, day): a job's days in order, for claims and counts.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from skyhaul.adapters.catalog.schema import Id, metadata
from skyhaul.adapters.catalog.types import UTCDateTime

__all__ = ["day_claims", "job_files", "jobs"]

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("owner", Text),
    Column("lease_expires_at", UTCDateTime),
    Column("cancel_requested", Boolean, nullable=False),
    Column("progress", Text),
    Column("progress_at", UTCDateTime),
    Column("summary", Text),
    Column("error", Text),
)

Index("ix_jobs_state", jobs.c.state, jobs.c.id)
_leased = jobs.c.lease_expires_at.is_not(None)
Index(
    "ix_jobs_lease",
    jobs.c.state,
    jobs.c.lease_expires_at,
    sqlite_where=_leased,
    postgresql_where=_leased,
)

job_files = Table(
    "job_files",
    metadata,
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("file_id", Id, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
)

Index("ix_job_files_file_id", job_files.c.file_id)

day_claims = Table(
    "day_claims",
    metadata,
    Column("job_id", Id, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("action", String(16), nullable=False),
    Column("done", Boolean, nullable=False),
    Column("owner", Text),
    Column("lease_until", UTCDateTime),
    Column("attempts", Integer, nullable=False),
)
