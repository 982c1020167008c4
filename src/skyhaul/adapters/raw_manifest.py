"""Read a manifest of raw instrument files already at a location (``files register``).

Rules:
- CSV or JSON with the columns ``path``, ``obs_unit``, ``instrument_module``, ``size``
  and ``sha256``, all required; rows are read by :mod:`skyhaul.adapters.manifest_rows`,
  as the download manifest's are (format by extension or sniffed, ``#`` comments,
  ``{"files": [...]}``, unknown columns warned about once).
- A bad row is reported (its line or item number and why) and skipped; it never blocks
  the others. What spoils the whole file (unreadable, not JSON, a header without a
  required column) raises ``ManifestError``, as the download manifest does.
- ``path`` is relative to the location and normalised (``a//./b`` is ``a/b``); one that
  would leave the location is a bad row. ``sha256`` may carry a ``sha256:`` prefix.
- A path listed twice with the same values is kept once; with other values, the later
  row is a bad row naming the earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath

from skyhaul.adapters.manifest_rows import (
    ManifestRow,
    csv_rows,
    detect_format,
    json_rows,
    read_manifest_text,
    size_cell,
    text_cell,
)
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.rawfiles import RawFileEntry, check_label, normal_sha256
from skyhaul.errors import ManifestError, PathEscapeError

__all__ = [
    "RAW_MANIFEST_COLUMNS",
    "RawManifest",
    "RowProblem",
    "parse_raw_manifest",
    "read_raw_manifest",
]

#: The columns of a raw file manifest; every one is required.
RAW_MANIFEST_COLUMNS = ("path", "obs_unit", "instrument_module", "size", "sha256")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was skipped, and why.

    Attributes
    ----------
    where : str
        ``<file>:<line>`` (CSV) or ``<file>: item <n>`` (JSON).
    line : int
        The CSV line, or the JSON item number (from 1).
    reason : str
        One line.
    """

    where: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RawManifest:
    """What a manifest lists: the good rows in file order, and the skipped ones."""

    entries: tuple[RawFileEntry, ...]
    problems: tuple[RowProblem, ...]


class _BadRow(Exception):
    """One row's problem, caught per row."""


def read_raw_manifest(path: str | PathLike[str]) -> RawManifest:
    """Read a raw file manifest, skipping (and reporting) the rows that are unusable.

    Parameters
    ----------
    path : str or path-like
        The manifest; its name (as given) prefixes every message.

    Returns
    -------
    RawManifest
        The entries, and one problem per skipped row.

    Raises
    ------
    ManifestError
        The file is unreadable, not valid JSON or CSV, or its header lacks a column.
    """
    name = str(path)
    return parse_raw_manifest(read_manifest_text(Path(path), name), name)


def parse_raw_manifest(text: str, name: str) -> RawManifest:
    """Read the text of a raw file manifest (see :func:`read_raw_manifest`)."""
    suffix = PurePosixPath(name).suffix.lower()
    if detect_format(suffix, text, "path") == "json":
        rows = json_rows(text, name, key="path", known=RAW_MANIFEST_COLUMNS)
    else:  # with no 'path' in its first row, the header check says so
        rows = csv_rows(text, name, required=RAW_MANIFEST_COLUMNS, known=RAW_MANIFEST_COLUMNS)
    entries: list[RawFileEntry] = []
    problems: list[RowProblem] = []
    seen: dict[str, tuple[RawFileEntry, str]] = {}
    for row in rows:
        try:
            entry = _entry(row)
        except _BadRow as exc:
            problems.append(RowProblem(row.where, row.number, str(exc)))
            continue
        earlier = seen.get(entry.path)
        if earlier is None:
            seen[entry.path] = (entry, row.where)
            entries.append(entry)
        elif earlier[0] != entry:
            reason = f"path {entry.path!r} is also listed at {earlier[1]}, with other values"
            problems.append(RowProblem(row.where, row.number, reason))
    return RawManifest(tuple(entries), tuple(problems))


def _entry(row: ManifestRow) -> RawFileEntry:
    """The row as an entry; ``_BadRow`` with the reason (without ``where``) otherwise."""
    if row.problem is not None:
        raise _BadRow(row.problem)
    where = row.where
    try:
        cells = {column: text_cell(row.values, column, where) for column in RAW_MANIFEST_COLUMNS}
        missing = [column for column, value in cells.items() if value is None]
        if missing:
            raise _BadRow(f"no {' and no '.join(missing)}")
        size = size_cell(row.values, where) or 0  # not None: the cell is not empty
    except ManifestError as exc:
        raise _BadRow(exc.message.removeprefix(f"{where}: ")) from None
    try:
        path = str(safe_relative_path(str(cells["path"])))
        obs_unit = check_label("obs_unit", str(cells["obs_unit"]))
        module = check_label("instrument_module", str(cells["instrument_module"]))
        sha256 = normal_sha256(str(cells["sha256"]))
    except PathEscapeError as exc:
        raise _BadRow(exc.message) from None
    except ValueError as exc:
        raise _BadRow(str(exc)) from None
    return RawFileEntry(path, size, sha256, obs_unit, module)
