"""FITS header queries: files found by their header values, one file's stored headers.

Rules:
- ``skyhaul ls`` and ``skyhaul.Client`` both come here: conditions (``INSTRUME=NIRCAM``,
  a mapping ``{"INSTRUME": "NIRCAM"}``, a target name) are read by
  :mod:`skyhaul.core.fitsquery` and become ``Selection.headers``; a bad one is a
  ``UsageError`` (one line, exit code 2).
- A file is named by its catalog id, or by its path: its destination or a copy's,
  absolute or relative to the working directory, resolved as registration resolves
  destinations (the directory's real path, then the name).
- :func:`headers_document` is what ``fits show --json`` prints and
  ``Client.fits_headers`` returns: the file, its indexed values by FITS keyword, its
  cards per HDU, and its archive record (``origin``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from skyhaul.core.fitsheaders import HEADER_COLUMNS, FitsHeaders, StoredHeaders
from skyhaul.core.fitsquery import HeaderCondition, condition_for, parse_condition
from skyhaul.core.model import FileRecord, Selection
from skyhaul.errors import UsageError
from skyhaul.ports.catalog import HeaderQueries

__all__ = [
    "Where",
    "file_named",
    "find_files",
    "header_selection",
    "headers_document",
    "parse_where",
    "stored_headers_document",
]

#: Ids are 64-bit: a larger number names no file (and is never sent to the database).
_LARGEST_ID = 2**63

Where = str | Sequence[str] | Mapping[str, object]
"""Conditions: ``"KEY=VALUE"`` texts, or a mapping of keys to values that must equal."""


def parse_where(where: Where | None, target: str | None = None) -> tuple[HeaderCondition, ...]:
    """Read conditions, and a target name (``TARGNAME``, any case, ``*`` wildcards).

    Raises
    ------
    UsageError
        A condition that does not read (one line quoting it).
    """
    try:
        if where is None:
            conditions = []
        elif isinstance(where, str):
            conditions = [parse_condition(where)]
        elif isinstance(where, Mapping):
            conditions = [condition_for(str(key), "=", value) for key, value in where.items()]
        else:
            conditions = [parse_condition(text) for text in where]
        if target is not None:
            conditions.append(condition_for("TARGNAME", "=", target))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return tuple(conditions)


def header_selection(
    selection: Selection | None, where: Where | None = None, target: str | None = None
) -> Selection | None:
    """``selection`` narrowed to the files whose header values meet the conditions."""
    conditions = parse_where(where, target)
    if not conditions:
        return selection
    base = selection or Selection()
    return dataclasses.replace(base, headers=(*(base.headers or ()), *conditions))


def find_files(
    queries: HeaderQueries,
    selection: Selection | None = None,
    *,
    where: Where | None = None,
    target: str | None = None,
    limit: int | None = None,
    order: str = "id",
) -> list[FileRecord]:
    """The files of ``selection`` whose stored header values meet the conditions."""
    wanted = header_selection(selection, where, target)
    return queries.list_files(wanted, limit=limit, order=order)


def file_named(queries: HeaderQueries, ref: str | int, *, cwd: Path | None = None) -> FileRecord:
    """The catalog file ``ref`` names: an id (digits), or a path (see the rules).

    Raises
    ------
    UsageError
        No file has that id or is stored at that path.
    """
    text = str(ref).strip()
    if isinstance(ref, int) or text.isdigit():
        record = queries.get(int(text)) if int(text) < _LARGEST_ID else None
        if record is None:
            raise UsageError(f"no file {text} in the catalog")
        return record
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    real = str(Path(os.path.realpath(path.parent)) / path.name)
    record = queries.file_at(real)
    if record is None:
        raise UsageError(f"no file in the catalog is stored at {real}")
    return record


def headers_document(
    queries: HeaderQueries, ref: str | int, *, cwd: Path | None = None
) -> dict[str, object]:
    """The stored headers of the file ``ref`` names, JSON-ready.

    ``hdus`` is empty (and every value None) when no headers were stored for it.

    Raises
    ------
    UsageError
        No such file.
    """
    record = file_named(queries, ref, cwd=cwd)
    return {
        "id": record.id,
        "path": str(Path(record.dest_root) / record.path),
        "state": record.state.value,
        **stored_headers_document(queries.file_headers(record.id)),
    }


def stored_headers_document(stored: StoredHeaders | None) -> dict[str, object]:
    """What the catalog holds of one file's headers, JSON-ready: its indexed ``values``,
    its cards per HDU (``hdus``), ``truncated``, ``read_at`` and its archive record
    (``origin``); every value None (and no HDU) for None."""
    headers = None if stored is None else stored.headers
    return {
        "values": _values(stored),
        "hdus": _hdus(headers),
        "truncated": headers is not None and headers.truncated,
        "read_at": _plain(None if stored is None else stored.read_at),
        "origin": _origin(None if stored is None else stored.origin),
    }


def _values(stored: StoredHeaders | None) -> dict[str, object]:
    known = {} if stored is None else stored.values
    return {c.keyword: _plain(known.get(c.keyword)) for c in HEADER_COLUMNS}


def _hdus(headers: FitsHeaders | None) -> list[dict[str, object]]:
    if headers is None:
        return []
    return [
        {"index": h.index, "name": h.name, "cards": [list(card) for card in h.cards]}
        for h in headers.hdus
    ]


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _origin(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # registered as text that is not JSON: shown as it is
