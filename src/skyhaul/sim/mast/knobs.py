"""The simulated MAST's own knobs: one immutable value, changed live by replacing it.

Rules:
- Every knob is off (MAST behaves) by default: ``MastKnobs()``.
- Query knobs: ``executing_polls`` (answer ``EXECUTING`` to the first k polls of each
  request, counted by its exact text, before answering it), ``error_services`` (these
  services, or ``*`` for all, answer status ``ERROR``) and ``error_next`` (the next n
  requests to ``/api/v0/invoke`` answer ``ERROR``, whatever their service).
- ``Download/file`` knobs: ``etag``, ``last_modified`` (send those headers) and
  ``ranges`` (send ``Accept-Ranges`` and honour ``Range``); all on by default. The
  server-wide fault knobs (:class:`skyhaul.sim.faults.FaultConfig`) apply there too.
- Values are read by :meth:`MastKnobs.from_mapping` with the parsers of
  :mod:`skyhaul.sim.knobs` (``snake_case`` or ``kebab-case`` names); a bad one raises
  :class:`skyhaul.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from skyhaul.errors import ConfigError
from skyhaul.sim import knobs


@dataclass(frozen=True)
class MastKnobs:
    """How the simulated MAST misbehaves. All off by default."""

    executing_polls: int = 0
    """Answer ``EXECUTING`` to the first this many polls of each request."""

    error_services: frozenset[str] = frozenset()
    """Services (``Mast.Caom.Cone``, ...; ``*`` for all) that answer status ``ERROR``."""

    error_next: int = 0
    """The next this many ``/api/v0/invoke`` requests answer status ``ERROR``."""

    etag: bool = True
    """``Download/file`` sends an ``ETag``."""

    last_modified: bool = True
    """``Download/file`` sends a ``Last-Modified``."""

    ranges: bool = True
    """``Download/file`` sends ``Accept-Ranges: bytes`` and honours ``Range``."""

    def __post_init__(self) -> None:
        if self.executing_polls < 0 or self.error_next < 0:
            raise ConfigError("MAST knobs executing_polls and error_next must be >= 0")

    def fails(self, service: str) -> bool:
        """Whether ``service`` always answers ``ERROR``."""
        return "*" in self.error_services or service in self.error_services

    @classmethod
    def from_mapping(cls, values: Mapping[str, object], base: MastKnobs | None = None) -> MastKnobs:
        """Build knobs from names and values, as JSON or a command line gives them.

        Parameters
        ----------
        values : Mapping of str to object
            Knob names (any form :func:`skyhaul.sim.knobs.knob_name` accepts, with or
            without a ``mast_`` prefix, as the command line gives them) and values;
            ``error_services`` takes a list of names or one comma-separated string.
        base : MastKnobs, optional
            Knobs not named keep their value from ``base`` (default: all off).

        Returns
        -------
        MastKnobs
            The new knobs.

        Raises
        ------
        skyhaul.errors.ConfigError
            On an unknown knob or a bad value; the message names it.
        """
        changes: dict[str, Any] = knobs.read_knobs(values, _PARSERS, kind="MAST", aliases=_ALIASES)
        return dataclasses.replace(base or cls(), **changes)

    def to_json(self) -> dict[str, object]:
        """The knobs as a JSON-ready mapping (the form ``/_sim/mast/knobs`` shows)."""
        data = dataclasses.asdict(self)
        data["error_services"] = sorted(self.error_services)
        return data


def _parse_services(name: str, value: object) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not all(
        isinstance(item, str) for item in items
    ):
        raise ConfigError(f"{name}: expected service names, got {value!r}")
    return frozenset(item.strip() for item in items if item.strip())


_PARSERS: dict[str, Callable[[str, object], object]] = {
    "executing_polls": knobs.parse_count,
    "error_services": _parse_services,
    "error_next": knobs.parse_count,
    "etag": knobs.parse_flag,
    "last_modified": knobs.parse_flag,
    "ranges": knobs.parse_flag,
}
# The command line's --mast-* options, and its repeatable --mast-error-service.
_ALIASES = {f"mast_{name}": name for name in _PARSERS} | {
    "error_service": "error_services",
    "mast_error_service": "error_services",
}
