"""A backfill day's artifact already on disk: is it what the ledger recorded, how many records.

Rules:
- An artifact is INTACT only when it is a regular file with the recorded size and sha256;
  the size is compared first and the file hashed only when it matches.
- Counting reads the file in bounded memory: CSV through the csv module (newlines inside
  quoted fields are not rows), JSON one block and one item at a time, Parquet from its
  footer.
- A file that is missing, unreadable or not in the format asked for is a ``DiskError``
  naming it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import stat
from pathlib import Path

import pyarrow.parquet as pq

from skyhaul.adapters.records_output import OutputFormat, unknown_format
from skyhaul.adapters.records_spool import map_read_errors
from skyhaul.core.backfill import ArtifactCheck
from skyhaul.errors import DiskError, UsageError

__all__ = ["check_artifact", "count_records"]

_JSON_BLOCK = 1 << 16
_NOT_SPACE = re.compile(r"\S")


def check_artifact(path: str | None, size: int | None, sha256: str | None) -> ArtifactCheck:
    """Tell whether the artifact a ledger row names is still what was written.

    Returns
    -------
    ArtifactCheck
        MISSING when ``path`` is None or nothing is there; INTACT when a regular file
        there has ``size`` bytes and the ``sha256`` (hashed only when the size matches);
        CHANGED otherwise, including when the row has no size or sha256 to compare.

    Raises
    ------
    DiskError
        The file exists but cannot be read.
    """
    if path is None:
        return ArtifactCheck.MISSING
    file = Path(path)
    try:
        info = file.stat()
    except (FileNotFoundError, NotADirectoryError):
        return ArtifactCheck.MISSING
    except OSError as exc:
        raise DiskError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode) or size is None or sha256 is None or info.st_size != size:
        return ArtifactCheck.CHANGED
    with map_read_errors(file), file.open("rb") as data:
        digest = hashlib.file_digest(data, "sha256").hexdigest()
    return ArtifactCheck.INTACT if digest == sha256.lower() else ArtifactCheck.CHANGED


def count_records(path: str | Path, output_format: OutputFormat) -> int:
    """Count the records of an artifact by reading it (CSV rows, JSON items, Parquet rows).

    Raises
    ------
    DiskError
        The file is missing, unreadable, or not in ``output_format``.
    UsageError
        ``output_format`` is not one of :data:`OUTPUT_FORMATS`.
    """
    file = Path(path)
    with map_read_errors(file):
        try:
            if output_format == "csv":
                with file.open(encoding="utf-8", newline="") as text:
                    return max(sum(1 for _ in csv.reader(text)) - 1, 0)
            if output_format == "json":
                return _count_json_array(file)
            if output_format == "parquet":
                return int(pq.ParquetFile(file).metadata.num_rows)
        except (ValueError, csv.Error) as exc:  # also JSONDecodeError and ArrowInvalid
            raise DiskError(f"{file} is not a readable {output_format} file: {exc}") from None
    raise UsageError(unknown_format(output_format))


def _count_json_array(path: Path) -> int:
    """Count a JSON array's items, reading one block (and one item) at a time."""
    decoder = json.JSONDecoder()
    count = 0
    expect = "["
    with path.open(encoding="utf-8") as text:
        buffer, at, eof = "", 0, False
        while True:
            found = _NOT_SPACE.search(buffer, at)
            at = len(buffer) if found is None else found.start()
            if at == len(buffer):
                if eof:
                    break
                block = text.read(_JSON_BLOCK)
                buffer, at, eof = buffer[at:] + block, 0, not block
                continue
            char = buffer[at]
            if expect == "[":
                if char != "[":
                    raise ValueError("not a JSON array")
                at, expect = at + 1, "first"
            elif expect == "first" and char == "]":
                at, expect = at + 1, "end"
            elif expect in ("first", "item"):
                try:
                    _, end = decoder.raw_decode(buffer, at)
                except json.JSONDecodeError:
                    end = -1
                if (end < 0 or end == len(buffer)) and not eof:
                    block = text.read(_JSON_BLOCK)  # the item may go on in the next block
                    buffer, at, eof = buffer[at:] + block, 0, not block
                    continue
                if end < 0:
                    raise ValueError(f"item {count} is not JSON")
                at, expect, count = end, "separator", count + 1
            elif expect == "separator" and char in ",]":
                at, expect = at + 1, "item" if char == "," else "end"
            else:
                raise ValueError(f"unexpected {char!r} after item {count}")
    if expect != "end":
        raise ValueError("the array is not closed")
    return count
