"""Reading the catalog: files, counts, progress totals. No writes here.

Rules:
- Counts that the per-state totals can answer (no selection, or states only) come from
  the totals table; anything else is one indexed query on files.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.facts import where_clauses
from skyhaul.adapters.catalog.records import RECORD_COLUMNS, error_class, to_record
from skyhaul.adapters.catalog.schema import attempts as attempts_table
from skyhaul.adapters.catalog.schema import copies, files
from skyhaul.adapters.catalog.schema import segments as segments_table
from skyhaul.adapters.catalog.selection import is_windowed, state_column, state_values
from skyhaul.adapters.catalog.totals import read_totals
from skyhaul.core.jobtotals import FileTotals
from skyhaul.core.lifecycle import TERMINAL_STATES, FileState
from skyhaul.core.metadata import METADATA_NAMES
from skyhaul.core.model import AttemptRecord, FileRecord, Selection
from skyhaul.errors import UsageError

#: Columns ``list_files`` can order by (``-name`` for descending); ties go by id.
ORDERABLE = frozenset(
    {
        "id",
        "url",
        "path",
        "state",
        "size",
        "attempts",
        "created_at",
        "updated_at",
        "downloaded_at",
        "next_attempt_at",
        *METADATA_NAMES,
    }
)

_TO_DOWNLOAD = frozenset(FileState) - TERMINAL_STATES


def get(c: Connection, file_id: int) -> FileRecord | None:
    """Return one file, or None."""
    row = c.execute(select(*RECORD_COLUMNS).where(files.c.id == file_id)).first()
    return None if row is None else to_record(row)


def file_at(c: Connection, real_path: str) -> FileRecord | None:
    """Return the file whose destination, or one of whose copies, is ``real_path``."""
    row = c.execute(select(*RECORD_COLUMNS).where(files.c.real_path == real_path)).first()
    if row is not None:
        return to_record(row)
    owner = c.scalar(select(copies.c.file_id).where(copies.c.real_path == real_path))
    return None if owner is None else get(c, owner)


def list_files(
    c: Connection,
    selection: Selection | None,
    *,
    limit: int | None,
    offset: int,
    order: str,
    job_id: int | None = None,
) -> list[FileRecord]:
    """Return the selected files (of job ``job_id`` only, if given) in ``order``."""
    name = order.removeprefix("-")
    if name not in ORDERABLE:
        raise UsageError(
            f"cannot order files by {order!r}; choose one of {', '.join(sorted(ORDERABLE))}"
        )
    column: Any = files.c[name]
    if name == "id" and is_windowed(selection):
        # Walking the primary key in order, hoping to meet the window's rows, is what a
        # LIMIT tempts both databases to do; ordering by an expression makes them use the
        # window's index and sort the few rows it finds.
        column = files.c.id + 0
    descending = order.startswith("-")
    keys = [column.desc() if descending else column.asc()]
    if name != "id":
        keys.append(files.c.id.desc() if descending else files.c.id.asc())
    query = (
        select(*RECORD_COLUMNS)
        .where(*where_clauses(c, selection, job_id=job_id))
        .order_by(*keys)
        .limit(limit)
        .offset(offset or None)
    )
    return [to_record(row) for row in c.execute(query)]


def count_files(c: Connection, selection: Selection | None) -> int:
    """Return how many files are selected."""
    if _states_only(selection):
        # An empty Selection (every field None) selects every state, like None.
        states = (
            set(FileState) if selection is None or selection.states is None else selection.states
        )
        totals = read_totals(c)
        return sum(totals[state][0] for state in states)
    count = c.scalar(select(func.count()).select_from(files).where(*where_clauses(c, selection)))
    return int(count or 0)


def expected_totals(
    c: Connection, *, job_id: int | None, selection: Selection | None
) -> tuple[int, int | None]:
    """Return (files, bytes or None) of the selected files still to download."""
    wanted = set(_TO_DOWNLOAD)
    if selection is not None and selection.states is not None:
        wanted &= selection.states
    if job_id is None and _states_only(selection):
        totals = read_totals(c)
        count = sum(totals[state][0] for state in wanted)
        nbytes = sum(totals[state][1] for state in wanted)
        unsized = sum(totals[state][2] for state in wanted)
        return count, None if unsized else nbytes
    if not wanted:
        return 0, 0
    row = c.execute(
        select(func.count(), func.coalesce(func.sum(files.c.size), 0), func.count(files.c.size))
        .where(*where_clauses(c, selection, job_id=job_id))
        .where(state_column(_narrowed(selection, job_id)).in_(state_values(wanted)))
    ).one()
    count, nbytes, sized = (int(value) for value in row)
    return count, nbytes if sized == count else None


def next_attempt_due(
    c: Connection, *, job_id: int | None, selection: Selection | None
) -> datetime | None:
    """Return the earliest ``next_attempt_at`` among the selected FAILED files."""
    states = None if selection is None else selection.states
    if states is not None and FileState.FAILED not in states:
        return None
    due: datetime | None = c.scalar(
        select(files.c.next_attempt_at)
        .where(
            state_column(_narrowed(selection, job_id)) == FileState.FAILED.value,
            files.c.next_attempt_at.is_not(None),
        )
        .where(*where_clauses(c, selection, job_id=job_id))
        .order_by(files.c.next_attempt_at)
        .limit(1)
    )
    return due


def states_of_job(c: Connection, job_id: int) -> dict[FileState, int]:
    """Return how many of a job's files are in each state (states with none left out)."""
    query = (
        select(files.c.state, func.count())
        .where(*where_clauses(c, None, job_id=job_id))
        .group_by(files.c.state)
    )
    return {FileState(state): int(count) for state, count in c.execute(query)}


def totals_of_job(c: Connection, job_id: int) -> dict[FileState, FileTotals]:
    """Return the count, sizes and bytes on disk of a job's files by state."""
    query = (
        select(
            files.c.state,
            func.count(),
            func.count(files.c.size),
            func.coalesce(func.sum(files.c.size), 0),
            func.coalesce(func.sum(files.c.bytes_done), 0),
        )
        .where(*where_clauses(c, None, job_id=job_id))
        .group_by(files.c.state)
    )
    return {
        FileState(state): FileTotals(int(count), int(sized), int(nbytes), int(done))
        for state, count, sized, nbytes, done in c.execute(query)
    }


def attempts(c: Connection, file_id: int) -> list[AttemptRecord]:
    """Return the attempts at one file, oldest first."""
    query = (
        select(attempts_table)
        .where(attempts_table.c.file_id == file_id)
        .order_by(attempts_table.c.id)
    )
    return [
        AttemptRecord(
            file_id=row.file_id,
            started_at=row.started_at,
            finished_at=row.finished_at,
            outcome=row.outcome,
            bytes=row.bytes,
            error_class=error_class(row.error_class),
            message=row.message,
            sources=tuple(json.loads(row.sources).items()) if row.sources else (),
        )
        for row in c.execute(query)
    ]


def segments(c: Connection, file_id: int) -> list[tuple[int, int]]:
    """Return the durable ranges of a file, in order."""
    query = (
        select(segments_table.c.start, segments_table.c.end)
        .where(segments_table.c.file_id == file_id)
        .order_by(segments_table.c.start)
    )
    return [(int(start), int(end)) for start, end in c.execute(query)]


def _states_only(selection: Selection | None) -> bool:
    if selection is None:
        return True
    return selection == Selection(states=selection.states)


def _narrowed(selection: Selection | None, job_id: int | None) -> bool:
    """True when an index other than the state's finds the files first (a window, a job)."""
    return job_id is not None or is_windowed(selection)
