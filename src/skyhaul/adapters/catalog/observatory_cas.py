"""Compare-and-set state changes and insert-or-skip, shared by the observatory's tables.

Rules:
- A state change is ``UPDATE ... WHERE id = :id AND <state> IN (<sources>)`` for each
  target the core table gives the event, so the catalog never decides a state. A change
  that lost its race (the row was not in a legal source state, or ``where`` did not
  hold) returns None; it never raises.
- ``insert_or_skip`` inserts rows, skipping those a unique constraint already holds, on
  both backends (``ON CONFLICT DO NOTHING``); it returns what was inserted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Table, update
from sqlalchemy.engine import Connection, Row

from skyhaul.core.statetable import StateTable

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


def cas_transition(
    c: Connection,
    table: Table,
    state: Column[Any],
    row_id: int,
    machine: StateTable[S, E],
    event: E,
    values: Mapping[str, Any],
    *,
    where: Sequence[ColumnElement[bool]] = (),
) -> S | None:
    """Apply ``event`` to row ``row_id`` of ``table`` if it is in a legal source state;
    return its new state (None: it was not, or ``where`` did not hold)."""
    for target, sources in sorted(machine.targets_of(event).items()):
        statement = (
            update(table)
            .where(table.c.id == row_id, state.in_(sorted(s.value for s in sources)), *where)
            .values({state.name: target.value, **values})
            .returning(table.c.id)
        )
        if c.execute(statement).first() is not None:
            return target
    return None


def insert_or_skip(
    c: Connection, table: Table, rows: Sequence[Mapping[str, Any]], returning: Sequence[Column[Any]]
) -> list[Row[Any]]:
    """Insert ``rows``, skipping any a unique constraint already holds; return the
    ``returning`` columns of the rows inserted."""
    if not rows:
        return []
    insert: Any
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(list(rows)).on_conflict_do_nothing()
    return list(c.execute(statement.returning(*returning)).all())
