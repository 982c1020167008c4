"""Per-directory index files: text tables mapping file names to observation times.

Some archives put a table beside the data (the ``img_hdr.txt`` files of SOHO/LASCO), one
line per file: its name, date, time, instrument, exposure and more.

Rules:
- Blank lines and lines starting with ``#`` are skipped. With ``header`` the first other
  line names the columns; columns are then given by name (any case) or 0-based position,
  without it by position only.
- Cells are separated by ``delimiter``: one character (read as CSV, so quoted cells may
  hold it) or ``whitespace``; by default a comma when the first line has one, else
  whitespace.
- Roles: ``name`` (required; a path keeps only its last part), the start as ``time`` (a
  full time), ``date`` (a day) or both (joined with a space before parsing), and
  optionally ``end`` (a full time, or a time of day on the row's date, rolled to the next
  day when it falls before the start), ``exposure`` (seconds; end = start + exposure;
  ``end`` wins when both are given) and ``instrument``.
- Times are read with ``time_format`` (``strptime``) or as ISO 8601. A row too short or
  with a time that does not parse keeps what it has (a row without a start still names
  its instrument); the first row of a name wins.
- Pure: standard library only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from skyhaul.adapters.sources.filetimes import FileTimes, parse_time

__all__ = ["INDEX_ROLES", "IndexTableFormat", "parse_index_table"]

INDEX_ROLES = ("name", "time", "date", "end", "exposure", "instrument")
WHITESPACE = "whitespace"


@dataclass(frozen=True, slots=True)
class IndexTableFormat:
    """How to read an index table.

    Parameters
    ----------
    columns : Mapping of str to str or int
        Role (see :data:`INDEX_ROLES`) to column name or 0-based position.
    time_format : str or None
        ``strptime`` format of the start (``date`` and ``time`` joined by a space when
        both are given); None reads ISO 8601.
    delimiter : str or None
        One character, ``"whitespace"``, or None to decide from the first line.
    header : bool
        Whether the first line names the columns.

    Raises
    ------
    ValueError
        Unknown role, no ``name``, no ``time`` or ``date``, a column that is neither a name
        nor a position, a name without a header, or a bad delimiter.
    """

    columns: Mapping[str, str | int]
    time_format: str | None = None
    delimiter: str | None = None
    header: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(INDEX_ROLES))
        if unknown:
            raise ValueError(
                f"unknown column role {unknown[0]!r} (known: {', '.join(INDEX_ROLES)})"
            )
        if "name" not in self.columns:
            raise ValueError("a 'name' column is required")
        if "time" not in self.columns and "date" not in self.columns:
            raise ValueError("a 'time' or 'date' column is required")
        for role, column in self.columns.items():
            if isinstance(column, bool) or not isinstance(column, str | int):
                raise ValueError(f"column {role!r} must be a column name or a 0-based position")
            if isinstance(column, int) and column < 0:
                raise ValueError(f"column {role!r} must not be negative")
            if isinstance(column, str) and not self.header:
                raise ValueError(
                    f"column {role!r} is given by name but the table has no header; "
                    "give a 0-based position"
                )
        delimiter = self.delimiter
        if delimiter not in (None, WHITESPACE) and (len(delimiter) != 1 or delimiter in '"\r\n'):
            raise ValueError(f"delimiter must be one character or {WHITESPACE!r}")


def parse_index_table(text: str, table: IndexTableFormat) -> dict[str, FileTimes]:
    """Return the times an index table gives, by file name.

    Raises
    ------
    ValueError
        When a column named in ``table`` is not in the header (the message lists the
        header's columns).
    """
    lines = [line for line in text.splitlines() if line.strip() and line.lstrip()[:1] != "#"]
    if not lines:
        return {}
    delimiter = table.delimiter or ("," if "," in lines[0] else WHITESPACE)
    rows = _rows(lines, delimiter)
    positions: dict[str, int] = {}
    header: list[str] = next(rows) if table.header else []
    for role, column in table.columns.items():
        positions[role] = column if isinstance(column, int) else _position(column, header)
    found: dict[str, FileTimes] = {}
    for row in rows:
        name = _cell(row, positions["name"])
        if name:
            found.setdefault(name.rsplit("/", 1)[-1], _times(row, positions, table.time_format))
    return found


def _rows(lines: list[str], delimiter: str) -> Iterator[list[str]]:
    if delimiter == WHITESPACE:
        return (line.split() for line in lines)
    return ([cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter))


def _position(column: str, header: list[str]) -> int:
    wanted = column.strip().lower()
    for position, title in enumerate(header):
        if title.strip().lower() == wanted:
            return position
    raise ValueError(f"no column {column!r} in the header ({', '.join(header)})")


def _cell(row: list[str], position: int | None) -> str | None:
    if position is None or position >= len(row):
        return None
    return row[position].strip() or None


def _times(row: list[str], positions: Mapping[str, int], time_format: str | None) -> FileTimes:
    cell = {role: _cell(row, position) for role, position in positions.items()}
    day, clock = cell.get("date"), cell.get("time")
    start = _parse(" ".join(part for part in (day, clock) if part), time_format)
    end = None
    if start is not None and cell.get("end"):
        end = _end(cell["end"] or "", day, start, time_format)
    if start is not None and end is None and cell.get("exposure"):
        try:
            end = start + timedelta(seconds=float(cell["exposure"] or ""))
        except (ValueError, OverflowError):
            end = None
    return FileTimes(start=start, end=end, instrument=cell.get("instrument"))


def _end(text: str, day: str | None, start: datetime, time_format: str | None) -> datetime | None:
    end = _parse(text, time_format)
    if end is None and day is not None:
        end = _parse(f"{day} {text}", time_format)
        if end is not None and end < start:
            end += timedelta(days=1)
    return end


def _parse(text: str, time_format: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text, time_format)
    except (ValueError, OverflowError):
        return None
