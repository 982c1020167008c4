"""Physical copies in the catalog: recorded idempotently, moved by the status table.

Rules:
- A location holds one copy at a path. A copy is recorded PRESENT (written) or STAGED.
  Recording a copy where one is already recorded (a rerun after a kill) refreshes its
  checksum and verification time; a copy recorded DELETED comes back (``restored`` or
  ``restaged``: its bytes were written again). A path that holds another file's or
  package's copy is a ``UsageError``.
- Status changes go through :data:`skyhaul.core.placement.COPY_STATUSES`, compare-and-set.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.observatory_cas import cas_transition, insert_or_skip
from skyhaul.adapters.catalog.observatory_schema import physical_copies
from skyhaul.core.placement import (
    COPY_STATUSES,
    RECORDED_STATUSES,
    CopyEvent,
    CopyStatus,
    PhysicalCopy,
)
from skyhaul.errors import UsageError

__all__ = ["record", "select_copies", "transition"]

p = physical_copies.c
_COLUMNS = [p.id, p.location_id, p.file_id, p.package_id, p.path, p.status, p.verified_at, p.sha256]


def _to_copy(row: Any) -> PhysicalCopy:
    return PhysicalCopy(
        id=int(row.id),
        location=int(row.location_id),
        file_id=None if row.file_id is None else int(row.file_id),
        package_id=None if row.package_id is None else int(row.package_id),
        path=row.path,
        status=CopyStatus(row.status),
        verified_at=row.verified_at,
        sha256=row.sha256,
    )


def record(
    c: Connection,
    location_id: int,
    path: str,
    *,
    file_id: int | None,
    package_id: int | None,
    status: CopyStatus,
    sha256: str | None,
    verified_at: datetime | None,
    now: datetime,
) -> PhysicalCopy:
    """Record a copy at ``location_id``/``path`` (see the module's rules); return it."""
    if (file_id is None) == (package_id is None):
        raise ValueError("a physical copy is of one file or of one package")
    status = CopyStatus(status)
    if status not in RECORDED_STATUSES:
        raise ValueError(f"a copy is recorded PRESENT or STAGED, not {status.value}")
    row = {
        "location_id": location_id,
        "path": path,
        "file_id": file_id,
        "package_id": package_id,
        "status": status.value,
        "sha256": sha256,
        "verified_at": verified_at,
        "created_at": now,
        "updated_at": now,
    }
    if not insert_or_skip(c, physical_copies, [row], [p.id]):
        where = (p.location_id == location_id, p.path == path)
        held = c.execute(select(p.file_id, p.package_id).where(*where)).one()
        if (held.file_id, held.package_id) != (file_id, package_id):
            what = (
                f"file {held.file_id}" if held.file_id is not None else f"package {held.package_id}"
            )
            raise UsageError(f"location {location_id} holds a copy of {what} at {path!r}")
        values: dict[str, Any] = {"sha256": sha256, "verified_at": verified_at, "updated_at": now}
        copy_id = int(
            c.execute(
                update(physical_copies).where(*where).values(values).returning(p.id)
            ).scalar_one()
        )
        transition(c, copy_id, RECORDED_STATUSES[status], now, CopyStatus.DELETED)
    found = select_copies(c, p.location_id == location_id, p.path == path)
    return found[0]


def transition(
    c: Connection,
    copy_id: int,
    event: CopyEvent,
    now: datetime,
    expected: CopyStatus | None,
) -> CopyStatus | None:
    """Apply ``event`` to a copy (only from ``expected``, when given)."""
    where = [] if expected is None else [p.status == CopyStatus(expected).value]
    return cas_transition(
        c,
        physical_copies,
        p.status,
        copy_id,
        COPY_STATUSES,
        CopyEvent(event),
        {"updated_at": now},
        where=where,
    )


def select_copies(c: Connection, *where: ColumnElement[bool]) -> list[PhysicalCopy]:
    """Return the copies matching ``where``, by id."""
    return [_to_copy(row) for row in c.execute(select(*_COLUMNS).where(*where).order_by(p.id))]


def status_filter(statuses: Collection[CopyStatus] | None) -> list[ColumnElement[bool]]:
    """The condition for copies in ``statuses`` (none: all)."""
    if statuses is None:
        return []
    return [p.status.in_(sorted(CopyStatus(s).value for s in statuses))]
