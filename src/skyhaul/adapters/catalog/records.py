"""Rows of the files table as :class:`~skyhaul.core.model.FileRecord` values."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column

from skyhaul.adapters.catalog.schema import files
from skyhaul.core.errorclass import ErrorClass
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord

T = TypeVar("T")

# A FileRecord's own fields are positional; its mission metadata is keyword-only.
_POSITIONAL = tuple(f.name for f in dataclasses.fields(FileRecord) if not f.kw_only)
_KEYWORDS = tuple(f.name for f in dataclasses.fields(FileRecord) if f.kw_only)
_FIELDS = (*_POSITIONAL, *_KEYWORDS)
_N_POSITIONAL = len(_POSITIONAL)

#: The files columns a FileRecord is made of: its positional fields, then its keywords.
RECORD_COLUMNS: list[Column[Any]] = [files.c[name] for name in _FIELDS]

_ERROR_CLASSES = {e.value: e for e in ErrorClass}

#: Rows per statement when a list of ids or values becomes bound parameters
#: (SQLite allows 32,766 per statement, PostgreSQL 65,535).
CHUNK = 2_000


_STATE = _FIELDS.index("state")
_ERROR_CLASS = _FIELDS.index("error_class")
_MIRRORS = _FIELDS.index("mirrors")


def encode_urls(urls: Sequence[str]) -> str | None:
    """A file's mirrors as stored (a JSON list; None for none)."""
    return json.dumps(list(urls)) if urls else None


def decode_urls(text: str | None) -> tuple[str, ...]:
    """The mirrors stored as :func:`encode_urls` wrote them."""
    return tuple(json.loads(text)) if text else ()


def to_record(row: Any) -> FileRecord:
    """Build a FileRecord from a row of exactly :data:`RECORD_COLUMNS`, in that order."""
    values = list(row)
    values[_STATE] = FileState(values[_STATE])
    values[_ERROR_CLASS] = error_class(values[_ERROR_CLASS])
    values[_MIRRORS] = decode_urls(values[_MIRRORS])
    keywords = dict(zip(_KEYWORDS, values[_N_POSITIONAL:], strict=True))
    return FileRecord(*values[:_N_POSITIONAL], **keywords)


def error_class(value: str | None) -> Any:
    """Return the ErrorClass stored as ``value`` (text the enum does not know stays text,
    so a newer writer's class never breaks an older reader)."""
    return None if value is None else _ERROR_CLASSES.get(value, value)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
