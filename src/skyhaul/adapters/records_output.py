"""A backfill day's artifact: assembled from its spool as CSV, JSON or Parquet, atomically.

Rules:
- Chunks are read in index order: they are consecutive disjoint windows, each sorted, so
  that is time order. Memory holds one chunk (Parquet: one row group of about
  ``ROW_GROUP_RECORDS``), never the day.
- Columns are every key in first-seen order over the day, known from the spool's survey
  before anything is written. No record at all is ``NoDataError``, and no file.
- CSV: a missing or null value is empty; objects, arrays and booleans are JSON text
  (``{"a":1}``, ``true``). JSON: one array, one record per line. Parquet: int64 when every
  non-null value is an int64 integer, float64 for integers mixed with floats, bool for
  booleans, else string (non-strings as JSON text); the time field, when named, is
  ``timestamp[us, UTC]``.
- The artifact is written through :func:`skyhaul.adapters.storage.atomic_file` while its
  sha256 is computed. On any failure the temporary
  file is removed: a file under ``dest``'s name is always complete, and an older one stays
  until a new one replaces it. OS errors are disk errors naming the path (a full disk is
  ``DiskFullError``).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq

from skyhaul.adapters.records_spool import (
    ChunkSpool,
    SpoolSurvey,
    ValueKind,
    column,
    json_text,
)
from skyhaul.adapters.storage import atomic_file, map_os_errors
from skyhaul.core.timeparse import parse_utc
from skyhaul.errors import DiskError, NoDataError, PayloadError, UsageError

__all__ = [
    "OUTPUT_FORMATS",
    "ROW_GROUP_RECORDS",
    "Artifact",
    "OutputFormat",
    "assemble_day",
    "unknown_format",
]

OutputFormat = Literal["csv", "json", "parquet"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
ROW_GROUP_RECORDS = 65_536
"""A Parquet row group closes at the first chunk boundary after this many records."""

_CSV_AS_JSON = ValueKind.BOOL | ValueKind.NESTED
"""Kinds written to CSV as JSON text (``true``, ``{"a":1}``) rather than by ``str()``."""
_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class Artifact:
    """A day's artifact, complete and durable under its final name.

    Parameters
    ----------
    path : Path
        Where it is (the ``dest`` it was assembled to).
    records : int
        Records in it.
    size : int
        Bytes.
    sha256 : str
        sha256 of its bytes (lower-case hex).
    """

    path: Path
    records: int
    size: int
    sha256: str


def assemble_day(
    spool: ChunkSpool,
    chunk_count: int,
    dest: Path,
    output_format: OutputFormat,
    *,
    time_field: str | None = None,
) -> Artifact:
    """Write chunks ``0 .. chunk_count - 1`` of ``spool`` to ``dest`` in one format.

    Parameters
    ----------
    spool : ChunkSpool
        The day's chunks, all written.
    chunk_count : int
        How many chunks the day has.
    dest : Path
        The artifact's final path; its directory is created if missing, and a file
        already there is replaced only once the new one is complete.
    output_format : {"csv", "json", "parquet"}
        The artifact's format.
    time_field : str or None
        The records' time key; Parquet stores it as ``timestamp[us, UTC]`` (CSV and JSON
        keep the text the API sent). None keeps it a string column.

    Returns
    -------
    Artifact
        The file, its record count, size and sha256.

    Raises
    ------
    NoDataError
        The chunks hold no record (no file is written).
    DiskFullError, DiskError
        A chunk is missing from the spool, or the artifact could not be written.
    UsageError
        ``output_format`` is not one of :data:`OUTPUT_FORMATS`.
    """
    write = _WRITERS.get(output_format)
    if write is None:
        raise UsageError(unknown_format(output_format))
    survey = spool.survey(chunk_count)
    if survey.records == 0:
        raise NoDataError(f"no records in the {chunk_count} chunks of {dest.name}")
    with _replacing(dest) as sink:
        records = write(_Day(spool, chunk_count, survey, time_field, dest), sink.stream)
        if records != survey.records:
            raise DiskError(
                f"spool {spool.directory} changed under {dest.name}: "
                f"{survey.records} records were written to it, {records} read back"
            )
    return Artifact(dest, records, sink.size, sink.hexdigest())


def unknown_format(output_format: str) -> str:
    """Return the message of a ``UsageError`` for a format that is not one of ours."""
    return f"unknown output format {output_format!r} (use {', '.join(OUTPUT_FORMATS)})"


# --- the temporary file -------------------------------------------------------------


class _HashingSink(io.RawIOBase):
    """Pass bytes on to ``target``, hashing and counting every one of them."""

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0
        self.stream = io.BufferedWriter(self, _BUFFER)
        """Buffered writer over the sink: what the format writers write to."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = self._target.write(view)
        self._hash.update(view[:written])
        self.size += written
        return written

    def tell(self) -> int:
        return self.size

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@contextmanager
def _replacing(dest: Path) -> Iterator[_HashingSink]:
    """Yield a hashing sink on a temporary file that becomes ``dest`` on a clean exit."""
    with map_os_errors(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(dest) as target:
            sink = _HashingSink(target)
            try:
                yield sink
                sink.stream.flush()
            finally:
                # Detached, not closed: closing the buffer would close the sink too late
                # (after the target) from a garbage collector.
                with suppress(ValueError, OSError):
                    sink.stream.detach()


# --- the formats ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Day:
    spool: ChunkSpool
    chunk_count: int
    survey: SpoolSurvey
    time_field: str | None
    dest: Path

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        for index in range(self.chunk_count):
            yield list(self.spool.records(index))


def _write_csv(day: _Day, stream: BinaryIO) -> int:
    keys = list(day.survey.columns)
    as_json = {
        key
        for key, kinds in day.survey.columns.items()
        if kinds & (ValueKind.BOOL | ValueKind.NESTED)
    }
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    try:
        out = csv.writer(text, lineterminator="\n")
        out.writerow(keys)
        written = 0
        for records in day.chunks():
            columns = [column(records, key) for key in keys]
            for number, key in enumerate(keys):
                if key in as_json:
                    columns[number] = [_csv_json(value) for value in columns[number]]
            out.writerows(zip(*columns, strict=True))
            written += len(records)
    finally:
        text.detach()
    return written


def _csv_json(value: Any) -> Any:
    if value is True or value is False:
        return "true" if value else "false"
    return json_text(value) if isinstance(value, dict | list) else value


def _write_json(day: _Day, stream: BinaryIO) -> int:
    # The spool's lines are each record's compact JSON already: copied, not re-encoded.
    written = 0
    stream.write(b"[")
    for index in range(day.chunk_count):
        lines = day.spool.json_lines(index)
        if lines:
            stream.write(b",\n" if written else b"\n")
            stream.write(lines[:-1].replace(b"\n", b",\n"))
            written += lines.count(b"\n")
    stream.write(b"\n]\n")
    return written


def _write_parquet(day: _Day, stream: BinaryIO) -> int:
    columns = [_ParquetColumn.of(name, kinds, day) for name, kinds in day.survey.columns.items()]
    schema = pa.schema([pa.field(column.name, column.type) for column in columns])
    writer = pq.ParquetWriter(stream, schema)
    try:
        written = pending_rows = 0
        pending: list[Any] = []
        for records in day.chunks():
            if records:
                pending.append(pa.record_batch([c.array(records) for c in columns], schema=schema))
                pending_rows += len(records)
            if pending_rows >= ROW_GROUP_RECORDS:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
                written += pending_rows
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
            written += pending_rows
    except BaseException:
        with suppress(Exception):
            writer.close()  # else its finalizer writes to a closed stream
        raise
    writer.close()
    return written


@dataclass(frozen=True, slots=True)
class _ParquetColumn:
    name: str
    type: Any
    convert: Callable[[Any], Any] | None
    """Applied to each non-null value (None: values go to Arrow as they are)."""

    @classmethod
    def of(cls, name: str, kinds: ValueKind, day: _Day) -> _ParquetColumn:
        if name == day.time_field:
            return cls(name, pa.timestamp("us", tz="UTC"), _utc_converter(name, day.dest))
        exact = _EXACT_TYPES.get(kinds)
        if exact is not None:
            return cls(name, exact, None)
        return cls(name, pa.string(), _as_text if kinds & ~ValueKind.STR else None)

    def array(self, records: list[dict[str, Any]]) -> Any:
        values, convert = column(records, self.name), self.convert
        if convert is not None:
            values = [None if value is None else convert(value) for value in values]
        return pa.array(values, type=self.type)


# Columns whose kinds are exactly one of these keep a typed column; any other is a string.
_EXACT_TYPES: dict[ValueKind, Any] = {
    ValueKind.BOOL: pa.bool_(),
    ValueKind.INT: pa.int64(),
    ValueKind.FLOAT: pa.float64(),
    ValueKind.INT | ValueKind.FLOAT: pa.float64(),
}


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json_text(value)


def _utc_converter(name: str, dest: Path) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return parse_utc(value)
        except (ValueError, TypeError):
            raise PayloadError(
                f"{dest.name}: a record has {name} {value!r}, not an ISO 8601 time"
            ) from None

    return convert


_WRITERS: dict[str, Callable[[_Day, BinaryIO], int]] = {
    "csv": _write_csv,
    "json": _write_json,
    "parquet": _write_parquet,
}
