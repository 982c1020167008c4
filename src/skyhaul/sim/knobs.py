"""Parsers for the simulator's knob values, shared by the command line and the JSON API.

Rules:
- Every parser accepts what a person types (``"64KiB"``, ``"200ms"``, ``"10r/s"``,
  ``"5%"``) and what JSON carries (numbers, booleans), and returns one plain value.
- A bad value raises :class:`skyhaul.errors.ConfigError` with a one-line message naming
  the knob; parsers never print and never exit.
- Binary units (``KiB``, ``MiB``, ``GiB``, and bare ``K``, ``M``, ``G``) are powers of
  1024; decimal units (``kB``, ``MB``, ``GB``) are powers of 1000.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

from skyhaul.errors import ConfigError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}
_NUMBER_UNIT = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z%/]*)\s*$")
_DURATION_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "m": 60.0, "min": 60.0}
_RATE_UNITS = {"": 1.0, "r/s": 1.0, "/s": 1.0, "r/m": 1 / 60, "/m": 1 / 60, "r/min": 1 / 60}


def knob_name(raw: str) -> str:
    """The canonical form of a knob name: ``--rate-limit`` and ``rate-limit`` give
    ``rate_limit``."""
    return raw.strip().lstrip("-").replace("-", "_")


def read_knobs(
    values: Mapping[str, object],
    parsers: Mapping[str, Callable[[str, object], object]],
    *,
    kind: str,
    aliases: Mapping[str, str] | None = None,
    off: Mapping[str, object] | None = None,
    known: Iterable[str] = (),
) -> dict[str, object]:
    """Read knobs given by name, as a command line or a JSON object gives them.

    Parameters
    ----------
    values : Mapping of str to object
        Knob names in any form :func:`knob_name` accepts, and their values; ``None``
        switches a knob off.
    parsers : Mapping of str to callable
        The parser of each canonical knob name, called as ``parser(name_as_given, value)``.
    kind : str
        What the knobs are (``"fault"``), for the unknown-knob message.
    aliases : Mapping of str to str, optional
        Other canonical names of some knobs (a repeatable option's singular).
    off : Mapping of str to object, optional
        The value ``None`` gives each knob that may be switched off.
    known : Iterable of str, optional
        More names to list as known in the unknown-knob message.

    Returns
    -------
    dict of str to object
        The parsed values by canonical knob name.

    Raises
    ------
    skyhaul.errors.ConfigError
        On an unknown name, a ``None`` for a knob that cannot be switched off, or a bad
        value; the message names the knob as given.
    """
    aliases, off = aliases or {}, off or {}
    parsed: dict[str, object] = {}
    for raw_name, value in values.items():
        name = knob_name(raw_name)
        name = aliases.get(name, name)
        parser = parsers.get(name)
        if parser is None:
            names = ", ".join(sorted({*parsers, *known}))
            raise ConfigError(f"unknown {kind} knob {raw_name!r} (known: {names})")
        if value is None and name in off:
            parsed[name] = off[name]
        elif value is None:
            raise ConfigError(f"{raw_name}: cannot be switched off with null")
        else:
            parsed[name] = parser(raw_name, value)
    return parsed


def _split(name: str, value: object) -> tuple[float, str]:
    """Split ``value`` into a finite non-negative number and its lower-cased unit."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _NUMBER_UNIT.match(value)
        if match is None:
            raise ConfigError(f"{name}: cannot read {value!r} as a number with a unit")
        number, unit = float(match.group(1)), match.group(2).lower()
    else:
        raise ConfigError(f"{name}: expected a number or a string, got {value!r}")
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{name}: must be a finite number >= 0, got {value!r}")
    return number, unit


def parse_size(name: str, value: object) -> int:
    """Read a byte count such as ``1048576``, ``"64KiB"``, ``"1.5MB"`` or ``"2G"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A number of bytes, or a string with an optional unit.

    Returns
    -------
    int
        The size in bytes (rounded to the nearest byte).

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a non-negative size.
    """
    number, unit = _split(name, value)
    unit = unit.removesuffix("/s")
    if unit not in _SIZE_UNITS:
        raise ConfigError(f"{name}: unknown size unit {unit!r} in {value!r} (use KiB, MiB, GiB)")
    return round(number * _SIZE_UNITS[unit])


def parse_duration(name: str, value: object) -> float:
    """Read a duration in seconds such as ``0.25``, ``"250ms"`` or ``"2s"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A number of seconds, or a string with unit ``s``, ``ms``, ``us`` or ``min``.

    Returns
    -------
    float
        The duration in seconds.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a non-negative duration.
    """
    number, unit = _split(name, value)
    if unit not in _DURATION_UNITS:
        raise ConfigError(f"{name}: unknown duration unit {unit!r} in {value!r} (use s or ms)")
    return number * _DURATION_UNITS[unit]


def parse_rate(name: str, value: object) -> float:
    """Read a request rate in requests per second: ``10``, ``"10r/s"`` or ``"600r/m"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A number of requests per second, or an nginx-style string.

    Returns
    -------
    float
        The rate in requests per second; always greater than zero.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a positive rate.
    """
    number, unit = _split(name, value)
    if unit not in _RATE_UNITS:
        raise ConfigError(f"{name}: unknown rate unit {unit!r} in {value!r} (use r/s or r/m)")
    rate = number * _RATE_UNITS[unit]
    if rate <= 0:
        raise ConfigError(f"{name}: must be greater than zero, got {value!r}")
    return rate


def parse_probability(name: str, value: object) -> float:
    """Read a probability: ``0.1`` or ``"10%"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A number between 0 and 1, or a percentage string.

    Returns
    -------
    float
        The probability, between 0 and 1 inclusive.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not between 0 and 1 (or 0% and 100%).
    """
    number, unit = _split(name, value)
    if unit == "%":
        number /= 100
    elif unit:
        raise ConfigError(f"{name}: unknown unit {unit!r} in {value!r} (use 0.1 or 10%)")
    if number > 1:
        raise ConfigError(f"{name}: a probability must be between 0 and 1, got {value!r}")
    return number


def parse_count(name: str, value: object, minimum: int = 0) -> int:
    """Read a whole number that is at least ``minimum``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        An integer, or a string of digits.
    minimum : int, optional
        The smallest value accepted.

    Returns
    -------
    int
        The number.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a whole number at least ``minimum``.
    """
    number, unit = _split(name, value)
    if unit or number != int(number):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value!r}")
    return int(number)


def parse_flag(name: str, value: object) -> bool:
    """Read a boolean: JSON ``true``/``false`` or ``"yes"``, ``"no"``, ``"1"``, ``"0"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        The value to read.

    Returns
    -------
    bool
        The flag.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a recognisable boolean.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def parse_status(name: str, value: object) -> int:
    """Read an HTTP status code between 300 and 599.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        The status code.

    Returns
    -------
    int
        The status code.

    Raises
    ------
    skyhaul.errors.ConfigError
        If the value is not a status code between 300 and 599.
    """
    status = parse_count(name, value)
    if not 300 <= status <= 599:
        raise ConfigError(f"{name}: a failure status must be between 300 and 599, got {value!r}")
    return status


def parse_fail_paths(name: str, value: object) -> dict[str, int]:
    """Read the paths that always fail, with their status codes.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A mapping ``{path: status}``, or a list of ``"path=status"`` strings (the
        command-line form; a comma also separates entries in one string).

    Returns
    -------
    dict of str to int
        Archive-relative paths (no leading slash) and their status codes.

    Raises
    ------
    skyhaul.errors.ConfigError
        If an entry has no ``=``, an empty path, or a bad status.
    """
    pairs: list[tuple[object, object]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str | list | tuple):
        items = value.split(",") if isinstance(value, str) else list(value)
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            item_path, sep, item_status = text.rpartition("=")
            if not sep:
                raise ConfigError(f"{name}: expected PATH=STATUS, got {text!r}")
            pairs.append((item_path, item_status))
    else:
        raise ConfigError(f"{name}: expected a mapping of path to status, got {value!r}")
    result: dict[str, int] = {}
    for path, status in pairs:
        clean = str(path).strip().lstrip("/")
        if not clean:
            raise ConfigError(f"{name}: empty path in {value!r}")
        result[clean] = parse_status(f"{name} {clean}", status)
    return result


def parse_dates(name: str, value: object) -> tuple[date, ...]:
    """Read a list of UTC days: ``["2024-01-03", "2024-01-05"]`` or ``"2024-01-03,2024-01-05"``.

    Parameters
    ----------
    name : str
        The knob's name, used in error messages.
    value : object
        A ``YYYY-MM-DD`` string (a comma separates several), a :class:`datetime.date`,
        or a list of either (the command line's repeatable option).

    Returns
    -------
    tuple of datetime.date
        The days, sorted, each once.

    Raises
    ------
    skyhaul.errors.ConfigError
        If an entry is not a ``YYYY-MM-DD`` date.
    """
    items = list(value) if isinstance(value, list | tuple) else [value]
    days: set[date] = set()
    for item in items:
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        if not isinstance(item, str):
            raise ConfigError(f"{name}: expected a YYYY-MM-DD date, got {item!r}")
        for text in (t.strip() for t in item.split(",")):
            if not text:
                continue
            try:
                days.add(date.fromisoformat(text))
            except ValueError:
                raise ConfigError(f"{name}: expected a YYYY-MM-DD date, got {text!r}") from None
    return tuple(sorted(days))
