"""Destinations as registration sees them: one real file each, a file's own or a copy.

Rules:
- A real path (``adapters.storage.RealPaths``) is held by at most one file's own
  destination (``files.real_path``, unique) or one copy (``copies.real_path``, unique).
  The two tables are checked against each other here, in the registration's transaction.
- A known URL named for another real path, when the caller asks for copies, wants a copy
  there: a WANTED row, once; a real path held by another file, or by another file's copy,
  is refused with the one-line conflict message, naming both URLs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningInsert

from skyhaul.adapters.catalog.schema import copies, files
from skyhaul.core.copies import CopyState
from skyhaul.core.model import FileSpec
from skyhaul.core.redact import redact_url
from skyhaul.errors import UsageError

__all__ = ["copy_holders", "has_copies", "own_real_path", "path_conflict", "want_copies"]


def path_conflict(url: str, path: str, dest_root: str, other_url: str) -> UsageError:
    """The one-line refusal of ``url`` at ``path`` under ``dest_root``, held by ``other_url``."""
    return UsageError(
        f"path {path!r} under {dest_root} is already used by {redact_url(other_url)};"
        f" cannot also use it for {redact_url(url)}"
    )


def own_real_path(row: Any) -> str:
    """The real path of a file's own destination (rows without one: their root and path)."""
    real: str | None = row.real_path
    return real if real is not None else os.path.normpath(Path(row.dest_root, row.path))


def has_copies(connection: Connection) -> bool:
    """Whether the catalog holds any copy (most never do: their checks are skipped)."""
    return connection.execute(select(copies.c.id).limit(1)).first() is not None


def copy_holders(connection: Connection, real_paths: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Return, for each of ``real_paths`` a copy holds, that copy's file id and URL."""
    if not real_paths:
        return {}
    query = (
        select(copies.c.real_path, copies.c.file_id, files.c.url)
        .join_from(copies, files, copies.c.file_id == files.c.id)
        .where(copies.c.real_path.in_(real_paths))
    )
    return {row.real_path: (row.file_id, row.url) for row in connection.execute(query)}


def want_copies(
    connection: Connection,
    rows: Sequence[Any],
    unique: Mapping[str, FileSpec],
    dest_root: str,
    real: Mapping[str, str],
    now: datetime,
) -> int:
    """Want a copy of each known file in ``rows`` named for another real path now.

    ``rows`` have ``id``, ``url``, ``real_path``, ``dest_root`` and ``path``. Returns how
    many copies are newly wanted.

    Raises
    ------
    UsageError
        A real path wanted is another file's, or a copy of another file's.
    """
    wanted: dict[str, Any] = {}
    for row in rows:
        target = real[row.url]
        if target == own_real_path(row):
            continue
        other = wanted.setdefault(target, row)
        if other.id != row.id:
            raise path_conflict(row.url, unique[row.url].path, dest_root, other.url)
    if not wanted:
        return 0
    targets = list(wanted)
    owners = dict(
        connection.execute(
            select(files.c.real_path, files.c.url).where(files.c.real_path.in_(targets))
        ).all()
    )
    holders = copy_holders(connection, targets)
    new: list[dict[str, Any]] = []
    for target, row in wanted.items():
        path = unique[row.url].path
        if target in owners:
            raise path_conflict(row.url, path, dest_root, owners[target])
        holder = holders.get(target)
        if holder is not None:
            if holder[0] == row.id:
                continue  # wanted (or made) already
            raise path_conflict(row.url, path, dest_root, holder[1])
        new.append(
            {
                "file_id": row.id,
                "dest_root": dest_root,
                "path": path,
                "real_path": target,
                "state": CopyState.WANTED.value,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not new:
        return 0
    # A concurrent registration wanting the same copy: a no-op. The rows returned are
    # the ones inserted (a driver's row count of a bulk insert is not to be trusted).
    return len(connection.execute(_insert_new(connection), new).all())


def _insert_new(connection: Connection) -> ReturningInsert[tuple[int]]:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(copies).on_conflict_do_nothing().returning(copies.c.id)
    return sqlite.insert(copies).on_conflict_do_nothing().returning(copies.c.id)
