"""The simulator's fault knobs: one immutable value, validated when built.

Rules:
- Every knob is off by default: ``FaultConfig()`` is a well-behaved archive.
- A ``FaultConfig`` is a value; changing knobs live means building a new one
  (:meth:`FaultConfig.merged`) and handing it to the running server.
- Knobs read from the command line or JSON go through :meth:`FaultConfig.from_mapping`,
  which accepts ``snake_case`` and ``kebab-case`` names and the units of
  :mod:`skyhaul.sim.knobs`; a bad knob raises :class:`skyhaul.errors.ConfigError`.
- What a knob *does* to a request is decided in :mod:`skyhaul.sim.decisions`.
- The knobs of ``/api/records`` live in :class:`skyhaul.sim.records_config.RecordsConfig`,
  carried here as ``records``; :meth:`FaultConfig.from_mapping` hands their names on to it,
  and :meth:`FaultConfig.to_json` shows them flat, beside the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skyhaul.errors import ConfigError
from skyhaul.sim import knobs
from skyhaul.sim.records_config import RECORDS_KNOBS, RecordsConfig


@dataclass(frozen=True)
class FaultConfig:
    """How badly the simulated archive behaves. All knobs are off by default."""

    seed: int = 0
    """Seed of the random generator behind every probabilistic knob."""

    latency: float = 0.0
    """Seconds to wait before answering each request."""

    bandwidth: int | None = None
    """Bytes per second for each response body (so per connection); ``None``: unpaced."""

    rate_limit: float | None = None
    """Requests per second admitted (nginx ``limit_req`` with ``nodelay``); past it, 429."""

    burst: int = 0
    """Requests admitted back to back above the rate (nginx ``burst``)."""

    retry_after: float | None = None
    """Seconds sent in ``Retry-After`` with a 429 (rounded up); ``None``: no header."""

    p503: float = 0.0
    """Probability that a request is answered 503 Service Unavailable."""

    retry_after_503: float | None = None
    """Seconds sent in ``Retry-After`` with a random 503 (rounded up); ``None``: no header."""

    drop_after: int | None = None
    """Close the connection after this many body bytes; ``None``: never."""

    p_drop: float = 1.0
    """Probability that ``drop_after`` applies to a request (1.0: every request)."""

    corrupt: float = 0.0
    """Probability that a body has a few bytes flipped (Content-Length is kept)."""

    ignore_range: bool = False
    """Ignore ``Range`` and always answer 200 with the full body."""

    change_every: int | None = None
    """Each file gets new content (a new generation) after every this many requests."""

    p_change: float = 0.0
    """Probability that a request for a file first gives it new content."""

    fail_paths: Mapping[str, int] = field(default_factory=dict)
    """Archive paths (``raw/...``) that always answer with the given status (a 429 or 503
    with ``retry_after`` in ``Retry-After``, when set)."""

    no_digest: bool = False
    """Leave out the ``Repr-Digest`` header."""

    faults_on_api: bool = False
    """Apply latency, rate limit, random 503 and fail paths to ``/api/`` as well."""

    records: RecordsConfig = field(default_factory=RecordsConfig)
    """The knobs of ``/api/records`` (its own rate limit, gaps, bad days, token)."""

    def __post_init__(self) -> None:
        _check(self.latency >= 0, "latency must be >= 0")
        _check(self.bandwidth is None or self.bandwidth > 0, "bandwidth must be > 0")
        _check(self.rate_limit is None or self.rate_limit > 0, "rate_limit must be > 0")
        _check(self.burst >= 0, "burst must be >= 0")
        _check(self.retry_after is None or self.retry_after >= 0, "retry_after must be >= 0")
        _check(
            self.retry_after_503 is None or self.retry_after_503 >= 0,
            "retry_after_503 must be >= 0",
        )
        _check(self.drop_after is None or self.drop_after >= 0, "drop_after must be >= 0")
        _check(self.change_every is None or self.change_every >= 1, "change_every must be >= 1")
        for name in ("p503", "p_drop", "corrupt", "p_change"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"{name} must be between 0 and 1, got {value!r}")
        for path, status in self.fail_paths.items():
            _check(300 <= status <= 599, f"fail_paths {path}: status must be 300..599")

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], base: FaultConfig | None = None
    ) -> FaultConfig:
        """Build a configuration from knob names and values, as given in JSON or on a CLI.

        Parameters
        ----------
        values : Mapping of str to object
            Knob names (``rate_limit``, ``rate-limit`` or ``--rate-limit``; errors name
            the knob as given) and values: numbers, booleans,
            ``None`` (to switch a knob off) or strings with units (``"64KiB"``,
            ``"200ms"``, ``"10r/s"``, ``"5%"``). The records knobs (``sensors``,
            ``cadence``, ``records_*``) are read by :meth:`RecordsConfig.from_mapping`.
        base : FaultConfig, optional
            Knobs not named in ``values`` keep their value from ``base`` (default: all off).

        Returns
        -------
        FaultConfig
            The new configuration.

        Raises
        ------
        skyhaul.errors.ConfigError
            On an unknown knob name or a bad value; the message names the knob.
        """
        base = base or cls()
        records = {k: v for k, v in values.items() if RecordsConfig.knows(k)}
        others = {k: v for k, v in values.items() if k not in records}
        changes: dict[str, Any] = knobs.read_knobs(
            others, _PARSERS, kind="fault", aliases=_ALIASES, off=_OFF, known=RECORDS_KNOBS
        )
        if records:
            changes["records"] = RecordsConfig.from_mapping(records, base=base.records)
        return dataclasses.replace(base, **changes)

    def merged(self, **changes: object) -> FaultConfig:
        """Return a copy with some knobs changed, parsed as :meth:`from_mapping` does.

        Parameters
        ----------
        **changes : object
            Knob names and their new values.

        Returns
        -------
        FaultConfig
            The new configuration.
        """
        return FaultConfig.from_mapping(changes, base=self)

    def to_json(self) -> dict[str, object]:
        """Return the knobs as a JSON-ready mapping (the form ``/_sim/faults`` shows); the
        records knobs are flat, by knob name, and the records token is left out."""
        data = dataclasses.asdict(self)
        data["fail_paths"] = dict(self.fail_paths)
        del data["records"]
        data.update(self.records.to_json())
        return data


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(f"fault knob {message}")


def _parse_seed(name: str, value: object) -> int:
    return knobs.parse_count(name, value)


def _parse_burst(name: str, value: object) -> int:
    return knobs.parse_count(name, value)


def _parse_change_every(name: str, value: object) -> int:
    return knobs.parse_count(name, value, minimum=1)


_PARSERS: dict[str, Callable[[str, object], object]] = {
    "seed": _parse_seed,
    "latency": knobs.parse_duration,
    "bandwidth": knobs.parse_size,
    "rate_limit": knobs.parse_rate,
    "burst": _parse_burst,
    "retry_after": knobs.parse_duration,
    "p503": knobs.parse_probability,
    "retry_after_503": knobs.parse_duration,
    "drop_after": knobs.parse_size,
    "p_drop": knobs.parse_probability,
    "corrupt": knobs.parse_probability,
    "ignore_range": knobs.parse_flag,
    "change_every": _parse_change_every,
    "p_change": knobs.parse_probability,
    "fail_paths": knobs.parse_fail_paths,
    "no_digest": knobs.parse_flag,
    "faults_on_api": knobs.parse_flag,
}
_ALIASES = {"fail_path": "fail_paths"}  # the command line's repeatable --fail-path
_OFF = dict.fromkeys(
    ("bandwidth", "rate_limit", "retry_after", "retry_after_503", "drop_after", "change_every")
)  # these knobs are switched off with None
