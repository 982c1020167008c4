"""``/api/status`` and ``/api/files``: the catalog by state, its files filtered and paged,
one file with its attempts and headers, and Retry / Ignore / Unignore of chosen files.

Rules:
- Filters mean what ``skyhaul ls``'s mean (:mod:`skyhaul.services.file_view`); a bad one
  is a 400 naming the parameter.
- Every URL in an answer is redacted.
- The actions apply the lifecycle events of ``skyhaul retry/ignore/unignore`` to the ids
  given, and to no other file.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from skyhaul.core.lifecycle import FileEvent
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.services.file_view import (
    LARGEST_ID,
    FileFilter,
    apply_to_files,
    file_detail,
    files_page,
    status_document,
)
from skyhaul.web.deps import Server, server
from skyhaul.web.errors import NotFoundError, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["files"])

Running = Annotated[Server, Depends(server)]
#: Files a page holds at most, and ids an action takes at most.
MAX_LIMIT = 1000
#: Furthest a page may start (far beyond any catalog; the database takes 64-bit offsets).
MAX_OFFSET = 2**53

Text = Annotated[str | None, Query(max_length=1000)]
Time = Annotated[
    str | None,
    Query(max_length=100, description="UTC, ISO 8601 or a date (as an end: that whole day)."),
]


class FileIds(BaseModel):
    """The files an action applies to."""

    ids: list[Annotated[int, Field(ge=1, le=LARGEST_ID)]] = Field(
        min_length=1, max_length=MAX_LIMIT, description="Catalog ids of the files."
    )


class Changed(BaseModel):
    """How many files an action moved (files in other states are left alone)."""

    changed: int


@router.get("/status")
def status(running: Running) -> dict[str, Any]:
    """How many files, and bytes, the catalog holds in each state, and in total."""
    return status_document(running.catalog.status_summary())


@router.get("/files")
def list_files(
    running: Running,
    state: Annotated[
        list[str] | None, Query(description="Only files in these states (any case).")
    ] = None,
    instrument: Text = None,
    source: Text = None,
    obs_start: Time = None,
    obs_end: Time = None,
    downlink_start: Time = None,
    downlink_end: Time = None,
    where: Annotated[
        list[str] | None,
        Query(description="FITS header conditions KEY<op>VALUE, as `skyhaul ls --where`."),
    ] = None,
    target: Text = None,
    order: Annotated[
        str, Query(max_length=100, description="A column; -column for descending.")
    ] = "id",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """A page of the files the filters select (redacted), and how many they select."""
    filters = FileFilter(
        states=state or (),
        instrument=instrument,
        source=source,
        obs_start=obs_start,
        obs_end=obs_end,
        downlink_start=downlink_start,
        downlink_end=downlink_end,
        where=where or (),
        target=target,
    )
    return files_page(running.catalog, filters.selection(), limit=limit, offset=offset, order=order)


# The actions come before /files/{file_id}: a POST-only path that the GET route also
# matches by shape must advertise POST in its 405's Allow header, not GET.
@router.post("/files/retry")
def retry(running: Running, body: FileIds) -> Changed:
    """Give FAILED and ABANDONED files a new start (back to DISCOVERED)."""
    return _apply(running, FileEvent.RETRY, body)


@router.post("/files/ignore")
def ignore(running: Running, body: FileIds) -> Changed:
    """Set files aside (IGNORED): nothing downloads them until unignored."""
    return _apply(running, FileEvent.IGNORE, body)


@router.post("/files/unignore")
def unignore(running: Running, body: FileIds) -> Changed:
    """Bring IGNORED files back (to DISCOVERED)."""
    return _apply(running, FileEvent.UNIGNORE, body)


@router.get("/files/{file_id}", responses=error_responses(404))
def get_file(running: Running, file_id: int) -> dict[str, Any]:
    """One file (redacted), its attempts oldest first, and its stored FITS headers."""
    detail = file_detail(running.catalog, file_id)
    if detail is None:
        raise NotFoundError(f"no file {file_id} in the catalog")
    return detail


def _apply(running: Running, event: FileEvent, body: FileIds) -> Changed:
    changed = apply_to_files(running.catalog, event, body.ids, now=SYSTEM_CLOCK.now())
    return Changed(changed=changed)
