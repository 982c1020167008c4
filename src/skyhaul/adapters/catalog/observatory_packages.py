"""Packages in the catalog: created from a plan compare-and-set, then moved by the table.

Rules:
- Creating a package claims its files: ``raw_files.package_id`` is set only where it is
  still NULL, at the plan's location. If any file of the plan was packaged meanwhile (or
  is gone), or the name is taken, nothing is created and the call returns None; two
  planners racing never put one file in two packages.
- Members are written from the files' rows as claimed (path, size, sha256), so they are
  what the registration last said, whatever the plan held.
- Operations given with the package are enqueued in the same transaction: a kill right
  after never leaves a package nobody will make.
- State changes go through :data:`skyhaul.core.packages.PACKAGE_STATES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.observatory_cas import cas_transition, insert_or_skip
from skyhaul.adapters.catalog.observatory_ops import enqueue
from skyhaul.adapters.catalog.observatory_schema import package_members, packages, raw_files
from skyhaul.adapters.catalog.records import chunks
from skyhaul.core.operations import NewOperation
from skyhaul.core.packages import (
    NEW_PACKAGE_STATE,
    PACKAGE_STATES,
    Package,
    PackageEvent,
    PackageMember,
    PackagePlan,
    PackageState,
)
from skyhaul.errors import UsageError

__all__ = [
    "LostRace",
    "apply",
    "create",
    "list_packages",
    "names",
    "record_tar",
    "transition",
]

_COLUMNS = [
    packages.c.id,
    packages.c.name,
    packages.c.obs_unit,
    packages.c.instrument_module,
    packages.c.state,
    packages.c.size,
    packages.c.sha256,
    packages.c.created_at,
    packages.c.error,
    packages.c.source_location_id,
]


class LostRace(Exception):
    """Raised inside a transaction to roll it back: the plan lost to another planner."""


def create(
    c: Connection,
    plan: PackagePlan,
    source_location: int,
    now: datetime,
    then: Sequence[NewOperation],
) -> int:
    """Create the package of ``plan`` and claim its files; return its id.

    Raises
    ------
    LostRace
        When a file of the plan is packaged already or the name is taken (the caller
        rolls back and answers None).
    ValueError
        For a plan without files.
    """
    if not plan.files:
        raise ValueError(f"package {plan.name!r} has no files")
    row = {
        "name": plan.name,
        "obs_unit": plan.obs_unit,
        "instrument_module": plan.instrument_module,
        "source_location_id": source_location,
        "state": NEW_PACKAGE_STATE.value,
        "created_at": now,
        "updated_at": now,
    }
    inserted = insert_or_skip(c, packages, [row], [packages.c.id])
    if not inserted:
        raise LostRace(plan.name)
    package_id = int(inserted[0].id)
    ids = sorted({file.id for file in plan.files})
    members: list[dict[str, Any]] = []
    r = raw_files.c
    for chunk in chunks(ids):
        claimed = c.execute(
            update(raw_files)
            .where(r.id.in_(chunk), r.package_id.is_(None), r.location_id == source_location)
            .values(package_id=package_id)
            .returning(r.id, r.path, r.size, r.sha256)
        ).all()
        members.extend(
            {
                "package_id": package_id,
                "file_id": m.id,
                "path": m.path,
                "size": m.size,
                "sha256": m.sha256,
            }
            for m in claimed
        )
    if len(members) != len(ids):
        raise LostRace(plan.name)
    for rows in chunks(members):
        c.execute(package_members.insert(), list(rows))
    for operation in then:
        enqueue(c, dataclasses.replace(operation, package_id=package_id), now)
    return package_id


def record_tar(c: Connection, package_id: int, size: int, sha256: str, now: datetime) -> bool:
    """Record the size and sha256 of a package's tar; False for an unknown package."""
    statement = (
        update(packages)
        .where(packages.c.id == package_id)
        .values(size=size, sha256=sha256, updated_at=now)
        .returning(packages.c.id)
    )
    return c.execute(statement).first() is not None


def transition(
    c: Connection, package_id: int, event: PackageEvent, now: datetime, error: str | None
) -> PackageState | None:
    """Apply ``event`` to a package (compare-and-set); ``error`` is stored (None clears)."""
    values = {"updated_at": now, "error": error}
    return cas_transition(
        c, packages, packages.c.state, package_id, PACKAGE_STATES, PackageEvent(event), values
    )


def apply(c: Connection, package_id: int, event: PackageEvent, now: datetime) -> PackageState:
    """Apply ``event`` to a package (its error cleared) as part of a larger change.

    Raises
    ------
    IllegalTransitionError
        When the event does not apply to the package's state (the caller's
        transaction rolls back).
    """
    state = transition(c, package_id, event, now, None)
    if state is None:
        current = c.scalar(select(packages.c.state).where(packages.c.id == package_id))
        if current is None:
            raise UsageError(f"no package with id {package_id}")
        # The table raises for the state the package is in (it never returns here).
        return PACKAGE_STATES.next(PackageState(current), PackageEvent(event))
    return state


def list_packages(
    c: Connection,
    *,
    ids: Collection[int] | None = None,
    states: Collection[PackageState] | None = None,
    obs_unit: str | None = None,
    name: str | None = None,
) -> list[Package]:
    """Return the packages matching every filter given, by id, with their members."""
    where: list[ColumnElement[bool]] = []
    if ids is not None:
        where.append(packages.c.id.in_(sorted(ids)))
    if states is not None:
        where.append(packages.c.state.in_(sorted(PackageState(s).value for s in states)))
    if obs_unit is not None:
        where.append(packages.c.obs_unit == obs_unit)
    if name is not None:
        where.append(packages.c.name == name)
    rows = c.execute(select(*_COLUMNS).where(*where).order_by(packages.c.id)).all()
    members = _members(c, [int(row.id) for row in rows])
    return [
        Package(
            id=int(row.id),
            name=row.name,
            obs_unit=row.obs_unit,
            instrument_module=row.instrument_module,
            state=PackageState(row.state),
            size=None if row.size is None else int(row.size),
            sha256=row.sha256,
            members=tuple(members.get(int(row.id), ())),
            created_at=row.created_at,
            error=row.error,
            source_location=int(row.source_location_id),
        )
        for row in rows
    ]


def _members(c: Connection, package_ids: Sequence[int]) -> dict[int, list[PackageMember]]:
    found: dict[int, list[PackageMember]] = {}
    m = package_members.c
    for chunk in chunks(package_ids):
        query = (
            select(m.package_id, m.file_id, m.path, m.size, m.sha256)
            .where(m.package_id.in_(chunk))
            .order_by(m.package_id, m.path)
        )
        for row in c.execute(query):
            member = PackageMember(int(row.file_id), row.path, int(row.size), row.sha256)
            found.setdefault(int(row.package_id), []).append(member)
    return found


def names(c: Connection, obs_units: Collection[str] | None) -> set[str]:
    """Return the names of the packages (of ``obs_units``)."""
    query = select(packages.c.name)
    if obs_units is not None:
        query = query.where(packages.c.obs_unit.in_(sorted(obs_units)))
    return set(c.scalars(query))
