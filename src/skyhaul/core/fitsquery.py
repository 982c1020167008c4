"""Conditions on the indexed FITS header values: ``INSTRUME=NIRCAM``, ``EXPTIME>=100``.

Rules:
- A condition is ``KEY OP VALUE``: KEY a keyword of
  :data:`~skyhaul.core.fitsheaders.HEADER_COLUMNS` (or its column name), in any case;
  OP one of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``; VALUE read by the column's kind.
- Text compares without regard to case (values are stored upper case); ``*`` in a text
  value matches any run of characters, with ``=`` and ``!=`` only.
- Numbers must be finite. A time is ISO 8601 UTC; a date alone stands for its whole day
  (``DATE-OBS=2022-07-12`` is that day, ``DATE-OBS<=2022-07-12`` up to its end).
- A file without the value matches no condition on it, not even ``!=``.
- ``str(condition)`` reads back as the same condition (job parameters keep them so).
- A bad condition raises ``ValueError`` with one line that quotes it.
- Pure: standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from skyhaul.core.fitsheaders import HEADER_COLUMNS, HeaderColumn, column_for_key
from skyhaul.core.metadata import MetadataKind, parse_metadata_value
from skyhaul.core.timeparse import parse_utc

__all__ = ["OPERATORS", "WILDCARD", "HeaderCondition", "condition_for", "parse_condition"]

#: The operators, longest first (so ``<=`` is not read as ``<``).
OPERATORS = ("<=", ">=", "!=", "=", "<", ">")
#: Matches any run of characters in a text value.
WILDCARD = "*"

ConditionValue = str | float | datetime | date
_FIRST_OPERATOR = re.compile(r"[=!<>]")
_DATE = re.compile(r"\d{4}-(\d{2}-\d{2}|\d{3})")
_KEYS = ", ".join(column.keyword for column in HEADER_COLUMNS)


@dataclass(frozen=True, slots=True)
class HeaderCondition:
    """One condition on an indexed header value.

    Parameters
    ----------
    column : HeaderColumn
        Which value.
    op : str
        One of :data:`OPERATORS`.
    value : str, float, datetime or date
        Upper-case text (may hold :data:`WILDCARD`), a finite float, an aware UTC
        datetime, or a date (its whole day).
    """

    column: HeaderColumn
    op: str
    value: ConditionValue

    @property
    def pattern(self) -> bool:
        """True for a text value with a wildcard."""
        return isinstance(self.value, str) and WILDCARD in self.value

    def __str__(self) -> str:
        value = self.value
        text = value.isoformat() if isinstance(value, date) else str(value)
        return f"{self.column.keyword}{self.op}{text}"


def parse_condition(text: str) -> HeaderCondition:
    """Read ``KEY OP VALUE`` (see the module rules).

    Raises
    ------
    ValueError
        One line quoting ``text``: no operator, an unknown key, no value, a value that
        does not read as the column's kind.
    """
    found = _FIRST_OPERATOR.search(text)
    if found is None:
        raise ValueError(f"{text!r} has no operator: write KEY=VALUE (or !=, <, <=, >, >=)")
    at = found.start()
    op = next(o for o in (*OPERATORS, "!") if text.startswith(o, at))
    if op == "!":
        raise ValueError(f"{text!r}: '!' must be followed by '=' (KEY!=VALUE)")
    key, value = text[:at], text[at + len(op) :]
    return condition_for(key, op, value, quoted=text)


def condition_for(
    key: str, op: str, value: object, *, quoted: str | None = None
) -> HeaderCondition:
    """A condition from its parts; ``value`` text is read as in :func:`parse_condition`,
    a number or a time (``datetime``, ``date``) is taken as it is.

    Raises
    ------
    ValueError
        As :func:`parse_condition` does (``quoted``: the text to quote, default the parts).
    """
    quoted = quoted if quoted is not None else f"{key}{op}{value}"
    column = column_for_key(key)
    if column is None:
        raise ValueError(f"{quoted!r}: unknown key {key.strip()!r}; use one of {_KEYS}")
    if op not in OPERATORS:
        raise ValueError(f"{quoted!r}: unknown operator {op!r}; use one of {' '.join(OPERATORS)}")
    try:
        typed = _typed(column, op, value)
    except ValueError as exc:
        raise ValueError(f"{quoted!r}: {exc}") from None
    return HeaderCondition(column, op, typed)


def _typed(column: HeaderColumn, op: str, value: object) -> ConditionValue:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("no value after the operator")
    if column.kind is MetadataKind.TEXT:
        text = str(value).upper()
        if WILDCARD in text and op not in ("=", "!="):
            raise ValueError(f"a wildcard ({WILDCARD}) works with = and != only")
        return text
    if column.kind is MetadataKind.FLOAT:
        return _number(column, value)
    return _time(column, value)


def _number(column: HeaderColumn, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{column.keyword} takes a number, not {value!r}")
    text = value if isinstance(value, str) else repr(value)
    return float(parse_metadata_value(MetadataKind.FLOAT, text))  # type: ignore[arg-type]


def _time(column: HeaderColumn, value: object) -> datetime | date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone; give a UTC time")
        return parse_utc(value.isoformat())
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{column.keyword} takes a time, not {value!r}")
    moment = parse_utc(value)
    if _DATE.fullmatch(value):
        return moment.date()  # a date alone: its whole day
    return moment
