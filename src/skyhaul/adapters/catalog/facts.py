"""Facts about the files that let queries use their indices: the longest observation.

An observation window ``[start, end)`` selects files with ``obs_start < end`` and
``obs_end > start``. Only the first term bounds an index on ``obs_start``, so a recent
window would scan nearly all of it. A file that ends after ``start`` began at most
"longest observation" before it, so ``obs_start >= start - longest`` is implied by the
selection: adding it changes no result and makes the range scan narrow.

Rules:
- The fact only grows, in the same transaction as the registration that brings a longer
  observation (an ``UPDATE ... WHERE value < new``: no race between registrations).
- It is read in the same transaction as the query it bounds.
- The bound is held at the calendar's first instant (a window starting near 0001-01-01,
  or an observation as long as the calendar, leaves nothing below it to exclude).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.schema import catalog_facts, files
from skyhaul.adapters.catalog.selection import selection_clauses
from skyhaul.core.model import FileSpec, Selection
from skyhaul.core.window import shifted

__all__ = ["LONGEST_OBSERVATION", "note_observations", "where_clauses"]

LONGEST_OBSERVATION = "longest_observation_s"


def note_observations(connection: Connection, specs: Iterable[FileSpec]) -> None:
    """Raise the longest-observation fact to cover ``specs``."""
    longest = max(
        (
            (spec.obs_end - spec.obs_start).total_seconds()
            for spec in specs
            if spec.obs_start is not None and spec.obs_end is not None
        ),
        default=0.0,
    )
    if longest <= 0:
        return
    seconds = math.ceil(longest)
    c = catalog_facts.c
    connection.execute(
        update(catalog_facts)
        .where(c.name == LONGEST_OBSERVATION, c.value < seconds)
        .values(value=seconds)
    )


def where_clauses(
    connection: Connection, selection: Selection | None, *, job_id: int | None = None
) -> list[ColumnElement[bool]]:
    """:func:`selection_clauses`, plus the lower bound an observation window implies."""
    clauses = selection_clauses(selection, job_id=job_id)
    if selection is None or selection.obs_start is None:
        return clauses
    c = catalog_facts.c
    seconds = connection.scalar(select(c.value).where(c.name == LONGEST_OBSERVATION))
    if seconds is not None:
        floor = shifted(selection.obs_start, -timedelta(seconds=int(seconds) + 1))
        clauses.append(files.c.obs_start >= floor)
    return clauses
