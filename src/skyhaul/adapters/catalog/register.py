"""Registering wanted files: bulk, idempotent by URL.

Rules:
- The URL is a file's identity. A known URL keeps its row, its destination and its state.
- A known file whose expected size, checksum or listed version (``FileSpec.version``, an
  ETag or modification time a source saw) differs from the one given now has changed
  remotely: ``remote_changed`` is applied where the lifecycle allows it and what was
  learned about the old bytes (sha256, validator, bytes done, segments, attempts, errors)
  is forgotten. A file being downloaded right now is left to its lease holder; the next
  registration after it settles sees the difference again.
- Unknown values (size, checksum, mission metadata) are filled in from the new spec; that
  is new information, not a change.
- The mission metadata columns are those of the declaration (:mod:`skyhaul.core.metadata`),
  worked out once at import: registration is a hot path, and nothing here is per-row.
- A destination names one file: its real path (``adapters.confinement.RealPaths``: the root
  resolved, the relative path normalised) is unique among files and copies, whatever
  root it was named under. A real path already used by another URL is refused, naming
  both URLs; so is a real path that is a directory of another or lies below one
  (``destinations.refuse_directory_clashes``), and a name only a part file may have
  (``core.paths.reserved_component``).
- With ``copies``, a known URL named for another destination wants a copy there (see
  :mod:`skyhaul.core.copies`); without (discovery), a known URL keeps its row as it is.
- A file's mirrors (further URLs) are its URL's: given again, they replace the stored ones;
  that is not a change of the file.
- With a job, every file named (new or known) is linked to it in ``job_files``: a second
  job over the same files adds its links, it never takes the first job's.
- A spec's ``origin`` (the archive's record of the file) is stored beside its FITS
  headers (:mod:`.headers`), replacing the one stored before; specs without one cost
  nothing there.
- Rows are read and written in chunks of bound parameters, new rows handed to the driver
  in bulk; the whole registration is one transaction.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal, select, update
from sqlalchemy.engine import Connection

from skyhaul.adapters.catalog.destinations import (
    copy_holders,
    has_copies,
    path_conflict,
    refuse_directory_clashes,
    want_copies,
)
from skyhaul.adapters.catalog.facts import note_observations
from skyhaul.adapters.catalog.headers import forget_headers, store_origins
from skyhaul.adapters.catalog.jobs_schema import job_files
from skyhaul.adapters.catalog.records import chunks, encode_urls
from skyhaul.adapters.catalog.schema import files, segments
from skyhaul.adapters.catalog.selection import normal_instrument
from skyhaul.adapters.catalog.totals import TotalsDelta
from skyhaul.adapters.catalog.types import datetime_binder
from skyhaul.adapters.confinement import RealPaths
from skyhaul.core.lifecycle import TRANSITIONS, FileEvent, FileState, next_state
from skyhaul.core.metadata import METADATA_KINDS, METADATA_NAMES, MetadataKind
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import reserved_component, reserved_refusal
from skyhaul.core.redact import redact_url
from skyhaul.errors import UsageError

#: Values a new spec may fill in when the stored row does not know them.
FILLABLE = ("size", "checksum", *METADATA_NAMES, "remote_version")

#: What a remote change makes us forget about the bytes we had.
FORGET_BYTES = {
    "sha256": None,
    "validator": None,
    "bytes_done": 0,
    "attempts": 0,
    "next_attempt_at": None,
    "last_error": None,
    "error_class": None,
    "downloaded_at": None,
}

# Of a known row we need its size and checksum, and only whether the others are unknown
# (testing IS NULL in SQL spares parsing a datetime per row); its destination only when
# copies may be wanted.
_KNOWN_COLUMNS = (
    files.c.id,
    files.c.url,
    files.c.state,
    files.c.size,
    files.c.checksum,
    files.c.remote_version,
    files.c.mirrors,
    *(files.c[name].is_(None) for name in FILLABLE),
)
_DESTINATION_COLUMNS = (files.c.real_path, files.c.dest_root, files.c.path)
_UNKNOWN = slice(len(_KNOWN_COLUMNS) - len(FILLABLE), len(_KNOWN_COLUMNS))
# FileSpec.version is stored as remote_version.
_spec_fillables = operator.attrgetter(*FILLABLE[:-1], "version")


@dataclass(frozen=True, slots=True)
class RegisterResult:
    """What a registration did, counted in distinct URLs."""

    new: int = 0
    """Rows created."""
    known: int = 0
    """URLs already in the catalog, unchanged (possibly with unknown values filled in)."""
    changed: int = 0
    """URLs already in the catalog whose size or checksum changed (their bytes are stale)."""
    copies: int = 0
    """Copies newly wanted: known URLs named for another destination (``copies``)."""


def register_specs(
    connection: Connection,
    specs: Sequence[FileSpec],
    dest_root: str,
    *,
    now: datetime,
    job_id: int | None,
    delta: TotalsDelta,
    copies: bool = False,
) -> RegisterResult:
    """Register ``specs`` under ``dest_root`` (see the module rules). Inside a write transaction."""
    unique = _unique_by_url([_normalised(spec) for spec in specs])
    _refuse_reserved(unique.values())
    resolve = RealPaths(dest_root)
    real: dict[str, str] = {}  # by URL, worked out for new files (and copies) only
    any_copies = has_copies(connection)
    note_observations(connection, unique.values())
    paths_taken: dict[str, str] = {}
    new = known = changed = wanted = 0
    for chunk in chunks(list(unique.values())):
        rows = connection.execute(
            select(*_KNOWN_COLUMNS, *(_DESTINATION_COLUMNS if copies else ()))
            .where(files.c.url.in_([spec.url for spec in chunk]))
            .order_by(files.c.id)
            .with_for_update()
        ).all()
        by_url = {row.url: row for row in rows}
        fresh = [spec for spec in chunk if spec.url not in by_url]
        real.update((spec.url, resolve.of(spec.path)) for spec in fresh)
        _check_batch_paths(fresh, dest_root, real, paths_taken)
        if any_copies:
            _check_copies(connection, fresh, dest_root, real)
        inserted, raced = _insert(connection, fresh, dest_root, real, now, delta)
        paths = {real[spec.url]: spec.url for spec in fresh}
        refuse_directory_clashes(connection, paths, with_copies=any_copies)
        new += inserted
        known += raced
        updates, changed_ids = _known_updates(rows, unique, now, delta)
        changed += len(changed_ids)
        known += len(rows) - len(changed_ids)
        _apply_updates(connection, updates)
        if changed_ids:
            connection.execute(delete(segments).where(segments.c.file_id.in_(changed_ids)))
            forget_headers(connection, changed_ids)
        if copies:
            real.update((row.url, resolve.of(unique[row.url].path)) for row in rows)
            wanted += want_copies(connection, rows, unique, dest_root, real, now)
            any_copies = any_copies or wanted > 0
        if job_id is not None:
            _link(connection, job_id, [spec.url for spec in chunk])
        store_origins(connection, chunk)
    return RegisterResult(new=new, known=known, changed=changed, copies=wanted)


def _normalised(spec: FileSpec) -> FileSpec:
    """The spec with its instrument as the catalog stores it (see ``normal_instrument``)."""
    if spec.instrument is None:
        return spec
    instrument = normal_instrument(spec.instrument)
    return (
        spec if instrument == spec.instrument else dataclasses.replace(spec, instrument=instrument)
    )


def _unique_by_url(specs: Sequence[FileSpec]) -> dict[str, FileSpec]:
    unique: dict[str, FileSpec] = {}
    for spec in specs:
        first = unique.setdefault(spec.url, spec)
        if first.path != spec.path:
            raise UsageError(
                f"{redact_url(spec.url)} is listed twice, for {first.path!r} and {spec.path!r}"
            )
    return unique


def _refuse_reserved(specs: Iterable[FileSpec]) -> None:
    """Refuse a destination only a part file may have (before anything is written)."""
    for spec in specs:
        reserved = reserved_component(spec.path)
        if reserved is not None:
            raise UsageError(reserved_refusal(spec.path, reserved))


def _check_batch_paths(
    fresh: Sequence[FileSpec], dest_root: str, real: dict[str, str], taken: dict[str, str]
) -> None:
    """Refuse two new URLs for one real path in this call (in the table: see _insert)."""
    for spec in fresh:
        other = taken.setdefault(real[spec.url], spec.url)
        if other != spec.url:
            raise path_conflict(spec.url, spec.path, dest_root, other)


def _check_copies(
    connection: Connection, fresh: Sequence[FileSpec], dest_root: str, real: dict[str, str]
) -> None:
    """Refuse a new file at a real path a copy of another file holds."""
    if not fresh:
        return
    holders = copy_holders(connection, [real[spec.url] for spec in fresh])
    for spec in fresh:
        holder = holders.get(real[spec.url])
        if holder is not None:
            raise path_conflict(spec.url, spec.path, dest_root, holder[1])


def _values_of(names: Sequence[str]) -> Callable[[object], tuple[Any, ...]]:
    """A function returning the named attributes of an object as a tuple (of any length)."""
    if len(names) >= 2:
        return operator.attrgetter(*names)  # one C call per row
    return lambda item: tuple(getattr(item, name) for name in names)


# A new row's mission metadata: values the driver takes as they are, then the times, which
# it is given through the dialect's binder (see _insert).
_AS_IS = tuple(name for name, kind in METADATA_KINDS.items() if kind is not MetadataKind.TIME)
_TIMES = tuple(name for name, kind in METADATA_KINDS.items() if kind is MetadataKind.TIME)
_as_is_values = _values_of(_AS_IS)
_time_values = _values_of(_TIMES)

#: Columns of a new row, in the order of the rows handed to the driver.
_INSERTED = (
    *("url", "path", "dest_root", "source", "size", "checksum", "state"),
    *("attempts", "bytes_done", "created_at", "updated_at"),
    *_AS_IS,
    *_TIMES,
    "remote_version",
    "mirrors",
    "real_path",
)
_INSERT = f"INSERT INTO {files.name} ({', '.join(_INSERTED)}) "
_SKIP_CONFLICTS = " ON CONFLICT DO NOTHING"

#: Rows per INSERT on PostgreSQL (one array parameter per column).
_PAGE = 5_000


def _insert(
    connection: Connection,
    fresh: Sequence[FileSpec],
    dest_root: str,
    real: dict[str, str],
    now: datetime,
    delta: TotalsDelta,
) -> tuple[int, int]:
    """Insert new rows; return (inserted, inserted meanwhile by a concurrent registration).

    Rows go straight to the driver in bulk (SQLAlchemy's per-row processing would cost
    more than the inserting). A row the unique indices turn away means its URL was
    registered concurrently or its path is taken, which is cheaper and safer to learn
    this way than by asking first: then the chunk is redone row by row, to tell which.
    """
    if not fresh:
        return 0, 0
    binder = datetime_binder(connection.dialect)
    stamp = binder(now)
    state = FileState.DISCOVERED.value
    rows = [
        (
            *(spec.url, spec.path, dest_root, spec.source, spec.size),
            *(spec.checksum, state, 0, 0, stamp, stamp),
            *_as_is_values(spec),
            *map(binder, _time_values(spec)),
            spec.version,
            encode_urls(spec.mirrors),
            real[spec.url],
        )
        for spec in fresh
    ]
    with connection.begin_nested() as savepoint:
        inserted = _insert_all(connection, rows)
        if inserted != len(rows):
            savepoint.rollback()
    if inserted == len(rows):
        for spec in fresh:
            delta.add(state, spec.size)
        return len(rows), 0
    return _insert_one_by_one(connection, fresh, rows, dest_root, real, delta)


def _insert_all(connection: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert driver-ready rows, skipping conflicts; return how many were inserted.

    SQLite runs an executemany in C, in process. PostgreSQL gets one array per column and
    unnests them: one statement and a handful of parameters per page.
    """
    dialect = connection.dialect
    if dialect.paramstyle == "qmark":
        values = "VALUES (" + ", ".join(["?"] * len(_INSERTED)) + ")"
        return int(connection.exec_driver_sql(_INSERT + values + _SKIP_CONFLICTS, rows).rowcount)
    arrays = ", ".join(f"%s::{files.c[name].type.compile(dialect)}[]" for name in _INSERTED)
    sql = f"{_INSERT}SELECT * FROM unnest({arrays}){_SKIP_CONFLICTS}"
    inserted = 0
    for page in chunks(rows, _PAGE):
        columns = tuple(list(column) for column in zip(*page, strict=True))
        inserted += connection.exec_driver_sql(sql, columns).rowcount
    return inserted


def _insert_one_by_one(
    connection: Connection,
    fresh: Sequence[FileSpec],
    rows: list[tuple[Any, ...]],
    dest_root: str,
    real: dict[str, str],
    delta: TotalsDelta,
) -> tuple[int, int]:
    """The slow path of :func:`_insert`: raise for a taken path, count concurrent inserts."""
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = f"{_INSERT}VALUES ({', '.join([marker] * len(_INSERTED))}){_SKIP_CONFLICTS}"
    inserted = raced = 0
    for spec, row in zip(fresh, rows, strict=True):
        if connection.exec_driver_sql(sql, row).rowcount:
            inserted += 1
            delta.add(FileState.DISCOVERED.value, spec.size)
            continue
        # Someone else registered the same URL (fine) or took the path (not fine).
        if connection.scalar(select(files.c.id).where(files.c.url == spec.url)) is None:
            holder = connection.scalar(
                select(files.c.url).where(files.c.real_path == real[spec.url])
            ) or connection.scalar(
                select(files.c.url).where(files.c.dest_root == dest_root, files.c.path == spec.path)
            )
            raise path_conflict(spec.url, spec.path, dest_root, holder or "another URL")
        raced += 1
    return inserted, raced


def _known_updates(
    rows: Sequence[Any], unique: dict[str, FileSpec], now: datetime, delta: TotalsDelta
) -> tuple[list[dict[str, Any]], list[int]]:
    """Return the updates for known rows (each with ``_id`` and ``_state``) and changed ids."""
    updates: list[dict[str, Any]] = []
    changed_ids: list[int] = []
    for row in rows:
        state = FileState(row.state)
        if state is FileState.DOWNLOADING:
            continue  # its lease holder owns it (see the module rules)
        spec = unique[row.url]
        unknown = row[_UNKNOWN]  # one "IS NULL" per FILLABLE name
        fills = {
            name: value
            for name, value, missing in zip(FILLABLE, _spec_fillables(spec), unknown, strict=True)
            if missing and value is not None
        }
        mirrors = encode_urls(spec.mirrors)
        if spec.mirrors and mirrors != row.mirrors:
            fills["mirrors"] = mirrors
        if _changed(row, spec):
            size = spec.size if spec.size is not None else row.size
            target = (
                next_state(state, FileEvent.REMOTE_CHANGED)
                if (state, FileEvent.REMOTE_CHANGED) in TRANSITIONS
                else state
            )
            values = {
                **fills,
                **FORGET_BYTES,
                "size": size,
                "checksum": spec.checksum or row.checksum,
                "remote_version": spec.version or row.remote_version,
                "state": target.value,
            }
            delta.add(state.value, row.size, -1)
            delta.add(target.value, size)
            changed_ids.append(row.id)
        elif fills:
            values = dict(fills)
            delta.resize(state.value, row.size, fills.get("size", row.size))
        else:
            continue
        updates.append({**values, "updated_at": now, "_id": row.id, "_state": state.value})
    return updates, changed_ids


def _changed(row: Any, spec: FileSpec) -> bool:
    if spec.size is not None and row.size is not None and spec.size != row.size:
        return True
    known_versions = spec.version is not None and row.remote_version is not None
    if known_versions and spec.version != row.remote_version:
        return True
    if spec.checksum is None or row.checksum is None:
        return False
    return same_checksum(spec.checksum, row.checksum) is False


def same_checksum(a: str, b: str) -> bool | None:
    """Compare two ``algorithm:hex`` checksums; None when the algorithms differ."""
    algo_a, _, hex_a = a.strip().lower().rpartition(":")
    algo_b, _, hex_b = b.strip().lower().rpartition(":")
    if algo_a != algo_b:
        return None
    return hex_a == hex_b


def _apply_updates(connection: Connection, updates: list[dict[str, Any]]) -> None:
    """Run the row updates, one executemany per set of columns (compare-and-set on state)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        columns = tuple(sorted(k for k in values if not k.startswith("_")))
        groups.setdefault(columns, []).append(
            {("v_" + k if not k.startswith("_") else k): v for k, v in values.items()}
        )
    for columns, params in groups.items():
        statement = (
            update(files)
            .where(files.c.id == bindparam("_id"), files.c.state == bindparam("_state"))
            .values({name: bindparam("v_" + name) for name in columns})
        )
        connection.execute(statement, params)


def _link(connection: Connection, job_id: int, urls: Sequence[str]) -> None:
    """Link the files of ``urls`` to the job (links already there are kept)."""
    if not urls:
        return
    # INSERT ... SELECT: one statement per chunk, whatever the number of files; the
    # WHERE before ON CONFLICT keeps SQLite's parser from reading it as a join's ON.
    linked = select(job_files.c.file_id).where(job_files.c.job_id == job_id)
    chosen = select(literal(job_id), files.c.id).where(
        files.c.url.in_(urls), files.c.id.not_in(linked)
    )
    connection.execute(insert(job_files).from_select(["job_id", "file_id"], chosen))
