"""The rows of a CSV or JSON manifest, for the readers that give them meaning.

Rules:
- Shared by the download manifest (``adapters.manifest``: the first bad row stops it) and
  the raw file manifest (``adapters.raw_manifest``: a bad row is reported and skipped),
  so a row problem is yielded as a ``ManifestRow`` with ``problem`` set, never raised;
  each reader decides. What spoils the whole file (unreadable, not JSON, a header
  without a required column, a CSV field over the csv module's 128 KiB limit) raises
  ``ManifestError``.
- ``where`` prefixes every message: ``<file>:<line>`` for CSV, ``<file>: item <n>`` for JSON.
- Format: by extension (``.csv``, ``.json``), else sniffed: ``[``/``{`` is JSON, a first
  row naming the key column is CSV, anything else is ``lines`` (the caller's fallback).
- Columns are matched without regard to case or surrounding blanks; unknown columns are
  logged once as a warning and ignored.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skyhaul.core.specs import kind_of
from skyhaul.errors import ManifestError

__all__ = [
    "ManifestRow",
    "Row",
    "csv_rows",
    "detect_format",
    "json_rows",
    "read_manifest_text",
    "size_cell",
    "text_cell",
]

logger = logging.getLogger("skyhaul.adapters.manifest")

Row = Mapping[str, object]
Format = Literal["csv", "json", "lines"]


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One row as read, or why it could not be read.

    Attributes
    ----------
    where : str
        ``<file>:<line>`` (CSV) or ``<file>: item <n>`` (JSON).
    number : int
        The CSV line or the JSON item number (from 1).
    values : Mapping
        Column to cell (empty when ``problem`` is set).
    problem : str or None
        Why the row is unusable, without ``where``.
    """

    where: str
    number: int
    values: Row
    problem: str | None = None


def read_manifest_text(path: Path, name: str) -> str:
    """Read a manifest as UTF-8 (a byte order mark is dropped).

    Raises
    ------
    ManifestError
        Missing, a directory, not UTF-8 or unreadable; the message starts with ``name``.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ManifestError(f"{name}: is a directory, not a manifest") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{name}: not a UTF-8 text file") from None
    except OSError as exc:
        raise ManifestError(f"{name}: cannot read: {exc.strerror or exc}") from None


def detect_format(suffix: str, text: str, key: str) -> Format:
    """Tell a manifest's format from its extension, else from its first lines."""
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    head = text.lstrip()
    if head.startswith(("[", "{")):
        return "json"
    for line in head.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            cells = next(csv.reader([stripped]), [])
            return "csv" if key in {c.strip().lower() for c in cells} else "lines"
    return "lines"


def csv_rows(
    text: str, name: str, *, required: Sequence[str], known: Collection[str]
) -> Iterator[ManifestRow]:
    """Yield the rows of a CSV manifest with a header naming every ``required`` column.

    Blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    ManifestError
        The header lacks a required column or repeats one; the CSV cannot be parsed.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    try:
        for cells in reader:
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            where = f"{name}:{reader.line_num}"
            if header is None:
                header = [c.strip().lower() for c in cells]
                _check_header(header, where, required, known)
                continue
            if len(cells) > len(header):
                problem = f"{len(cells)} fields but the header has {len(header)} columns"
                yield ManifestRow(where, reader.line_num, {}, problem)
                continue
            yield ManifestRow(where, reader.line_num, dict(zip(header, cells, strict=False)))
    except csv.Error as exc:  # a field over the module's 128 KiB limit, say
        raise ManifestError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None


def _check_header(
    header: list[str], where: str, required: Sequence[str], known: Collection[str]
) -> None:
    for column in required:
        if column not in header:
            found = ", ".join(h for h in header if h) or "nothing"
            raise ManifestError(f"{where}: the header has no {column!r} column (found: {found})")
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        raise ManifestError(f"{where}: column {repeated[0]!r} appears twice in the header")
    _warn_unknown(header, where, known)


def _warn_unknown(columns: Iterable[str], where: str, known: Collection[str]) -> None:
    unknown = sorted({c for c in columns if c and c not in known})
    if unknown:
        logger.warning("%s: ignoring unknown columns: %s", where, ", ".join(unknown))


def json_rows(
    text: str, name: str, *, key: str, known: Collection[str], bare: bool = False
) -> Iterator[ManifestRow]:
    """Yield the items of a JSON manifest: a list of objects, or ``{"files": [...]}``.

    With ``bare``, an item that is a string stands for ``{key: item}``.

    Raises
    ------
    ManifestError
        Not JSON, nested too deeply, or not a list of files.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{name}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise ManifestError(f"{name}: not valid JSON: nested too deeply") from None
    items = document.get("files") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ManifestError(f"{name}: expected a JSON list of files (or {{'files': [...]}})")
    unknown: set[str] = set()
    for index, item in enumerate(items, start=1):
        where = f"{name}: item {index}"
        if bare and isinstance(item, str):
            item = {key: item}
        if not isinstance(item, dict):
            problem = f"expected an object with a {key!r}, got {kind_of(item)}"
            yield ManifestRow(where, index, {}, problem)
            continue
        unknown.update(k for k in item if k not in known)
        yield ManifestRow(where, index, item)
    _warn_unknown(unknown, name, known)


def text_cell(row: Row, column: str, where: str) -> str | None:
    """A cell as stripped text (numbers become text); None when empty or absent.

    Raises
    ------
    ManifestError
        The cell is neither text nor a number (``where: column must be text, ...``).
    """
    value = row.get(column)
    if type(value) is str:  # the common case, fast
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ManifestError(f"{where}: {column} must be text, got {kind_of(value)}")
    text = str(value).strip()
    return text or None


def size_cell(row: Row, where: str) -> int | None:
    """The ``size`` cell as a whole number of bytes; None when empty or absent.

    Raises
    ------
    ManifestError
        Not a whole non-negative number (``where: size '1.5' is not ...``).
    """
    value = row.get("size")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.strip() if isinstance(value, str) else value
    if text is None or text == "":
        return None
    if isinstance(text, str) and text.isascii() and text.isdecimal():
        return int(text)
    raise ManifestError(f"{where}: size {text!r} is not a whole number of bytes")
