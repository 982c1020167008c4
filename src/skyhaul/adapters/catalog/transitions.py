"""State changes as compare-and-set updates, one per legal source state.

Rules:
- The catalog never decides a state: for each state an event is legal from
  (``sources_of``), it asks ``next_state`` where that state goes, and updates only the
  rows still in that state (``... WHERE <conditions> AND state = :source``). A row that
  moved on meanwhile is simply not updated: that is the compare-and-set.
- Because each statement has one known source and one known target, the rows it returns
  are exactly what the totals must move, with no read before the write.
- When the rows are named by id, the state test must not steer SQLite's planner: without
  statistics it takes ``state = ?`` on an indexed column for a selective test and walks
  every file in that state instead of looking the ids up. :class:`unindexed` (``+state``
  on SQLite, the SQLite way to say "no index for this term") keeps the id lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, String, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from skyhaul.adapters.catalog.schema import files
from skyhaul.adapters.catalog.totals import TotalsDelta
from skyhaul.core.lifecycle import FileEvent, FileState, next_state, sources_of

_BASE_KEYS = ("id", "size", "state")

#: Values that end a lease (every transition out of DOWNLOADING sets them).
NO_LEASE = {"lease_owner": None, "lease_expires_at": None}


class unindexed(FunctionElement[str]):
    """A text column SQLite must not pick an index for (``+column``; plain elsewhere)."""

    inherit_cache = True
    type = String()
    name = "unindexed"


@compiles(unindexed)
def _compile_unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _compile_unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.clauses, **kw)


def transition(
    connection: Connection,
    event: FileEvent,
    where: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
    delta: TotalsDelta,
    *,
    sources: Iterable[FileState] | None = None,
    returning: Sequence[Any] = (),
    by_id: bool = False,
) -> list[Row[Any]]:
    """Apply ``event`` to the rows matching ``where`` in each legal source state.

    Parameters
    ----------
    connection : Connection
        In a write transaction.
    event : FileEvent
        What happened; the new state of each row comes from ``next_state``.
    where : sequence of conditions
        Which rows (besides their state).
    values : mapping
        Other columns to set (never ``state``, never ``size``: the totals rely on both
        coming from the table and the lifecycle).
    delta : TotalsDelta
        Receives the moves between states.
    sources : iterable of FileState, optional
        Limit the update to these source states (each must be legal for ``event``).
    returning : sequence of columns
        Columns to return; ``id``, ``size`` and ``state`` are added in front unless
        ``returning`` has them already.
    by_id : bool
        ``where`` names the rows by id: look them up by id, whatever their state.

    Returns
    -------
    list of Row
        One row per file changed, with (at least) ``id``, ``size`` and ``state`` (the new
        one) by name.
    """
    assert "state" not in values and "size" not in values
    keys = {column.key for column in returning}
    base = [files.c[key] for key in _BASE_KEYS if key not in keys]
    columns = [*base, *returning]
    state = unindexed(files.c.state) if by_id else files.c.state
    changed: list[Row[Any]] = []
    for source in sorted(sources_of(event) if sources is None else sources):
        target = next_state(source, event)
        statement = (
            update(files)
            .where(*where, state == source.value)
            .values(state=target.value, **values)
            .returning(*columns)
        )
        rows = connection.execute(statement).all()
        delta.move(source.value, target.value, (row.size for row in rows))
        changed.extend(rows)
    return changed
