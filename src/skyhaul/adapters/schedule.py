"""Read a pass schedule (ground-station slots) from a CSV or JSON file.

Rules:
- Columns (CSV header or JSON keys, any case): the slot id (``slot``, ``slot_id``, ``id``
  or ``name``), ``start`` (or ``aos``, ``start_time``), ``end`` (or ``los``,
  ``end_time``) and optionally ``station`` (or ``ground_station``). Times are ISO 8601,
  UTC when no offset is given.
- JSON is a list of objects, or an object with a ``slots`` list.
- The whole file is validated first; the first problem is a ``ManifestError`` naming the
  file and line (or item): ``passes.csv:4: end 2024-03-01T01:00Z is before start ...``.
  Input no parser should follow (a CSV field over 128 KiB, JSON nested deeper than the
  interpreter's recursion limit) is such a problem too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from skyhaul.core.model import Slot
from skyhaul.core.timeparse import parse_utc
from skyhaul.errors import ManifestError

__all__ = ["read_slots"]

_ALIASES = {
    "name": ("slot", "slot_id", "id", "name"),
    "start": ("start", "aos", "start_time"),
    "end": ("end", "los", "end_time"),
    "station": ("station", "ground_station"),
}


def read_slots(path: str | PathLike[str]) -> list[Slot]:
    """Read every slot of a schedule file, in file order.

    Raises
    ------
    ManifestError
        Missing or unreadable file, unknown format, a missing column, a bad time, an end
        before its start, a slot id given twice, or no slots at all.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{name}: cannot read: {exc}") from None
    stripped = text.lstrip()
    rows = _json_rows(stripped, name) if stripped.startswith(("[", "{")) else _csv_rows(text, name)
    slots: list[Slot] = []
    seen: set[str] = set()
    for where, row in rows:
        slot = _slot(row, where)
        if slot.name in seen:
            raise ManifestError(f"{where}: slot {slot.name!r} is listed twice")
        seen.add(slot.name)
        slots.append(slot)
    if not slots:
        raise ManifestError(f"{name}: no slots listed")
    return slots


def _csv_rows(text: str, name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    try:
        for line_number, cells in enumerate(reader, start=1):
            if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                continue
            if len(cells) != len(header):
                raise ManifestError(
                    f"{name}:{line_number}: {len(cells)} columns, the header has {len(header)}"
                )
            cleaned = (c.strip() for c in cells)
            yield f"{name}:{line_number}", dict(zip(header, cleaned, strict=True))
    except csv.Error as exc:  # a field over the module's 128 KiB limit, say
        raise ManifestError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None


def _json_rows(text: str, name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{name}: not valid JSON: {exc}") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise ManifestError(f"{name}: not valid JSON: nested too deeply") from None
    if isinstance(document, dict):
        document = document.get("slots")
    if not isinstance(document, list):
        raise ManifestError(f"{name}: expected a JSON list of slots (or {{'slots': [...]}})")
    for index, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise ManifestError(f"{name}: item {index}: not an object")
        yield f"{name}: item {index}", {str(k).lower(): v for k, v in item.items()}


def _field(row: Mapping[str, Any], role: str, where: str, *, required: bool = True) -> str | None:
    for alias in _ALIASES[role]:
        value = row.get(alias)
        if value is not None and str(value).strip():
            return str(value).strip()
    if required:
        raise ManifestError(f"{where}: missing {role} (column {' or '.join(_ALIASES[role])})")
    return None


def _slot(row: Mapping[str, Any], where: str) -> Slot:
    name = _field(row, "name", where)
    times = []
    for role in ("start", "end"):
        text = _field(row, role, where)
        assert text is not None
        try:
            times.append(parse_utc(text))
        except ValueError as exc:
            raise ManifestError(f"{where}: {role}: {exc}") from None
    start, end = times
    if end < start:
        raise ManifestError(f"{where}: end {end:%Y-%m-%dT%H:%M:%SZ} is before start")
    assert name is not None
    return Slot(
        name=name, start=start, end=end, station=_field(row, "station", where, required=False)
    )
