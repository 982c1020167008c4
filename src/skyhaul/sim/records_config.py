"""The knobs of the records API (``/api/records``): one immutable value, validated when built.

Rules:
- ``RecordsConfig()`` serves 32 sensors of two dosimeters each, a sample every 5 s, no
  gaps, no rate limit and no authentication.
- It travels inside :class:`skyhaul.sim.faults.FaultConfig` (its ``records`` field), so
  it is set and changed live the same ways as every other knob; the knob names are those
  of :data:`RECORDS_KNOBS` (``sensors``, ``cadence`` and ``records_*``).
- The token is a secret: it is left out of ``repr`` and of :meth:`RecordsConfig.to_json`,
  and no error message quotes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from skyhaul.errors import ConfigError
from skyhaul.sim import knobs

MAX_SENSORS = 1000
MIN_CADENCE = 0.001


@dataclass(frozen=True)
class RecordsConfig:
    """What ``/api/records`` serves and how it guards itself."""

    sensors: int = 32
    """Number of sensors (``REACH-150``, ``REACH-151``, ...), each with dosimeters 1 and 2."""

    cadence: float = 5.0
    """Seconds between samples, aligned to the UTC epoch (a whole number of microseconds)."""

    rate: float | None = None
    """Requests per second admitted to ``/api/records`` (a bucket of its own); past it, 429."""

    burst: int = 5
    """Requests admitted back to back above ``rate``."""

    gap: float = 0.0
    """Fraction of samples missing, chosen per sample by a hash (the same on every request)."""

    no_data_days: tuple[date, ...] = ()
    """UTC days with no records at all."""

    malformed_days: tuple[date, ...] = ()
    """UTC days whose windows are answered 200 with a truncated, invalid JSON body."""

    token: str | None = field(default=None, repr=False)
    """When set, requests need ``Authorization: Bearer TOKEN`` or Basic with password TOKEN."""

    def __post_init__(self) -> None:
        _check(1 <= self.sensors <= MAX_SENSORS, f"sensors must be 1..{MAX_SENSORS}")
        _check(self.cadence >= MIN_CADENCE, f"cadence must be at least {MIN_CADENCE} s")
        _check(self.rate is None or self.rate > 0, "records_rate must be > 0")
        _check(self.burst >= 0, "records_burst must be >= 0")
        _check(0.0 <= self.gap <= 1.0, "records_gap must be between 0 and 1")
        _check(self.token is None or self.token != "", "records_token must not be empty")

    @property
    def cadence_us(self) -> int:
        """The cadence in whole microseconds."""
        return round(self.cadence * 1_000_000)

    @staticmethod
    def knows(name: str) -> bool:
        """Whether ``name`` (in any of the forms :meth:`from_mapping` accepts) is a knob
        of this configuration."""
        canonical = knobs.knob_name(name)
        return _ALIASES.get(canonical, canonical) in RECORDS_KNOBS

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], base: RecordsConfig | None = None
    ) -> RecordsConfig:
        """Build a configuration from knob names and values, as given in JSON or on a CLI.

        Parameters
        ----------
        values : Mapping of str to object
            Knob names of :data:`RECORDS_KNOBS` (``records_rate``, ``records-rate`` or
            ``--records-rate``; errors name the knob as given) and values: numbers,
            strings with units (``"20r/s"``, ``"5s"``, ``"2%"``), lists of
            ``YYYY-MM-DD`` days, or ``None`` to switch off ``records_rate``,
            ``records_token`` or a list of days.
        base : RecordsConfig, optional
            Knobs not named in ``values`` keep their value from ``base`` (default: the
            defaults).

        Returns
        -------
        RecordsConfig
            The new configuration.

        Raises
        ------
        skyhaul.errors.ConfigError
            On an unknown knob name or a bad value; the message names the knob.
        """
        parsers = {name: parse for name, (_, parse) in RECORDS_KNOBS.items()}
        parsed = knobs.read_knobs(values, parsers, kind="records", aliases=_ALIASES, off=_OFF)
        changes: dict[str, Any] = {RECORDS_KNOBS[name][0]: v for name, v in parsed.items()}
        return dataclasses.replace(base or cls(), **changes)

    def to_json(self) -> dict[str, object]:
        """Return the knobs by knob name, JSON-ready; the token is left out."""
        shown = {name: getattr(self, attribute) for name, (attribute, _) in RECORDS_KNOBS.items()}
        del shown["records_token"]
        for name in ("records_no_data_days", "records_malformed_days"):
            shown[name] = [day.isoformat() for day in shown[name]]
        return shown


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(f"records knob {message}")


def _parse_sensors(name: str, value: object) -> int:
    count = knobs.parse_count(name, value, minimum=1)
    if count > MAX_SENSORS:
        raise ConfigError(f"{name}: must be at most {MAX_SENSORS}, got {value!r}")
    return count


def _parse_cadence(name: str, value: object) -> float:
    seconds = knobs.parse_duration(name, value)
    if seconds < MIN_CADENCE:
        raise ConfigError(f"{name}: must be at least 1ms, got {value!r}")
    return seconds


def _parse_burst(name: str, value: object) -> int:
    return knobs.parse_count(name, value)


def _parse_token(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name}: expected a non-empty string")  # never quote a secret
    return value.strip()


RECORDS_KNOBS: dict[str, tuple[str, Callable[[str, object], object]]] = {
    "sensors": ("sensors", _parse_sensors),
    "cadence": ("cadence", _parse_cadence),
    "records_rate": ("rate", knobs.parse_rate),
    "records_burst": ("burst", _parse_burst),
    "records_gap": ("gap", knobs.parse_probability),
    "records_no_data_days": ("no_data_days", knobs.parse_dates),
    "records_malformed_days": ("malformed_days", knobs.parse_dates),
    "records_token": ("token", _parse_token),
}
"""Knob name: (attribute of :class:`RecordsConfig`, parser of its value)."""

_ALIASES = {  # the command line's repeatable options
    "records_no_data_day": "records_no_data_days",
    "records_malformed_day": "records_malformed_days",
}
_OFF: dict[str, object] = {  # what null switches a knob to
    "records_rate": None,
    "records_token": None,
    "records_no_data_days": (),
    "records_malformed_days": (),
}
