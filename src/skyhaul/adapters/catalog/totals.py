"""Per-state totals, kept right in the same transaction as the files they count.

Rules:
- Whoever changes a file's state or size records the change in a :class:`TotalsDelta`
  and applies it once, as the last statement of its transaction: the totals rows are
  then locked for as short a time as possible.
- Rows are updated in sorted order, so two transactions never wait on each other's
  totals rows in a cycle (no deadlocks on PostgreSQL).
- A delta goes to one shard (a number below ``shards``); a summary adds the shards up.
- The sizes of all the catalog's files add up to at most ``MAX_SIZE`` (2**63 - 1): a
  totals row, a state's sum over the shards and a selection's ``SUM(size)`` are 64-bit
  integers on both backends (SQLite's ``SUM`` raises past it, its ``+`` turns to a
  float). A delta that adds bytes checks the catalog's total first and refuses with
  :class:`~skyhaul.errors.InvalidSpecError`, so its transaction (a registration, a size
  a server announced) changes nothing. On PostgreSQL two concurrent deltas may both
  pass; the database then refuses the second if they meet on one row ("bigint out of
  range"), and sums over rows are ``numeric`` there, so nothing is miscounted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.schema import files, state_totals
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import StateTotals
from skyhaul.core.units import MAX_SIZE
from skyhaul.errors import InvalidSpecError


class TotalsDelta:
    """Changes to the per-state totals made by one transaction."""

    def __init__(self) -> None:
        # state -> [count, bytes, unsized]
        self._changes: dict[str, list[int]] = {}

    def add(self, state: str, size: int | None, sign: int = 1) -> None:
        """Count one file of ``size`` (None: unknown) into ``state`` (``sign=-1``: out of it)."""
        if size is None:
            self.add_counts(state, sign, 0, sign)
        else:
            self.add_counts(state, sign, sign * size, 0)

    def add_counts(self, state: str, count: int, nbytes: int, unsized: int) -> None:
        """Add ``count`` files holding ``nbytes`` (``unsized`` of them of unknown size)."""
        change = self._changes.setdefault(state, [0, 0, 0])
        change[0] += count
        change[1] += nbytes
        change[2] += unsized

    def move(self, source: str, target: str, sizes: Iterable[int | None]) -> None:
        """Move files of the given sizes from ``source`` to ``target``."""
        count = nbytes = unsized = 0
        for size in sizes:
            count += 1
            if size is None:
                unsized += 1
            else:
                nbytes += size
        if count and source != target:
            self.add_counts(source, -count, -nbytes, -unsized)
            self.add_counts(target, count, nbytes, unsized)

    def resize(self, state: str, old: int | None, new: int | None) -> None:
        """Record that a file in ``state`` changed size from ``old`` to ``new``."""
        if old != new:
            self.add(state, old, -1)
            self.add(state, new)

    def apply(self, connection: Connection, shard: int) -> None:
        """Add the changes to the totals rows of ``shard`` (upserts, in state order).

        Raises
        ------
        InvalidSpecError
            When the catalog's files would hold more than ``MAX_SIZE`` bytes in all.
        """
        added = sum(nbytes for _count, nbytes, _unsized in self._changes.values())
        if added > 0:
            _check_countable(connection, added)
        rows = [
            {"state": state, "shard": shard, "count": c, "bytes": b, "unsized": u}
            for state, (c, b, u) in sorted(self._changes.items())
            if c or b or u
        ]
        self._changes.clear()
        if not rows:
            return
        # The dialect's own insert (for ON CONFLICT), imported when first needed: the
        # PostgreSQL dialect costs 25 ms of start-up to every SQLite run.
        insert: Any
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(state_totals)
        statement = statement.on_conflict_do_update(
            index_elements=[state_totals.c.state, state_totals.c.shard],
            set_={
                "count": state_totals.c.count + statement.excluded.count,
                "bytes": state_totals.c.bytes + statement.excluded.bytes,
                "unsized": state_totals.c.unsized + statement.excluded.unsized,
            },
        )
        for row in rows:  # one at a time: keeps the lock order of the sort above
            connection.execute(statement, row)


def _check_countable(connection: Connection, added: int) -> None:
    held = connection.scalar(select(func.coalesce(func.sum(state_totals.c.bytes), 0)))
    total = int(held or 0) + added
    if total > MAX_SIZE:
        raise InvalidSpecError(
            f"the catalog's files would hold {total} bytes in all, more than {MAX_SIZE}"
            " (8 EiB - 1), the most it can count"
        )


def read_totals(connection: Connection) -> dict[FileState, tuple[int, int, int]]:
    """Return ``state -> (count, bytes, unsized)`` from the totals table, every state present."""
    query = select(
        state_totals.c.state,
        func.coalesce(func.sum(state_totals.c.count), 0),
        func.coalesce(func.sum(state_totals.c.bytes), 0),
        func.coalesce(func.sum(state_totals.c.unsized), 0),
    ).group_by(state_totals.c.state)
    return _complete(connection.execute(query).all())


def recount(connection: Connection) -> dict[FileState, tuple[int, int, int]]:
    """Count the files table itself (a full scan): ``state -> (count, bytes, unsized)``."""
    query = select(
        files.c.state,
        func.count(),
        func.coalesce(func.sum(files.c.size), 0),
        func.count() - func.count(files.c.size),
    ).group_by(files.c.state)
    return _complete(connection.execute(query).all())


def rebuild(connection: Connection) -> None:
    """Replace the totals by a recount (repair). Call inside a write transaction."""
    if connection.dialect.name == "postgresql":
        # Writers wait until the recount is committed, so no change slips in between.
        connection.exec_driver_sql("LOCK TABLE files IN SHARE MODE")
        connection.exec_driver_sql("LOCK TABLE state_totals IN EXCLUSIVE MODE")
    counted = recount(connection)
    connection.execute(delete(state_totals))
    delta = TotalsDelta()
    for state, (count, nbytes, unsized) in counted.items():
        delta.add_counts(state.value, count, nbytes, unsized)
    delta.apply(connection, shard=0)


def as_state_totals(totals: dict[FileState, tuple[int, int, int]]) -> dict[FileState, StateTotals]:
    """Drop the unsized counts: the public shape of a summary."""
    return {state: StateTotals(count=c, bytes=b) for state, (c, b, _u) in totals.items()}


def _complete(rows: Iterable[Any]) -> dict[FileState, tuple[int, int, int]]:
    totals = {state: (0, 0, 0) for state in FileState}
    for state, count, nbytes, unsized in rows:
        totals[FileState(state)] = (int(count), int(nbytes), int(unsized))
    return totals
