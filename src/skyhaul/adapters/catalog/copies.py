"""Copies in the catalog: the copy lifecycle as compare-and-set updates, and the stored
copies a check walks through.

Rules:
- A copy's state changes only through ``core.copies.COPY_TRANSITIONS``: one UPDATE per
  legal source state, ``... AND state = :source`` (the compare-and-set).
- Stored copies are read in pages by id (keyset), so a check of a million files never
  holds more than a page, and never rereads what it has done.
- A file downloaded again with other bytes than its copies were made from makes those
  copies WANTED again (``source_changed``): they are remade from the new bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.destinations import has_copies
from skyhaul.adapters.catalog.facts import where_clauses
from skyhaul.adapters.catalog.records import chunks
from skyhaul.adapters.catalog.schema import copies, files
from skyhaul.core.copies import (
    CopyEvent,
    CopyRecord,
    CopyState,
    CopyTask,
    StoredCopy,
    copy_sources,
    next_copy_state,
)
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import Completion, Selection

_DOWNLOADED = FileState.DOWNLOADED.value


def transition(
    c: Connection,
    event: CopyEvent,
    where: Sequence[ColumnElement[bool]],
    values: Mapping[str, Any],
) -> int:
    """Apply ``event`` to the copies matching ``where`` in each legal state; return how many."""
    changed = 0
    for source in sorted(copy_sources(event)):
        target = next_copy_state(source, event)
        statement = (
            update(copies)
            .where(*where, copies.c.state == source.value)
            .values(state=target.value, **values)
        )
        changed += c.execute(statement).rowcount
    return changed


def copies_of(c: Connection, file_ids: Sequence[int]) -> dict[int, list[CopyRecord]]:
    """Return the copies of each of ``file_ids`` that has some, in id order."""
    found: dict[int, list[CopyRecord]] = {}
    for chunk in chunks(sorted(set(file_ids))):
        query = select(copies).where(copies.c.file_id.in_(chunk)).order_by(copies.c.id)
        for row in c.execute(query):
            found.setdefault(row.file_id, []).append(
                CopyRecord(
                    id=row.id,
                    file_id=row.file_id,
                    dest_root=row.dest_root,
                    path=row.path,
                    state=CopyState(row.state),
                    size=row.size,
                    sha256=row.sha256,
                    copied_at=row.copied_at,
                    last_error=row.last_error,
                )
            )
    return found


def to_make(c: Connection, selection: Selection | None, job_id: int | None) -> list[CopyTask]:
    """Return the WANTED copies of the selected files that are DOWNLOADED now."""
    query = (
        select(
            copies.c.id,
            copies.c.dest_root,
            copies.c.path,
            files.c.id.label("file_id"),
            files.c.url,
            files.c.dest_root.label("own_root"),
            files.c.path.label("own_path"),
            files.c.size,
            files.c.sha256,
        )
        .join_from(copies, files, copies.c.file_id == files.c.id)
        .where(
            copies.c.state == CopyState.WANTED.value,
            files.c.state == _DOWNLOADED,
            *where_clauses(c, selection, job_id=job_id),
        )
        .order_by(copies.c.id)
    )
    return [
        CopyTask(
            copy_id=row.id,
            dest_root=row.dest_root,
            path=row.path,
            source=StoredCopy(row.file_id, row.own_root, row.own_path, row.size, row.sha256),
            url=row.url,
        )
        for row in c.execute(query)
    ]


def made(c: Connection, copy_id: int, size: int, sha256: str, now: datetime) -> bool:
    """Record a WANTED copy as made with the bytes verified; False if it was not WANTED."""
    values = {"size": size, "sha256": sha256, "copied_at": now, "updated_at": now}
    return (
        transition(c, CopyEvent.MADE, [copies.c.id == copy_id], {**values, "last_error": None}) == 1
    )


def note_failure(c: Connection, copy_id: int, message: str, now: datetime) -> bool:
    """Record why a WANTED copy could not be made (it stays WANTED)."""
    statement = (
        update(copies)
        .where(copies.c.id == copy_id, copies.c.state == CopyState.WANTED.value)
        .values(last_error=message, updated_at=now)
    )
    return bool(c.execute(statement).rowcount)


def stored_files(
    c: Connection, selection: Selection | None, job_id: int | None, after: int, limit: int
) -> list[StoredCopy]:
    """Return the own destinations of the selected DOWNLOADED files with id > ``after``."""
    query = (
        select(files.c.id, files.c.dest_root, files.c.path, files.c.size, files.c.sha256)
        .where(
            files.c.state == _DOWNLOADED,
            files.c.id > after,
            *where_clauses(c, selection, job_id=job_id),
        )
        .order_by(files.c.id)
        .limit(limit)
    )
    return [StoredCopy(*row) for row in c.execute(query)]


def stored_copies(
    c: Connection, selection: Selection | None, job_id: int | None, after: int, limit: int
) -> list[StoredCopy]:
    """Return the PRESENT copies of the selected files with copy id > ``after``."""
    query = (
        select(
            copies.c.file_id,
            copies.c.dest_root,
            copies.c.path,
            copies.c.size,
            copies.c.sha256,
            copies.c.id,
        )
        .join_from(copies, files, copies.c.file_id == files.c.id)
        .where(
            copies.c.state == CopyState.PRESENT.value,
            copies.c.id > after,
            *where_clauses(c, selection, job_id=job_id),
        )
        .order_by(copies.c.id)
        .limit(limit)
    )
    return [StoredCopy(*row) for row in c.execute(query)]


def source_changed(c: Connection, items: Iterable[Completion], now: datetime) -> None:
    """Make the PRESENT copies of files just downloaded with other bytes WANTED again."""
    if not has_copies(c):
        return  # no copies at all: the usual catalog pays one cheap query per batch
    by_id = {item.file_id: item.sha256 for item in items}
    stale: list[int] = []
    for chunk in chunks(sorted(by_id)):
        query = select(copies.c.id, copies.c.file_id, copies.c.sha256).where(
            copies.c.file_id.in_(chunk), copies.c.state == CopyState.PRESENT.value
        )
        stale.extend(row.id for row in c.execute(query) if row.sha256 != by_id[row.file_id])
    values = {"last_error": "the file was downloaded again with other bytes", "updated_at": now}
    for chunk in chunks(stale):
        transition(c, CopyEvent.SOURCE_CHANGED, [copies.c.id.in_(chunk)], values)
