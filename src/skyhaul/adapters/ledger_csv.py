"""The backfill ledger as CSV: one row per :class:`~skyhaul.core.backfill.DayRun`.

Rules:
- The header is the DayRun field names, in order; days are ``YYYY-MM-DD``, times ISO 8601
  UTC ending in ``Z``, None is an empty cell.
- The file appears complete or not at all: rows go to a temporary file in the target's
  directory, which is fsynced and renamed over the target (then the directory is
  fsynced). On any failure the temporary file is removed.
- OS errors (a missing directory, a full disk, no permission) are one-line
  :class:`~skyhaul.errors.UsageError` naming the file.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from skyhaul.adapters.storage import sync_directory
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
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        try:
            count = _write(rows, temporary)
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        sync_directory(path.parent)
    except OSError as error:
        raise UsageError(f"cannot write ledger CSV {path}: {error.strerror or error}") from error
    return count


def _write(rows: Iterable[DayRun], temporary: Path) -> int:
    """Write the CSV to ``temporary`` (created new, honouring the umask) and fsync it."""
    count = 0
    with temporary.open("x", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(FIELDS)
        for row in rows:
            writer.writerow([_cell(getattr(row, name)) for name in FIELDS])
            count += 1
        stream.flush()
        os.fsync(stream.fileno())
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
