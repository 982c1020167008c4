"""Mission metadata: what a file says about its observation, declared once.

Rules:
- :class:`MissionMetadata` is the one list of the fields. Every layer derives from it:
  :class:`~skyhaul.core.model.FileSpec` and :class:`~skyhaul.core.model.FileRecord`
  inherit it, and the catalog's columns, registration, the manifest's columns and the
  listings read :data:`METADATA_KINDS`. A field added here reaches all of them; a test
  fails if a layer lists the fields by hand.
- Every field is optional (``None``: not known) and keyword-only, so the classes that
  inherit it keep their own positional parameters.
- A field's kind follows from its type: ``str`` is text, ``datetime`` a UTC time
  (timezone-aware), ``float`` and ``int`` numbers. A field of any other type fails at
  import, before any layer can store it wrongly.
- Raw text (a manifest cell, a listing's value) is parsed by kind; a bad value raises
  :class:`MetadataValueError`, which names the field and says what is wrong in one line.
- Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from skyhaul.core.timeparse import parse_utc

__all__ = [
    "METADATA_KINDS",
    "METADATA_NAMES",
    "MetadataKind",
    "MetadataValueError",
    "MissionMetadata",
    "metadata_of",
    "parse_metadata",
    "parse_metadata_value",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionMetadata:
    """The mission metadata of a file; every value is optional (None: not known)."""

    instrument: str | None = None
    """The instrument that took the data (stored upper case by the catalog)."""
    obs_start: datetime | None = None
    """Start of the observation (UTC)."""
    obs_end: datetime | None = None
    """End of the observation (UTC); without it the observation is an instant."""
    downlink_time: datetime | None = None
    """When the data reached the ground (UTC)."""
    slot: str | None = None
    """The ground-station pass (:class:`~skyhaul.core.model.Slot` name) that downlinked it."""


class MetadataKind(Enum):
    """How a field's values are stored, parsed and shown."""

    TEXT = "text"
    TIME = "time"
    """A timezone-aware UTC datetime (ISO 8601 as text)."""
    FLOAT = "float"
    INT = "int"


_KIND_OF_TYPE: dict[object, MetadataKind] = {
    str: MetadataKind.TEXT,
    datetime: MetadataKind.TIME,
    float: MetadataKind.FLOAT,
    int: MetadataKind.INT,
}


def _kinds(cls: type) -> dict[str, MetadataKind]:
    """Each field of ``cls`` and its kind, in declaration order (``T | None`` fields only)."""
    hints = typing.get_type_hints(cls)
    kinds: dict[str, MetadataKind] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
        values = [arg for arg in args if arg is not type(None)]
        kind = _KIND_OF_TYPE.get(values[0]) if len(args) == 2 and len(values) == 1 else None
        if kind is None or f.default is not None:
            raise TypeError(
                f"mission metadata field {f.name}: {hint} = {f.default!r} is not one of "
                "str, datetime, float or int, optional and None by default"
            )
        kinds[f.name] = kind
    return kinds


#: Every field's kind, in declaration order (the order of the catalog's columns).
METADATA_KINDS: Mapping[str, MetadataKind] = types.MappingProxyType(_kinds(MissionMetadata))

#: The fields' names, in declaration order.
METADATA_NAMES: tuple[str, ...] = tuple(METADATA_KINDS)


class MetadataValueError(ValueError):
    """A raw value that is not valid for its field.

    The message says what is wrong with the value (as :func:`parse_metadata_value` does);
    ``field`` names the field, for callers that name it in their own messages.

    Parameters
    ----------
    field : str
        The field's name.
    message : str
        What is wrong, quoting the value.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def metadata_of(item: MissionMetadata) -> dict[str, Any]:
    """Return the mission metadata of ``item`` (a FileSpec, a FileRecord) by field name."""
    return {name: getattr(item, name) for name in METADATA_NAMES}


def _text(text: str) -> str:
    return text


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a number")
    return value


def _int(text: str) -> int:
    stripped = text.strip().removeprefix("-")
    if not (stripped.isascii() and stripped.isdecimal()):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


_PARSERS: dict[MetadataKind, Callable[[str], object]] = {
    MetadataKind.TEXT: _text,
    MetadataKind.TIME: parse_utc,
    MetadataKind.FLOAT: _float,
    MetadataKind.INT: _int,
}

# Looked up once per field here rather than per value (manifests have millions of cells).
_FIELD_PARSERS = tuple((name, _PARSERS[kind]) for name, kind in METADATA_KINDS.items())


def parse_metadata_value(kind: MetadataKind, text: str) -> object:
    """Parse the text of one value of a field of ``kind``.

    Parameters
    ----------
    kind : MetadataKind
        The field's kind.
    text : str
        The value as written (not empty; the caller maps blanks to None).

    Returns
    -------
    object
        ``text`` itself for TEXT, an aware UTC datetime for TIME (see
        :func:`~skyhaul.core.timeparse.parse_utc`), a finite float, an int.

    Raises
    ------
    ValueError
        One line quoting ``text``, for example
        ``'noon' is not an ISO 8601 date or time (e.g. ...)``.
    """
    return _PARSERS[kind](text)


def parse_metadata(text_of: Callable[[str], str | None]) -> dict[str, Any]:
    """Parse the mission metadata of one raw record, field by field in declaration order.

    Parameters
    ----------
    text_of : callable
        Returns a field's raw text given its name, or None when the record has none
        (a blank value is the caller's None).

    Returns
    -------
    dict
        Every field by name (None where unknown), ready for ``FileSpec(..., **values)``.

    Raises
    ------
    MetadataValueError
        At the first invalid value; its message is that of
        :func:`parse_metadata_value` and its ``field`` names the field.
    """
    values: dict[str, Any] = {}
    for name, parse in _FIELD_PARSERS:
        text = text_of(name)
        if text is None:
            values[name] = None
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            raise MetadataValueError(name, str(exc)) from None
    return values
