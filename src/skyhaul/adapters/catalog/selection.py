"""A :class:`~skyhaul.core.model.Selection` as SQL conditions on the files table.

Rules:
- Every field of a selection is applied in SQL; ``None`` adds no condition.
- Observation windows are half-open, ``[obs_start, obs_end)``. A file overlaps the window
  when it starts before the window ends and it ends after the window starts; a file with
  no ``obs_end`` is an instant, inside when ``obs_start`` is in the window. Files with no
  observation time never match an observation window.
- Downlink windows are half-open: ``downlink_start <= downlink_time < downlink_end``; a
  list of windows (a pass schedule) selects files inside any of them, an empty list none.
- "Downloaded between" is half-open on ``downloaded_at``.
- Instruments are stored upper case and compared so (:func:`normal_instrument`).
- Conditions on FITS header values are a subquery on ``file_headers`` (see
  :mod:`.headers`): a file without stored headers meets none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select

from skyhaul.adapters.catalog.headers import header_clauses
from skyhaul.adapters.catalog.jobs_schema import job_files
from skyhaul.adapters.catalog.schema import files
from skyhaul.adapters.catalog.transitions import unindexed
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Selection


def selection_clauses(
    selection: Selection | None, *, job_id: int | None = None
) -> list[ColumnElement[bool]]:
    """Return the conditions a file must meet to be in ``selection`` (and job ``job_id``)."""
    c = files.c
    clauses: list[ColumnElement[bool]] = []
    if job_id is not None:
        linked = select(job_files.c.file_id).where(job_files.c.job_id == job_id)
        clauses.append(c.id.in_(linked))
    if selection is None:
        return clauses
    if selection.states is not None:
        clauses.append(c.state.in_(state_values(selection.states)))
    if selection.ids is not None:
        clauses.append(c.id.in_(selection.ids))
    if selection.source is not None:
        clauses.append(c.source == selection.source)
    if selection.instrument is not None:
        clauses.append(c.instrument == normal_instrument(selection.instrument))
    if selection.url_prefix is not None:
        clauses.append(c.url.startswith(selection.url_prefix, autoescape=True))
    if selection.obs_start is not None or selection.obs_end is not None:
        clauses.append(c.obs_start.is_not(None))
    empty = selection.obs_start is not None and selection.obs_end is not None
    if empty and selection.obs_end <= selection.obs_start:  # type: ignore[operator]
        clauses.append(false())  # an empty window overlaps nothing
    if selection.obs_end is not None:
        clauses.append(c.obs_start < selection.obs_end)
    if selection.obs_start is not None:
        clauses.append(or_(c.obs_start >= selection.obs_start, c.obs_end > selection.obs_start))
    if selection.downlink_start is not None:
        clauses.append(c.downlink_time >= selection.downlink_start)
    if selection.downlink_end is not None:
        clauses.append(c.downlink_time < selection.downlink_end)
    if selection.downlink_windows is not None:
        clauses.append(
            or_(
                false(),
                *(
                    and_(c.downlink_time >= start, c.downlink_time < end)
                    for start, end in selection.downlink_windows
                ),
            )
        )
    if selection.downloaded_start is not None:
        clauses.append(c.downloaded_at >= selection.downloaded_start)
    if selection.downloaded_end is not None:
        clauses.append(c.downloaded_at < selection.downloaded_end)
    if selection.headers:
        clauses.extend(header_clauses(selection.headers))
    return clauses


def is_windowed(selection: Selection | None) -> bool:
    """Whether the selection has a time window (then its own index beats the state's)."""
    if selection is None:
        return False
    return any(
        value is not None
        for value in (
            selection.obs_start,
            selection.obs_end,
            selection.downlink_start,
            selection.downlink_end,
            selection.downlink_windows,
            selection.downloaded_start,
            selection.downloaded_end,
        )
    )


def state_column(windowed: bool) -> Any:
    """The state column, kept off SQLite's index when a time window's index is the better
    one (``+state``; plain on PostgreSQL)."""
    return unindexed(files.c.state) if windowed else files.c.state


def normal_instrument(name: str) -> str:
    """How instruments are stored and compared: upper case (``eui`` is ``EUI``), as
    archives and sources compare them without regard to case."""
    return name.strip().upper()


def state_values(states: frozenset[FileState] | set[FileState]) -> list[str]:
    """Return the stored values of ``states``, sorted (stable SQL, stable plans)."""
    return sorted(state.value for state in states)
