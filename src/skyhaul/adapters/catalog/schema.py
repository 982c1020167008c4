"""The catalog's tables (SQLAlchemy Core) and the indices its queries rely on.

This is the schema the code expects; ``migrations/`` builds it in a database. A test
compares the two, so a change here without a migration (or the reverse) fails.

Indices and the query each one serves:

- ``ix_files_claim`` (state, next_attempt_at, id): ``claim_batch`` (due files of one
  state, oldest first) and every per-state compare-and-set update.
- ``ix_files_lease`` (state, lease_expires_at): ``recover_stale`` (expired DOWNLOADING).
- ``ix_files_instrument_obs`` (instrument, obs_start, obs_end): observation windows
  (a range on ``obs_start``; the end is tested inside the index).
- ``ix_files_instrument_downlink``: downlink-window selections.
- ``ix_files_obs``, ``ix_files_downlink``: the same windows over all instruments.
- ``ix_files_slot``, ``ix_files_downloaded_at``: the selections by slot, and "what
  arrived since" (a job's files are found through ``job_files``' primary key).
- ``ix_files_undated`` (source, created_at), over files without ``obs_start``: per-day
  file counts, which bucket such files by their creation day (``ix_files_obs`` serves the
  others).
- ``ix_files_real_path`` (unique) and ``ix_copies_real_path`` (unique): a destination is
  one file, whatever root it was named under (``real_path``: the root resolved, the
  relative path normalised). Rows that shared a real file before migration ``0006``
  keep a NULL there (only the first kept it), as the ``(dest_root, path)`` constraint
  still tells them apart; copies and files are checked against each other at
  registration.
- ``ix_copies_file_id``: the copies of a file.
- ``ix_day_runs_latest`` (source, day, id): the latest ledger row of each day of a source
  in a date range (``max(id)`` per day, read from the index alone), then those rows by id.

Indices on values many files lack (leases, mission metadata, request, download time) are
partial, over the rows that have one: files without the value cost nothing to index or
to update, and a query testing the column (``slot = ?``) still uses them.

``state_totals`` holds per-state counts and bytes, changed in the same transaction as the
files they count, so a status summary reads a handful of rows instead of the files table.
Each state has one row per *shard*: on PostgreSQL concurrent writers spread their updates
over a few rows instead of queueing on one.

The files table's mission metadata columns come from the one declaration
(:mod:`skyhaul.core.metadata`), typed by kind, in declaration order.

``file_headers`` holds what a file's FITS content says about it, one row per file that
has any: the indexed header values (columns from the one declaration,
:data:`skyhaul.core.fitsheaders.HEADER_COLUMNS`, text stored upper case), the cards as
JSON and the archive's record of the file (``origin``, JSON, from registration). Each
indexed value has a partial index (``ix_file_headers_<column>``), over the rows that
know it. The files table stays as narrow as it was: a run without FITS metadata never
touches this table.

``day_runs`` is the backfill ledger (:class:`~skyhaul.core.backfill.DayRun`): rows are only
ever inserted, one per state change of a day; a day's latest row (highest id) is its state.

``host_windows`` holds one row per host: its window and pace as last decided by any worker
(:class:`~skyhaul.core.windowchange.HostDecision`), replaced by each later decision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from skyhaul.adapters.catalog.types import UTCDateTime
from skyhaul.core.fitsheaders import HEADER_COLUMNS
from skyhaul.core.metadata import METADATA_KINDS, MetadataKind

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: 64-bit ids; on SQLite an INTEGER PRIMARY KEY is the rowid (BIGINT would not be).
Id = BigInteger().with_variant(Integer(), "sqlite")

#: The column type of each kind of mission metadata.
METADATA_TYPES: dict[MetadataKind, type[TypeEngine[Any]]] = {
    MetadataKind.TEXT: Text,
    MetadataKind.TIME: UTCDateTime,
    MetadataKind.FLOAT: Float,
    MetadataKind.INT: BigInteger,
}

files = Table(
    "files",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("dest_root", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("size", BigInteger),
    Column("checksum", Text),
    Column("sha256", String(64)),
    Column("validator", Text),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("error_class", String(32)),
    Column("next_attempt_at", UTCDateTime),
    Column("lease_owner", Text),
    Column("lease_expires_at", UTCDateTime),
    Column("bytes_done", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("downloaded_at", UTCDateTime),
    *(Column(name, METADATA_TYPES[kind]) for name, kind in METADATA_KINDS.items()),
    Column("remote_version", Text),
    Column("mirrors", Text),
    Column("validator_url", Text),
    Column("real_path", Text),
    UniqueConstraint("url"),
    UniqueConstraint("dest_root", "path"),
)

Index("ix_files_claim", files.c.state, files.c.next_attempt_at, files.c.id)
Index("ix_files_real_path", files.c.real_path, unique=True)


def _partial(name: str, *columns: Column[Any], when: Column[Any]) -> Index:
    """An index of the rows where ``when`` is known (a test on the column implies it)."""
    condition = when.is_not(None)
    return Index(name, *columns, sqlite_where=condition, postgresql_where=condition)


_partial("ix_files_lease", files.c.state, files.c.lease_expires_at, when=files.c.lease_expires_at)
_partial(
    "ix_files_instrument_obs",
    files.c.instrument,
    files.c.obs_start,
    files.c.obs_end,
    when=files.c.instrument,
)
_partial(
    "ix_files_instrument_downlink",
    files.c.instrument,
    files.c.downlink_time,
    when=files.c.downlink_time,
)
_partial("ix_files_obs", files.c.obs_start, files.c.obs_end, when=files.c.obs_start)
_partial("ix_files_downlink", files.c.downlink_time, when=files.c.downlink_time)
_partial("ix_files_slot", files.c.slot, when=files.c.slot)
_partial("ix_files_downloaded_at", files.c.downloaded_at, when=files.c.downloaded_at)
_undated = files.c.obs_start.is_(None)
Index(
    "ix_files_undated",
    files.c.source,
    files.c.created_at,
    sqlite_where=_undated,
    postgresql_where=_undated,
)

file_headers = Table(
    "file_headers",
    metadata,
    Column("file_id", Id, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    *(Column(column.name, METADATA_TYPES[column.kind]) for column in HEADER_COLUMNS),
    Column("cards", Text),
    Column("origin", Text),
    Column("read_at", UTCDateTime),
)
"""A file's FITS header values and cards, and its archive record (see above)."""

for _column in HEADER_COLUMNS:
    _partial(
        f"ix_file_headers_{_column.name}",
        file_headers.c[_column.name],
        when=file_headers.c[_column.name],
    )

segments = Table(
    "segments",
    metadata,
    Column("file_id", Id, ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("start", BigInteger, primary_key=True, autoincrement=False),
    Column("end", BigInteger, nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("file_id", Id, ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("error_class", String(32)),
    Column("message", Text),
    Column("sources", Text),
)

Index("ix_attempts_file_id", attempts.c.file_id)

state_totals = Table(
    "state_totals",
    metadata,
    Column("state", String(16), primary_key=True),
    Column("shard", SmallInteger, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("unsized", BigInteger, nullable=False),
)
"""Per state (and shard): files, bytes of known sizes, and files of unknown size."""

slots = Table(
    "slots",
    metadata,
    Column("name", Text, primary_key=True),
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("station", Text),
)

catalog_facts = Table(
    "catalog_facts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""Facts about the rows that make queries cheaper (see :mod:`.facts`)."""

copies = Table(
    "copies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("file_id", Id, ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    Column("dest_root", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("real_path", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("copied_at", UTCDateTime),
    Column("last_error", Text),
)
"""Copies of files in further destinations (:mod:`skyhaul.core.copies`)."""

Index("ix_copies_real_path", copies.c.real_path, unique=True)
Index("ix_copies_file_id", copies.c.file_id)

day_runs = Table(
    "day_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("records", BigInteger),
    Column("expected_records", BigInteger),
    Column("availability", Float),
    Column("seconds", Float),
    Column("size", BigInteger),
    Column("path", Text),
    Column("sha256", String(64)),
    Column("output_format", String(16), nullable=False),
    Column("error_type", Text),
    Column("error_message", Text),
    Column("requests", Integer, nullable=False, server_default=text("0")),
    Column("throttled", Integer, nullable=False, server_default=text("0")),
)
"""The backfill ledger: one row per state change of a day (insert only)."""

Index("ix_day_runs_latest", day_runs.c.source, day_runs.c.day, day_runs.c.id)

host_windows = Table(
    "host_windows",
    metadata,
    Column("host", Text, primary_key=True),
    Column("window", Integer, nullable=False),
    Column("rate", Float),
    Column("reason", Text, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("decided_by", Text, nullable=False),
)
"""Each host's window and pace as last decided (one row per host, replaced)."""
