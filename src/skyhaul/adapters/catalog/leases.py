"""Claims and leases: who is downloading what, until when.

Rules:
- A file is claimable when it is in a state ``claim`` is legal from and it is due:
  ``next_attempt_at`` is null or not after ``now``. (The catalog keeps
  ``next_attempt_at`` null outside FAILED, so every DISCOVERED file is due.)
- Candidates come from the ``(state, next_attempt_at, id)`` index, a few LIMIT-ed range
  scans, never a scan of the table; the lowest ids among them are claimed.
- No file is handed to two claimers: PostgreSQL skips rows another claimer has locked
  (``FOR UPDATE SKIP LOCKED``); SQLite write transactions are serialised by
  ``BEGIN IMMEDIATE``; and the update is a compare-and-set on the state either way.
- A lease lives until ``lease_expires_at``; its owner pushes that forward while bytes flow.
  Only an expired lease is recovered, so a slow but live download is never taken away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.records import RECORD_COLUMNS, chunks, to_record
from skyhaul.adapters.catalog.schema import attempts, files
from skyhaul.adapters.catalog.selection import state_column
from skyhaul.adapters.catalog.totals import TotalsDelta
from skyhaul.adapters.catalog.transitions import transition, unindexed
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileEvent, FileState, sources_of
from skyhaul.core.model import FileRecord

#: ``error_class`` of a file whose lease expired (and of the attempt recorded for it).
LEASE_EXPIRED = ErrorClass.LEASE_EXPIRED.value

_HELD = FileState.DOWNLOADING.value


def claim(
    connection: Connection,
    owner: str,
    limit: int,
    *,
    now: datetime,
    lease_seconds: float,
    where: Sequence[ColumnElement[bool]],
    delta: TotalsDelta,
    windowed: bool = False,
) -> list[FileRecord]:
    """Claim up to ``limit`` due files matching ``where`` for ``owner``; lowest ids first.

    ``windowed``: ``where`` has a time window, whose index then beats the state's.
    """
    c = files.c
    state = state_column(windowed)
    # Windowed: sort the window's few rows (an expression is no index order to walk).
    order = (c.id + 0,) if windowed else (c.next_attempt_at, c.id)
    candidates: list[tuple[int, FileState]] = []
    for source in sorted(sources_of(FileEvent.CLAIM)):
        # Both orders are the index order, so PostgreSQL never prefers walking the
        # primary key (a LIMIT over ``ORDER BY id`` tempts it to, when few rows match).
        for due in (c.next_attempt_at.is_(None), c.next_attempt_at <= now):
            query = (
                select(c.id)
                .where(state == source.value, due, *where)
                .order_by(*order)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            candidates.extend((file_id, source) for file_id in connection.scalars(query))
    chosen = sorted(candidates)[:limit]
    values = {
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "attempts": c.attempts + 1,
        "next_attempt_at": None,
        "updated_at": now,
    }
    claimed: list[FileRecord] = []
    for source in sorted({source for _id, source in chosen}):
        ids = [file_id for file_id, state in chosen if state is source]
        for chunk in chunks(ids):
            rows = transition(
                connection,
                FileEvent.CLAIM,
                [c.id.in_(chunk)],
                values,
                delta,
                sources=[source],
                returning=RECORD_COLUMNS,
                by_id=True,
            )
            claimed.extend(to_record(row) for row in rows)
    claimed.sort(key=lambda record: record.id)
    return claimed


def renew(
    connection: Connection,
    owner: str,
    file_ids: Sequence[int],
    *,
    now: datetime,
    lease_seconds: float,
    bytes_done: Mapping[int, int] | None,
) -> set[int]:
    """Extend ``owner``'s leases on ``file_ids``; return the ids it still holds."""
    c = files.c
    held: set[int] = set()
    expires = now + timedelta(seconds=lease_seconds)
    for chunk in chunks(sorted(set(file_ids))):
        statement = (
            update(files)
            .where(c.id.in_(chunk), unindexed(c.state) == _HELD, c.lease_owner == owner)
            .values(lease_expires_at=expires)
            .returning(c.id)
        )
        held.update(connection.scalars(statement))
    progress = [
        {"_id": file_id, "v_bytes_done": done}
        for file_id, done in sorted((bytes_done or {}).items())
        if file_id in held
    ]
    if progress:
        connection.execute(
            update(files)
            .where(c.id == bindparam("_id"), c.state == _HELD, c.lease_owner == owner)
            .values(bytes_done=bindparam("v_bytes_done")),
            progress,
        )
    return held


def recover_stale(
    connection: Connection, *, now: datetime, instrument: str | None, delta: TotalsDelta
) -> int:
    """Fail every file whose lease expired before ``now``; record an ``expired`` attempt each."""
    c = files.c
    where: list[ColumnElement[bool]] = [c.lease_expires_at < now]
    if instrument is not None:
        where.append(c.instrument == instrument)
    stale = connection.execute(
        select(c.id, c.lease_owner, c.lease_expires_at, c.updated_at, c.bytes_done)
        .where(c.state.in_([s.value for s in sources_of(FileEvent.LEASE_EXPIRED)]), *where)
        .order_by(c.id)
        .with_for_update()
    ).all()
    if not stale:
        return 0
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "error_class": LEASE_EXPIRED,
        "last_error": literal("lease expired; held by ") + func.coalesce(c.lease_owner, "?"),
        "next_attempt_at": now,
        "updated_at": now,
    }
    recovered: set[int] = set()
    for chunk in chunks([row.id for row in stale]):
        rows = transition(
            connection,
            FileEvent.LEASE_EXPIRED,
            [c.id.in_(chunk), *where],
            values,
            delta,
            by_id=True,
        )
        recovered.update(row.id for row in rows)
    if not recovered:
        return 0
    connection.execute(
        insert(attempts),
        [
            {
                "file_id": row.id,
                # A claim sets updated_at and a heartbeat does not: it is the claim time.
                "started_at": row.updated_at,
                "finished_at": now,
                "outcome": "expired",
                "bytes": row.bytes_done,
                "error_class": LEASE_EXPIRED,
                "message": f"lease of {row.lease_owner} expired at "
                f"{row.lease_expires_at.isoformat()}",
            }
            for row in stale
            if row.id in recovered
        ],
    )
    return len(recovered)
