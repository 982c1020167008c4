"""Operations in the catalog: enqueued once, claimed compare-and-set, leased, recovered.

Rules:
- Enqueueing is idempotent while an operation is open: an open operation with the same
  kind, package, copy and locations (``open_key``) is returned instead of a new one.
- Claims take PENDING and SCHEDULED operations of one kind, lowest ids first. No
  operation goes to two claimers: PostgreSQL skips rows another claimer has locked
  (``FOR UPDATE SKIP LOCKED``), SQLite serialises write transactions, and the update is
  a compare-and-set on the status either way.
- Only the lease owner of an IN_PROGRESS operation renews, completes or fails it. A
  lease is recovered only once expired, so a slow but live worker keeps its work; a
  recovered operation is PENDING again without a retry counted
  (:mod:`skyhaul.core.operations`).
- A claim may be narrowed to operations whose home location
  (:data:`skyhaul.core.opqueues.OPERATION_HOMES`) is one location: a worker of that
  location's queue takes nothing it was not sent for.
- ``waiting_work`` lists (kind, home location) of operations claimable now or whose lease
  expired: what a publisher announces on the queues.
- Statuses come from :data:`skyhaul.core.operations.OPERATION_STATUSES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.observatory_cas import cas_transition, insert_or_skip
from skyhaul.adapters.catalog.observatory_schema import operations
from skyhaul.adapters.catalog.records import chunks
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.operations import (
    OPERATION_STATUSES,
    FailureDecision,
    NewOperation,
    Operation,
    OperationEvent,
    OperationKind,
    OperationStatus,
)
from skyhaul.core.opqueues import OPERATION_HOMES, OperationEnd, home_location

__all__ = [
    "claim",
    "complete",
    "count_operations",
    "enqueue",
    "fail",
    "get",
    "heartbeat",
    "list_operations",
    "recover_stale",
    "retry",
    "waiting_work",
]

_FIELDS = tuple(field.name for field in dataclasses.fields(Operation))
_RENAMED = {
    "source_location": "source_location_id",
    "destination_location": "destination_location_id",
}
_COLUMNS = [operations.c[_RENAMED.get(name, name)] for name in _FIELDS]
_HELD = OperationStatus.IN_PROGRESS.value
o = operations.c


def _to_operation(row: Any) -> Operation:
    values = dict(zip(_FIELDS, row, strict=True))
    values.update(kind=OperationKind(values["kind"]), status=OperationStatus(values["status"]))
    return Operation(**values)


def enqueue(c: Connection, new: NewOperation, now: datetime) -> int:
    """Insert ``new`` as PENDING unless the same operation is open; return the id."""
    row = {
        "kind": new.kind.value,
        "status": OperationStatus.PENDING.value,
        "package_id": new.package_id,
        "copy_id": new.copy_id,
        "source_location_id": new.source_location,
        "destination_location_id": new.destination_location,
        "retries": 0,
        "max_retries": new.max_retries,
        "open_key": new.open_key,
        "created_at": now,
        "updated_at": now,
    }
    inserted = insert_or_skip(c, operations, [row], [o.id])
    if inserted:
        return int(inserted[0].id)
    return int(c.execute(select(o.id).where(o.open_key == new.open_key)).scalar_one())


def claim(
    c: Connection,
    kind: OperationKind,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
    location_ids: Collection[int] | None,
    at_location: int | None = None,
) -> list[Operation]:
    """Claim up to ``limit`` PENDING or SCHEDULED operations of ``kind`` for ``owner``
    (only those whose home is ``at_location``, when given)."""
    sources = sorted(s.value for s in OPERATION_STATUSES.sources_of(OperationEvent.START))
    where: list[ColumnElement[bool]] = [o.kind == OperationKind(kind).value]
    if location_ids is not None:
        places = sorted(location_ids)
        where.append(or_(o.source_location_id.in_(places), o.destination_location_id.in_(places)))
    if at_location is not None:
        home = OPERATION_HOMES[OperationKind(kind)]
        column = o.source_location_id if home is OperationEnd.SOURCE else o.destination_location_id
        where.append(column == at_location)
    candidates = list(
        c.scalars(
            select(o.id)
            .where(o.status.in_(sources), *where)
            .order_by(o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    claimed: list[Operation] = []
    values = {
        "status": _HELD,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "heartbeat_at": now,
        "updated_at": now,
    }
    for chunk in chunks(candidates):
        statement = (
            update(operations)
            .where(o.id.in_(chunk), o.status.in_(sources))
            .values(values)
            .returning(*_COLUMNS)
        )
        claimed.extend(_to_operation(row) for row in c.execute(statement))
    return sorted(claimed, key=lambda operation: operation.id)


def heartbeat(
    c: Connection, owner: str, ids: Sequence[int], now: datetime, lease_seconds: float
) -> set[int]:
    """Renew ``owner``'s leases on ``ids``; return the ids it still holds."""
    held: set[int] = set()
    values = {"lease_expires_at": now + timedelta(seconds=lease_seconds), "heartbeat_at": now}
    for chunk in chunks(sorted(set(ids))):
        statement = (
            update(operations)
            .where(o.id.in_(chunk), o.status == _HELD, o.lease_owner == owner)
            .values(values)
            .returning(o.id)
        )
        held.update(int(i) for i in c.scalars(statement))
    return held


_RELEASED = {"lease_owner": None, "lease_expires_at": None}


def complete(c: Connection, operation_id: int, owner: str, now: datetime) -> bool:
    """Mark ``owner``'s operation COMPLETED; False if it no longer held it."""
    values = {**_RELEASED, "open_key": None, "error": None, "updated_at": now}
    done = cas_transition(
        c,
        operations,
        o.status,
        operation_id,
        OPERATION_STATUSES,
        OperationEvent.COMPLETE,
        values,
        where=[o.lease_owner == owner],
    )
    return done is not None


def fail(
    c: Connection,
    operation_id: int,
    owner: str,
    decision: FailureDecision,
    error_class: ErrorClass | None,
    error: str,
    now: datetime,
) -> OperationStatus | None:
    """Apply ``decision`` to ``owner``'s failed operation; None if it no longer held it."""
    values: dict[str, Any] = {
        **_RELEASED,
        "retries": decision.retries,
        "error_class": None if error_class is None else ErrorClass(error_class).value,
        "error": error,
        "updated_at": now,
    }
    if decision.permanent:
        values["open_key"] = None
    return cas_transition(
        c,
        operations,
        o.status,
        operation_id,
        OPERATION_STATUSES,
        decision.event,
        values,
        where=[o.lease_owner == owner],
    )


def recover_stale(c: Connection, now: datetime) -> int:
    """Make every IN_PROGRESS operation whose lease expired before ``now`` PENDING."""
    values = {
        **_RELEASED,
        "error_class": ErrorClass.LEASE_EXPIRED.value,
        "error": literal("lease expired; held by ") + func.coalesce(o.lease_owner, "?"),
        "updated_at": now,
    }
    recovered = 0
    for target, sources in OPERATION_STATUSES.targets_of(OperationEvent.LEASE_EXPIRED).items():
        statement = (
            update(operations)
            .where(o.status.in_(sorted(s.value for s in sources)), o.lease_expires_at < now)
            .values(status=target.value, **values)
            .returning(o.id)
        )
        recovered += len(c.execute(statement).all())
    return recovered


def waiting_work(
    c: Connection, now: datetime, kinds: Collection[OperationKind] | None
) -> set[tuple[OperationKind, int | None]]:
    """(kind, home location id) of every operation claimable now or whose lease expired."""
    claimable = sorted(s.value for s in OPERATION_STATUSES.sources_of(OperationEvent.START))
    where: list[ColumnElement[bool]] = [
        or_(o.status.in_(claimable), (o.status == _HELD) & (o.lease_expires_at < now))
    ]
    if kinds is not None:
        where.append(o.kind.in_(sorted(OperationKind(k).value for k in kinds)))
    rows = c.execute(
        select(o.kind, o.source_location_id, o.destination_location_id).where(*where).distinct()
    )
    return {
        (OperationKind(kind), home_location(OperationKind(kind), source, destination))
        for kind, source, destination in rows
    }


def count_operations(
    c: Connection,
    kinds: Collection[OperationKind] | None,
    statuses: Collection[OperationStatus] | None,
    updated_since: datetime | None,
) -> dict[tuple[OperationKind, OperationStatus], int]:
    """How many operations (of ``kinds``, in ``statuses``, changed since ``updated_since``)
    there are of each kind and status."""
    where: list[ColumnElement[bool]] = []
    if kinds is not None:
        where.append(o.kind.in_(sorted(OperationKind(k).value for k in kinds)))
    if statuses is not None:
        where.append(o.status.in_(sorted(OperationStatus(s).value for s in statuses)))
    if updated_since is not None:
        where.append(o.updated_at >= updated_since)
    rows = c.execute(
        select(o.kind, o.status, func.count()).where(*where).group_by(o.kind, o.status)
    )
    return {(OperationKind(k), OperationStatus(s)): int(n) for k, s, n in rows}


def retry(c: Connection, operation_id: int, now: datetime) -> bool:
    """Make a FAILED operation PENDING again with no retries counted.

    False when it is not FAILED, or when the same operation was enqueued again and is
    open (that one does the work).
    """
    row = c.execute(select(*_COLUMNS).where(o.id == operation_id)).first()
    if row is None:
        return False
    operation = _to_operation(row)
    key = _open_key(operation)
    if c.execute(select(o.id).where(o.open_key == key)).first() is not None:
        return False
    values = {"retries": 0, "open_key": key, "error": None, "error_class": None, "updated_at": now}
    status = cas_transition(
        c, operations, o.status, operation_id, OPERATION_STATUSES, OperationEvent.RETRY, values
    )
    return status is not None


def _open_key(operation: Operation) -> str:
    return NewOperation(
        operation.kind,
        operation.package_id,
        operation.copy_id,
        operation.source_location,
        operation.destination_location,
    ).open_key


def get(c: Connection, operation_id: int) -> Operation | None:
    """Return one operation, or None."""
    row = c.execute(select(*_COLUMNS).where(o.id == operation_id)).first()
    return None if row is None else _to_operation(row)


def list_operations(
    c: Connection,
    *,
    package_id: int | None,
    kinds: Collection[OperationKind] | None,
    statuses: Collection[OperationStatus] | None,
) -> list[Operation]:
    """Return the operations matching every filter given, by id."""
    where: list[ColumnElement[bool]] = []
    if package_id is not None:
        where.append(o.package_id == package_id)
    if kinds is not None:
        where.append(o.kind.in_(sorted(OperationKind(k).value for k in kinds)))
    if statuses is not None:
        where.append(o.status.in_(sorted(OperationStatus(s).value for s in statuses)))
    rows = c.execute(select(*_COLUMNS).where(*where).order_by(o.id))
    return [_to_operation(row) for row in rows]
