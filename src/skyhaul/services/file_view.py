"""What a viewer sees of the catalog's files: totals per state, a filtered page of files,
one file with its attempts and headers; and the operator actions on chosen files.

Rules:
- Filters read as ``skyhaul ls`` reads them: states by name in any case, time windows by
  :func:`~skyhaul.core.window.parse_bounds` (a date alone as an end is that whole day),
  ``where`` and ``target`` by :mod:`skyhaul.services.headers`. A bad one is a one-line
  ``UsageError`` naming the parameter.
- Every URL is redacted: the file documents' (:mod:`skyhaul.core.filedocs`) and any in a
  file's stored archive record or header cards.
- Retry, ignore and unignore apply the lifecycle events of ``skyhaul retry``, ``ignore``
  and ``unignore`` to the files named by id, and to no other; the lifecycle table decides
  which states each moves files from (files in other states are left alone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from skyhaul.adapters.catalog import Catalog
from skyhaul.core.filedocs import attempt_document, file_document
from skyhaul.core.lifecycle import FileEvent, FileState
from skyhaul.core.model import Selection, StateTotals
from skyhaul.core.redact import redact_urls_in
from skyhaul.core.window import BoundError, parse_bounds
from skyhaul.errors import UsageError
from skyhaul.services.headers import header_selection, stored_headers_document

__all__ = [
    "LARGEST_ID",
    "FileFilter",
    "apply_to_files",
    "file_detail",
    "files_page",
    "status_document",
    "total_of",
]

#: Ids are 64-bit: a larger number names no file (and is never sent to the database).
LARGEST_ID = 2**63 - 1


def status_document(totals: Mapping[FileState, StateTotals]) -> dict[str, object]:
    """Return count and bytes per state (every state, in lifecycle order) and in total.

    ``{"states": {STATE: {"count", "bytes"}}, "total": {"count", "bytes"}}``, as
    ``skyhaul status --json`` prints it.
    """
    states = {state.value: _entry(totals.get(state, StateTotals())) for state in FileState}
    return {"states": states, "total": _entry(total_of(totals))}


def total_of(totals: Mapping[FileState, StateTotals]) -> StateTotals:
    """Return the count and bytes of every state together."""
    return StateTotals(
        count=sum(t.count for t in totals.values()), bytes=sum(t.bytes for t in totals.values())
    )


def _entry(totals: StateTotals) -> dict[str, int]:
    return {"count": totals.count, "bytes": totals.bytes}


@dataclasses.dataclass(frozen=True, slots=True)
class FileFilter:
    """Filters as a user typed them (None or empty: no constraint).

    Parameters
    ----------
    states : sequence of str
        State names, any case.
    instrument, source : str or None
        Only files of this instrument, listed by this source.
    obs_start, obs_end : str or None
        Observation window (UTC; an end that is a date alone includes that day).
    downlink_start, downlink_end : str or None
        Downlink window, read the same way.
    where : sequence of str
        FITS header conditions (``KEY<op>VALUE``, as ``skyhaul ls --where``).
    target : str or None
        FITS ``TARGNAME`` (any case, ``*`` wildcards).
    """

    states: Sequence[str] = ()
    instrument: str | None = None
    source: str | None = None
    obs_start: str | None = None
    obs_end: str | None = None
    downlink_start: str | None = None
    downlink_end: str | None = None
    where: Sequence[str] = ()
    target: str | None = None

    def selection(self) -> Selection:
        """The files these filters select.

        Raises
        ------
        UsageError
            An unknown state, a time that does not read, an end before its start, or a
            header condition that does not read (the message names the parameter).
        """
        obs = _bounds("obs", self.obs_start, self.obs_end)
        downlink = _bounds("downlink", self.downlink_start, self.downlink_end)
        selection = Selection(
            states=_states(self.states) if self.states else None,
            instrument=self.instrument or None,
            source=self.source or None,
            obs_start=obs[0],
            obs_end=obs[1],
            downlink_start=downlink[0],
            downlink_end=downlink[1],
        )
        try:
            narrowed = header_selection(selection, list(self.where), self.target or None)
        except UsageError as exc:
            raise UsageError(f"where: {exc.message}") from None
        return narrowed or selection


def _states(names: Iterable[str]) -> frozenset[FileState]:
    states = set()
    for name in names:
        try:
            states.add(FileState(name.strip().upper()))
        except ValueError:
            known = ", ".join(state.value for state in FileState)
            raise UsageError(f"state: {name!r} is not a file state (one of {known})") from None
    return frozenset(states)


def _bounds(
    basis: str, start: str | None, end: str | None
) -> tuple[datetime | None, datetime | None]:
    try:
        return parse_bounds(start or None, end or None)
    except BoundError as exc:
        raise UsageError(f"{basis}_{exc.bound}: {exc}") from None


def files_page(
    catalog: Catalog, selection: Selection, *, limit: int, offset: int = 0, order: str = "id"
) -> dict[str, Any]:
    """Return a page of the selected files and how many there are in all.

    Returns
    -------
    dict
        ``{"files": [file document], "total": n}``.

    Raises
    ------
    UsageError
        For a column files cannot be ordered by.
    """
    # No filter at all is "every file": the catalog counts those from its totals.
    wanted = None if selection == Selection() else selection
    records = catalog.list_files(wanted, limit=limit, offset=offset, order=order)
    copies = catalog.copies_of([r.id for r in records])
    return {
        "files": [file_document(r, copies.get(r.id, [])) for r in records],
        "total": catalog.count_files(wanted),
    }


def file_detail(catalog: Catalog, file_id: int) -> dict[str, Any] | None:
    """Return one file, its attempts (oldest first) and its stored headers (None: no file).

    Returns
    -------
    dict or None
        ``{"file": file document, "attempts": [attempt document], "headers": {...} or
        None}``; ``headers`` is None when the catalog holds none for the file.
    """
    record = catalog.get(file_id) if 0 < file_id <= LARGEST_ID else None
    if record is None:
        return None
    stored = catalog.file_headers(file_id)
    return {
        "file": file_document(record, catalog.copies_of([file_id]).get(file_id, [])),
        "attempts": [attempt_document(a) for a in catalog.attempts(file_id)],
        "headers": None if stored is None else redact_urls_in(stored_headers_document(stored)),
    }


def apply_to_files(catalog: Catalog, event: FileEvent, ids: Sequence[int], *, now: datetime) -> int:
    """Apply an operator event to the files ``ids`` name; return how many changed.

    Raises
    ------
    UsageError
        No id given, or an id that names no file (then nothing changes).
    """
    wanted = tuple(sorted(set(ids)))
    if not wanted:
        raise UsageError("ids: give at least one file id")
    asked = tuple(i for i in wanted if 0 < i <= LARGEST_ID)
    known = {r.id for r in catalog.list_files(Selection(ids=asked))} if asked else set()
    unknown = [i for i in wanted if i not in known]
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
        raise UsageError(f"ids: no file {shown} in the catalog")
    return catalog.apply_event(event, Selection(ids=wanted), now=now)
