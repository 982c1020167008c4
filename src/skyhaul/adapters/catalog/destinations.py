"""Destinations as registration sees them: one real file each, a file's own or a copy.

Rules:
- A real path (``adapters.storage.RealPaths``) is held by at most one file's own
  destination (``files.real_path``, unique) or one copy (``copies.real_path``, unique).
  The two tables are checked against each other here, in the registration's transaction.
- A known URL named for another real path, when the caller asks for copies, wants a copy
  there: a WANTED row, once; a real path held by another file, or by another file's copy,
  is refused with the one-line conflict message, naming both URLs.
- No real path is a directory of another (``/d/a`` and ``/d/a/b``, named in one run or in
  two, under one root or two): one of the two could never be written. A new destination
  is checked once its rows are in (so that the batch's own rows count too): the
  directories above it by equality, the paths below it by one index range each
  (``[P/, P0)``, as ``0`` follows ``/``), a chunk of paths per statement. The ranges
  assume the byte order of SQLite and of PostgreSQL's C collations (``C``,
  ``C.UTF-8``); under another collation a path below may be missed, and that file then
  fails when it is written, as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningInsert

from skyhaul.adapters.catalog.records import chunks
from skyhaul.adapters.catalog.schema import copies, files
from skyhaul.core.copies import CopyState
from skyhaul.core.model import FileSpec
from skyhaul.core.redact import redact_url
from skyhaul.core.specs import PathClash
from skyhaul.errors import InvalidSpecError, UsageError

__all__ = [
    "copy_holders",
    "has_copies",
    "own_real_path",
    "path_conflict",
    "refuse_directory_clashes",
    "want_copies",
]

#: The separator of real paths (paths below ``P`` are in ``[P/, P0)``, see the rules).
_SEP = "/"


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


def refuse_directory_clashes(
    connection: Connection, new: Mapping[str, str], *, with_copies: bool
) -> None:
    """Refuse a new real path that is a directory of a destination held, or below one.

    Parameters
    ----------
    connection : Connection
        In the registration's transaction, with the new rows already written.
    new : mapping of str to str
        The new destinations: real path -> the URL of the file (or copy) wanting it.
    with_copies : bool
        Whether copies hold destinations too (see :func:`has_copies`).

    Raises
    ------
    InvalidSpecError
        Naming both paths and both URLs, in one line.
    """
    above: dict[str, str] = {}  # each directory a new path needs -> the first such path
    for path in new:
        cut = path.rfind(_SEP)
        while cut > 0:
            if above.setdefault(path[:cut], path) != path:
                break  # its own parents were recorded with it
            cut = path.rfind(_SEP, 0, cut)
    holders = [(files.c.real_path, select(files.c.real_path, files.c.url), False)]
    if with_copies:
        of_copies = select(copies.c.real_path, files.c.url).join_from(
            copies, files, copies.c.file_id == files.c.id
        )
        holders.append((copies.c.real_path, of_copies, True))
    sqlite = connection.dialect.name == "sqlite"
    for real_path, held, of_copies_too in holders:
        for chunk in chunks(list(above)):
            found = connection.execute(held.where(real_path.in_(chunk)).limit(1)).first()
            if found is not None:
                later = above[found.real_path]
                raise _directory_clash(later, new[later], found.real_path, found.url)
        below = _below_sql(sqlite=sqlite, copies_too=of_copies_too)
        for chunk in chunks(list(new)):
            paths: Any = json.dumps(chunk) if sqlite else list(chunk)
            row = connection.exec_driver_sql(below, (paths,)).first()
            if row is not None:
                raise _directory_clash(row[2], new[row[2]], row[0], row[1])


def _below_sql(*, sqlite: bool, copies_too: bool) -> str:
    """The driver's SQL finding a destination below any of a list of paths (the list one
    parameter); a row is (the path below, its file's URL, the path above).

    Written out rather than built with SQLAlchemy, which would compile a VALUES list of
    each chunk's paths anew (most of a registration's time). Each path is one index
    range; on PostgreSQL inside a LATERAL with its own LIMIT, or the planner, counting
    on the outer LIMIT, scans the whole table once per path.
    """
    table = copies.name if copies_too else files.name
    owner = f" JOIN {files.name} AS f ON f.id = h.file_id" if copies_too else ""
    url = "f.url" if copies_too else "h.url"
    below = "h.real_path >= p.value || '/' AND h.real_path < p.value || '0'"
    if sqlite:
        return (
            f"SELECT h.real_path, {url}, p.value FROM json_each(?) AS p"
            f" JOIN {table} AS h ON {below}{owner} LIMIT 1"
        )
    return (
        "SELECT b.real_path, b.url, p.value FROM unnest(%s::text[]) AS p(value)"
        f" CROSS JOIN LATERAL (SELECT h.real_path, {url} AS url FROM {table} AS h{owner}"
        f" WHERE {below} LIMIT 1) AS b LIMIT 1"
    )


def _directory_clash(path: str, url: str, other: str, other_url: str) -> InvalidSpecError:
    clash = PathClash(later=path, earlier=other)
    return InvalidSpecError(f"{redact_url(url)}: {clash.message(redact_url(other_url))}")


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
    made = len(connection.execute(_insert_new(connection), new).all())
    refuse_directory_clashes(
        connection, {target: row.url for target, row in wanted.items()}, with_copies=True
    )
    return made


def _insert_new(connection: Connection) -> ReturningInsert[tuple[int]]:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(copies).on_conflict_do_nothing().returning(copies.c.id)
    return sqlite.insert(copies).on_conflict_do_nothing().returning(copies.c.id)
