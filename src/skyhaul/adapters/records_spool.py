"""Records of one backfill day: check each chunk's answer, then spool it to disk.

Rules:
- A chunk answer is a JSON array of objects, each with an ISO 8601 time in the source's
  time field (``Z``, ``+00:00`` or no offset, which means UTC). Anything else is a
  ``PayloadError`` naming the place: a malformed answer is never "no data".
- Records outside the chunk's half-open window ``[start, end)`` are dropped (APIs with
  inclusive range ends return the boundary sample twice); the rest are sorted by time,
  stably.
- Chunks arrive in any order; each lands as JSON Lines in ``chunk-NNNNN.jsonl``, written
  to a temporary name and renamed, so a chunk file is always whole. They are not fsynced:
  only the day's final artifact is.
- A spool lives for one run of one day and reads back only the chunks it wrote (files an
  interrupted run left are ignored until ``clear`` removes them). For each chunk it
  remembers the record count and the kinds of value each key held, so the day's columns
  and types cost no second read of the spool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag
from functools import partial
from itertools import chain, repeat
from operator import is_not, itemgetter
from pathlib import Path
from typing import Any

from skyhaul.adapters.storage import map_os_errors
from skyhaul.core.timeparse import parse_utc
from skyhaul.errors import DiskError, PayloadError

__all__ = [
    "ChunkSpool",
    "SpoolSurvey",
    "ValueKind",
    "column",
    "json_text",
    "map_read_errors",
    "parse_chunk",
]


class ValueKind(IntFlag):
    """The kinds of JSON value a column held over a day (null adds no flag)."""

    BOOL = 1
    INT = 2
    """Integers, every one within int64."""
    BIG_INT = 4
    """Integers, some outside int64 (then INT is not set for the same records)."""
    FLOAT = 8
    STR = 16
    NESTED = 32
    """An object or an array."""


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Plain ints while profiling: IntFlag arithmetic is far slower.
_KIND_OF_TYPE: dict[type, int] = {
    bool: ValueKind.BOOL.value,
    int: ValueKind.INT.value,
    float: ValueKind.FLOAT.value,
    str: ValueKind.STR.value,
    dict: ValueKind.NESTED.value,
    list: ValueKind.NESTED.value,
    type(None): 0,
}
_CHUNK_NAME = re.compile(r"\.?chunk-\d+\.jsonl(\.tmp)?")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number"}


@contextmanager
def map_read_errors(where: Path) -> Iterator[None]:
    """Translate OSError raised while reading ``where`` to ``DiskError`` naming it."""
    try:
        yield
    except FileNotFoundError:
        raise DiskError(f"{where} is missing") from None
    except OSError as exc:
        raise DiskError(f"cannot read {where}: {exc.strerror or exc}") from exc


def json_text(value: Any) -> str:
    """Return ``value`` as compact JSON text (how nested values are written in a cell)."""
    return _ENCODER.encode(value)


def parse_chunk(
    body: bytes, *, time_field: str, window: tuple[datetime, datetime], where: str
) -> list[dict[str, Any]]:
    """Parse one chunk's answer into its records inside ``window``, in time order.

    Parameters
    ----------
    body : bytes
        The answer: a JSON array of objects.
    time_field : str
        The key holding each record's ISO 8601 time (e.g. ``obTime``).
    window : tuple of datetime
        The chunk's half-open window ``[start, end)``, timezone-aware.
    where : str
        Names the source and the window in error messages.

    Returns
    -------
    list of dict
        The records whose time falls in the window, sorted by time (stable); the
        records themselves are unchanged (their time stays the text the API sent).

    Raises
    ------
    PayloadError
        The answer is not JSON, not an array, holds something other than an object, or
        a record has no readable time. The one-line message starts with ``where``.
    """
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(f"{where}: the answer is not JSON ({exc})") from None
    if not isinstance(answer, list):
        raise PayloadError(
            f"{where}: the answer is a JSON {_json_name(answer)}, not an array of records"
        )
    start, end = window
    timed: list[tuple[datetime, dict[str, Any]]] = []
    for number, record in enumerate(answer):
        if not isinstance(record, dict):
            raise PayloadError(
                f"{where}: record {number} is a JSON {_json_name(record)}, not an object"
            )
        time = _record_time(record, time_field, f"{where}: record {number}")
        if start <= time < end:
            timed.append((time, record))
    timed.sort(key=itemgetter(0))
    return [record for _, record in timed]


def _record_time(record: dict[str, Any], time_field: str, where: str) -> datetime:
    if time_field not in record:
        raise PayloadError(f"{where} has no {time_field}")
    text = record[time_field]
    if isinstance(text, str):
        try:
            return parse_utc(text)
        except ValueError:
            pass
    shown = repr(text) if len(repr(text)) <= 60 else repr(text)[:57] + "..."
    raise PayloadError(f"{where} has {time_field} {shown}, not an ISO 8601 time")


def _json_name(value: Any) -> str:
    return "null" if value is None else _JSON_NAMES.get(type(value), "number")


@dataclass(frozen=True, slots=True)
class SpoolSurvey:
    """What a day's chunks hold, known without reading them back.

    Parameters
    ----------
    records : int
        Records in the chunks surveyed.
    columns : dict of str to ValueKind
        Every key, in first-seen order over the chunks in index order, with the kinds
        of value it held (empty when it was always null).
    """

    records: int
    columns: dict[str, ValueKind]


@dataclass(frozen=True, slots=True)
class _ChunkProfile:
    records: int
    kinds: dict[str, int]


class ChunkSpool:
    """A directory of one day's chunks, written in any order and read back by index.

    ``write`` may be called from several threads at once for different indices.

    Parameters
    ----------
    directory : Path
        The day's spool directory, created by the first ``write``. Files an earlier run
        left there are never read (the spool reads only chunks it wrote); ``clear``
        removes them.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._profiles: dict[int, _ChunkProfile] = {}

    def chunk_path(self, index: int) -> Path:
        """Return the file of chunk ``index`` (zero-padded, so names sort in index order)."""
        if index < 0:
            raise ValueError(f"chunk index must be >= 0, got {index}")
        return self.directory / f"chunk-{index:05d}.jsonl"

    @property
    def count(self) -> int:
        """Records written so far (a chunk written again counts once, with its new records)."""
        return sum(profile.records for profile in list(self._profiles.values()))

    def write(self, index: int, records: list[dict[str, Any]]) -> None:
        """Store chunk ``index`` as JSON Lines, replacing any earlier version atomically.

        Raises
        ------
        DiskFullError, DiskError
            The chunk could not be written (the message names the file).
        """
        final = self.chunk_path(index)
        temp = final.with_name(f".{final.name}.tmp")
        data = "".join(map(_json_line, records)).encode()
        try:
            with map_os_errors(final):
                self.directory.mkdir(parents=True, exist_ok=True)
                temp.write_bytes(data)
                temp.replace(final)
        except BaseException:
            with suppress(OSError):  # the error that matters is the one raised
                temp.unlink(missing_ok=True)
            raise
        self._profiles[index] = _ChunkProfile(len(records), _profile(records))

    def json_lines(self, index: int) -> bytes:
        """Return chunk ``index`` as written: each record's compact JSON, then a newline.

        Raises
        ------
        DiskError
            The chunk was never written or its file is gone or unreadable.
        """
        path = self.chunk_path(index)
        if index not in self._profiles:
            raise DiskError(f"spool {self.directory} has no chunk {index}")
        with map_read_errors(path):
            return path.read_bytes()

    def records(self, index: int) -> Iterator[dict[str, Any]]:
        """Return an iterator over chunk ``index``'s records, in the order they were written.

        The chunk is read and decoded at once (one chunk is what memory holds).

        Raises
        ------
        DiskError
            The chunk was never written or its file is gone or unreadable.
        """
        lines = self.json_lines(index).rstrip(b"\n")
        # A JSON text holds no raw newline, so the lines joined by commas are an array.
        records: list[dict[str, Any]] = json.loads(b"[" + lines.replace(b"\n", b",") + b"]")
        return iter(records)

    def survey(self, chunk_count: int) -> SpoolSurvey:
        """Return the records and columns of chunks ``0 .. chunk_count - 1``.

        Raises
        ------
        DiskError
            A chunk in that range was never written.
        """
        records = 0
        columns: dict[str, int] = {}
        for index in range(chunk_count):
            profile = self._profiles.get(index)
            if profile is None:
                raise DiskError(f"spool {self.directory} has no chunk {index}")
            records += profile.records
            for key, kinds in profile.kinds.items():
                columns[key] = columns.get(key, 0) | kinds
        return SpoolSurvey(records, {key: ValueKind(kinds) for key, kinds in columns.items()})

    def clear(self) -> None:
        """Forget every chunk and remove the chunk files, including those of earlier runs.

        The directory goes too, unless files the spool did not write are in it.
        """
        self._profiles.clear()
        with map_os_errors(self.directory):
            if not self.directory.is_dir():
                return
            for path in self.directory.iterdir():
                if _CHUNK_NAME.fullmatch(path.name):
                    path.unlink(missing_ok=True)
        with suppress(OSError):
            self.directory.rmdir()


def _json_line(record: dict[str, Any]) -> str:
    return _ENCODER.encode(record) + "\n"


def _profile(records: list[dict[str, Any]]) -> dict[str, int]:
    """Map each key, in first-seen order, to the kinds of value it holds."""
    kinds: dict[str, int] = {}
    # Column by column, so that the loops over records run in C (map, set, min, max).
    for key in dict.fromkeys(chain.from_iterable(records)):
        values = column(records, key)
        types = set(map(type, values))
        kind = 0
        for value_type in types:
            kind |= _KIND_OF_TYPE.get(value_type, ValueKind.STR.value)
        if int in types:
            ints = (
                list(filter(partial(is_not, None), values))
                if types <= {int, type(None)}
                else [value for value in values if type(value) is int]
            )
            if min(ints) < _INT64_MIN or max(ints) > _INT64_MAX:
                kind = kind & ~ValueKind.INT.value | ValueKind.BIG_INT.value
        kinds[key] = kind
    return kinds


def column(records: list[dict[str, Any]], key: str) -> list[Any]:
    """Return each record's value for ``key`` (None where it has none)."""
    return list(map(dict.get, records, repeat(key)))
