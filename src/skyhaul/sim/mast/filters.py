"""The ``filters`` of ``Mast.Caom.Filtered`` requests, read and applied to rows.

Rules:
- A filter is ``{"paramName": column, "values": [...], "freeText": "...",
  "separator": ";"}``; a row passes when it passes every filter (AND), and a filter
  when its column's value matches any of its values or its ``freeText`` (OR).
- On a continuous column (``vot.datatype`` double or float) a value is a range
  ``{"min": a, "max": b}`` (both ends included) or a number. On the others a value is
  compared as text, ignoring case (a number also as a number, so ``"3"`` matches 3); a
  column with a separator matches when any of its items does.
- ``freeText`` is SQL ``LIKE``: ``%`` any run of characters, ``_`` one; ignoring case.
- A filter with no values and no ``freeText`` constrains nothing.
- Anything else (an unknown column, a value of the wrong shape) raises
  :class:`FilterError`, which the service answers with status ``ERROR``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Row = Mapping[str, object]


class FilterColumn(Protocol):
    """What filtering needs to know of a column (:class:`~skyhaul.sim.mast.columns.Column`)."""

    @property
    def continuous(self) -> bool:
        """Filtered by ``{min, max}`` ranges."""

    @property
    def separator(self) -> str | None:
        """Values hold several items separated by this."""


class FilterError(ValueError):
    """A filter the simulated MAST cannot read (its message goes to the client)."""


@dataclass(frozen=True)
class _Range:
    low: float
    high: float


def compile_filters(filters: object, columns: Mapping[str, FilterColumn]) -> Callable[[Row], bool]:
    """Read a request's ``filters`` and return the test a row must pass.

    Parameters
    ----------
    filters : object
        The ``filters`` parameter as the JSON request holds it (a list of objects).
    columns : Mapping of str to FilterColumn
        The columns that may be filtered, by name.

    Returns
    -------
    callable
        ``accepts(row)``: whether a row (column name to value) passes every filter.

    Raises
    ------
    FilterError
        If a filter cannot be read.
    """
    if filters is None:
        return lambda row: True
    if not isinstance(filters, list):
        raise FilterError("filters must be a list of filter objects")
    tests = [_compile_one(entry, columns) for entry in filters]
    return lambda row: all(test(row) for test in tests)


def _compile_one(entry: object, columns: Mapping[str, FilterColumn]) -> Callable[[Row], bool]:
    if not isinstance(entry, dict) or not isinstance(entry.get("paramName"), str):
        raise FilterError("each filter needs a paramName")
    name = str(entry["paramName"])
    column = columns.get(name)
    if column is None:
        raise FilterError(f"unknown column in filter: {name}")
    values = entry.get("values", [])
    if not isinstance(values, list):
        raise FilterError(f"filter {name}: values must be a list")
    ranges = [_range(name, v) for v in values if isinstance(v, dict)]
    exact = [v for v in values if not isinstance(v, dict)]
    if any(not isinstance(v, str | int | float) or isinstance(v, bool) for v in exact):
        raise FilterError(f"filter {name}: values must be strings, numbers or {{min, max}}")
    if ranges and not column.continuous:
        raise FilterError(f"filter {name}: {{min, max}} ranges need a numeric column")
    free_text = entry.get("freeText")
    if free_text is not None and not isinstance(free_text, str):
        raise FilterError(f"filter {name}: freeText must be a string")
    pattern = _like(free_text) if free_text else None
    separator = entry.get("separator", column.separator)
    if not ranges and not exact and pattern is None:
        return lambda row: True

    def test(row: Row) -> bool:
        value = row.get(name)
        if value is None:
            return False
        if isinstance(value, int | float) and any(r.low <= value <= r.high for r in ranges):
            return True
        items = str(value).split(separator) if isinstance(separator, str) else [str(value)]
        if any(_equal(item.strip(), wanted) for item in items for wanted in exact):
            return True
        return pattern is not None and pattern.fullmatch(str(value)) is not None

    return test


def _range(name: str, value: Mapping[str, object]) -> _Range:
    low, high = value.get("min"), value.get("max")
    try:
        bounds = (_number(low), _number(high))
    except (TypeError, ValueError):
        raise FilterError(f"filter {name}: min and max must be numbers") from None
    return _Range(*bounds)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(value)
    number = float(value)
    if math.isnan(number):
        raise ValueError(value)
    return number


def _equal(item: str, wanted: str | int | float) -> bool:
    if item.casefold() == str(wanted).casefold():
        return True
    try:
        return float(item) == float(wanted)
    except ValueError:
        return False


def _like(pattern: str) -> re.Pattern[str]:
    parts: Sequence[str] = re.split(r"([%_])", pattern)
    regex = "".join(".*" if p == "%" else "." if p == "_" else re.escape(p) for p in parts)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)
