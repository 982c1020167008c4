"""The backfill ledger in the catalog, and per-day file counts for availability.

Rules:
- The ledger is append-only: :func:`append` inserts; nothing here updates or deletes a
  row. A day's state is its latest row (highest id), see :mod:`skyhaul.core.backfill`.
- :func:`latest` is one statement: ``max(id)`` per day from ``ix_day_runs_latest``
  (source, day, id) alone, then those rows by primary key. A year of days costs a few
  thousand index entries however long the ledger grows.
- :func:`files_per_day` buckets files by the UTC day of ``obs_start`` (``created_at``
  when a file has none) and never scans the files table: the dated files come from a
  range on ``ix_files_obs``, the undated ones from ``ix_files_undated``. The day of a
  timestamp is computed in SQL, which is where the two backends differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import Date, case, cast, func, insert, literal_column, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from skyhaul.adapters.catalog.schema import day_runs, files
from skyhaul.core.backfill import DayRun, DayStatus
from skyhaul.core.lifecycle import FileState
from skyhaul.core.window import day_span

_FIELDS = tuple(f.name for f in dataclasses.fields(DayRun))
#: The ledger columns a DayRun is made of, in field order.
_COLUMNS = [day_runs.c[name] for name in _FIELDS]
_STATUS = _FIELDS.index("status")


def append(c: Connection, run: DayRun) -> None:
    """Insert one ledger row."""
    values: dict[str, Any] = {name: getattr(run, name) for name in _FIELDS}
    values["status"] = DayStatus(run.status).value
    c.execute(insert(day_runs).values(values))


def latest(c: Connection, source: str, first: date, last: date) -> dict[date, DayRun]:
    """Return the latest row of each day of ``source`` in ``[first, last]``.

    Parameters
    ----------
    c : Connection
        In a transaction.
    source : str
        The source's name.
    first, last : date
        The days, both included.

    Returns
    -------
    dict of date to DayRun
        In day order; days without a row are absent.
    """
    newest = (
        select(func.max(day_runs.c.id))
        .where(day_runs.c.source == source, day_runs.c.day.between(first, last))
        .group_by(day_runs.c.day)
    )
    found = c.execute(select(*_COLUMNS).where(day_runs.c.id.in_(newest)).order_by(day_runs.c.day))
    return {run.day: run for run in map(_to_day_run, found)}


def rows(c: Connection, source: str | None, first: date | None, last: date | None) -> list[DayRun]:
    """Return the ledger rows (of ``source``, of days in ``[first, last]``) by id."""
    where: list[ColumnElement[bool]] = []
    if source is not None:
        where.append(day_runs.c.source == source)
    if first is not None:
        where.append(day_runs.c.day >= first)
    if last is not None:
        where.append(day_runs.c.day <= last)
    query = select(*_COLUMNS).where(*where).order_by(day_runs.c.id)
    return [_to_day_run(row) for row in c.execute(query)]


def sources(c: Connection) -> list[str]:
    """Return the names of the sources the ledger has rows of, sorted (from its index)."""
    return list(c.scalars(select(day_runs.c.source).distinct().order_by(day_runs.c.source)))


def files_per_day(
    c: Connection, source: str, first: date, last: date
) -> dict[date, tuple[int, int]]:
    """Count the files of ``source`` per UTC day in ``[first, last]``.

    Parameters
    ----------
    c : Connection
        In a transaction.
    source : str
        The source's name (``files.source``).
    first, last : date
        The days, both included.

    Returns
    -------
    dict of date to (int, int)
        Per day, in day order: files discovered (every state but IGNORED) and files
        DOWNLOADED. A file's day is that of ``obs_start``, else of ``created_at``. Days
        without a file are absent.
    """
    start, end = day_span(first, last)  # no end after the calendar's last day
    counted = [files.c.source == source, files.c.state != FileState.IGNORED.value]
    downloaded = func.count(case((files.c.state == FileState.DOWNLOADED.value, 1)))
    dated = [files.c.obs_start >= start]
    undated = [files.c.obs_start.is_(None), files.c.created_at >= start]
    if end is not None:
        dated.append(files.c.obs_start < end)
        undated.append(files.c.created_at < end)
    totals: dict[date, tuple[int, int]] = {}
    for column, where in ((files.c.obs_start, dated), (files.c.created_at, undated)):
        day = _utc_day(c, column)
        query = select(day, func.count(), downloaded).where(*counted, *where).group_by(day)
        for bucket, found, done in c.execute(query):
            before = totals.get(bucket, (0, 0))
            totals[bucket] = (before[0] + found, before[1] + done)
    return dict(sorted(totals.items()))


def _utc_day(c: Connection, column: Any) -> ColumnElement[date]:
    """The UTC day of a :class:`~.types.UTCDateTime` column, as a date, in SQL."""
    if c.dialect.name == "postgresql":
        # A literal, not a bound parameter: GROUP BY must repeat the SELECT's expression.
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    # SQLite stores naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff": the day is its first ten
    # characters (date() would be NULL for the calendar's last half millisecond).
    return type_coerce(func.substr(column, 1, 10), Date)


def _to_day_run(row: Iterable[Any]) -> DayRun:
    values = list(row)
    values[_STATUS] = DayStatus(values[_STATUS])
    return DayRun(*values)
