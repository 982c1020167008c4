"""The backfill ledger as CSV: one row per :class:`~skyhaul.core.backfill.DayRun`.

Rules:
- The header is the DayRun field names, in order; days are ``YYYY-MM-DD``, times ISO 8601
  UTC ending in ``Z``, None is an empty cell.
- The file appears complete or not at all
  (:func:`skyhaul.adapters.storage.atomic_file`).
- OS errors (a missing directory, a full disk, no permission) are one-line
  :class:`~skyhaul.errors.UsageError` naming the file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from skyhaul.adapters.storage import atomic_file
from skyhaul.core.backfill import DayRun
from skyhaul.errors import UsageError

__all__ = ["FIELDS", "write_ledger_csv"]

#: The CSV header: DayRun's fields in order.
FIELDS = tuple(f.name for f in dataclasses.fields(DayRun))


def write_ledger_csv(rows: Iterable[DayRun], path: Path) -> int:
    """Write ledger rows to ``path`` as CSV, atomically.

    Parameters
    ----------
    rows : iterable of DayRun
        The rows, written in the order given.
    path : Path
        The CSV file; replaced if it exists. Its directory must exist.

    Returns
    -------
    int
        The number of rows written (the header not counted).

    Raises
    ------
    UsageError
        When the file cannot be written (the message names it and says why).
    ValueError
        For a naive datetime in a row.
    """
    try:
        with atomic_file(path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            count = _write(rows, text)
            text.detach()  # flushed; the file stays open to be fsynced and renamed
    except OSError as error:
        raise UsageError(f"cannot write ledger CSV {path}: {error.strerror or error}") from error
    return count


def _write(rows: Iterable[DayRun], stream: TextIO) -> int:
    count = 0
    writer = csv.writer(stream)
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in FIELDS])
        count += 1
    return count


def _cell(value: object) -> str:
    """One CSV cell: ISO 8601 for days and UTC times (``Z``), empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} in a ledger row")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
