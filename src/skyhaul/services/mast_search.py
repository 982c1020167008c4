"""Searching MAST: criteria in, one row per observation out, with its products counted.

Rules:
- A search names where to look in exactly one way: a target name (resolved by MAST), a
  position (``ra``/``dec`` in degrees, within ``radius``, 3 arcmin by default), or an
  ``obs_id``. Filters narrow it: mission (``obs_collection``), instrument
  (``instrument_name``), calibration levels (``calib_level``). Bad criteria are a
  ``UsageError`` (exit 2) before anything is asked.
- An instrument without ``/`` means the instrument in every mode: ``NIRCAM`` finds
  ``NIRCAM/IMAGE`` and ``NIRCAM/GRISM`` (MAST's ``freeText`` ``NIRCAM%``); a value with a
  ``*`` or ``%`` is MAST's wildcard as given; one with ``/`` matches exactly.
- Each row counts its observation's products and their total size (known sizes), from one
  batched products query; ``product_type`` (SCIENCE, PREVIEW...) narrows what is counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from skyhaul.adapters.mast import Filter, MastClient, Observation, Product
from skyhaul.errors import UsageError

__all__ = [
    "DEFAULT_RADIUS",
    "SearchCriteria",
    "SearchRow",
    "parse_calib_levels",
    "parse_radius",
    "search",
]

#: Degrees: 3 arcmin.
DEFAULT_RADIUS = 3 / 60
_ANGLE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-z°'\"]*)\s*\Z", re.IGNORECASE)
_UNITS = {
    "": 1.0,
    "d": 1.0,
    "deg": 1.0,
    "°": 1.0,
    "arcmin": 1 / 60,
    "amin": 1 / 60,
    "'": 1 / 60,
    "arcsec": 1 / 3600,
    "asec": 1 / 3600,
    '"': 1 / 3600,
}


def parse_radius(text: str) -> float:
    """Read an angle (``3arcmin``, ``10arcsec``, ``0.05deg``, or degrees) as degrees.

    Raises
    ------
    UsageError
        Not an angle, or not more than 0 and at most 180 degrees.
    """
    match = _ANGLE.match(text)
    unit = match[2].lower() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(f"radius {text!r} is not an angle (3arcmin, 10arcsec, 0.05deg)")
    degrees = float(match[1]) * _UNITS[unit]
    if not 0 < degrees <= 180:
        raise UsageError(f"radius {text!r} must be more than 0 and at most 180 degrees")
    return degrees


def parse_calib_levels(text: str) -> tuple[int, ...]:
    """Read calibration levels (``2,3``).

    Raises
    ------
    UsageError
        A level that is not a whole number from -1 to 4.
    """
    levels = []
    for part in text.split(","):
        try:
            level = int(part.strip())
        except ValueError:
            level = None
        if level is None or not -1 <= level <= 4:
            raise UsageError(f"calibration level {part.strip()!r} is not one of -1, 0, 1, 2, 3, 4")
        levels.append(level)
    return tuple(dict.fromkeys(levels))


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """What to search MAST for (see the module rules).

    Parameters
    ----------
    target : str or None
        A name MAST resolves (``M31``, ``NGC 1300``).
    ra, dec : float or None
        A position, degrees.
    radius : float
        Degrees around the target or position.
    obs_id : str or None
        One observation.
    mission, instrument : str or None
        ``obs_collection`` (JWST, HST, TESS...), ``instrument_name``.
    calib_levels : tuple of int
        Calibration levels wanted (none: all).
    product_type : str or None
        Products counted (SCIENCE, PREVIEW...; None: all).
    """

    target: str | None = None
    ra: float | None = None
    dec: float | None = None
    radius: float = DEFAULT_RADIUS
    obs_id: str | None = None
    mission: str | None = None
    instrument: str | None = None
    calib_levels: tuple[int, ...] = ()
    product_type: str | None = None

    def check(self) -> None:
        """Raise ``UsageError`` unless the criteria make one search."""
        ways = [self.target is not None, self.ra is not None or self.dec is not None]
        ways.append(self.obs_id is not None)
        if sum(ways) != 1:
            raise UsageError("search by one of: a target name, --ra with --dec, or --obs-id")
        if (self.ra is None) != (self.dec is None):
            raise UsageError("--ra and --dec go together")
        if self.ra is not None and not (math.isfinite(self.ra) and 0 <= self.ra < 360):
            raise UsageError(f"--ra {self.ra:g} is not from 0 to 360 degrees")
        if self.dec is not None and not (math.isfinite(self.dec) and -90 <= self.dec <= 90):
            raise UsageError(f"--dec {self.dec:g} is not from -90 to 90 degrees")
        for name, value in (("target", self.target), ("obs_id", self.obs_id)):
            if value is not None and not value.strip():
                raise UsageError(f"the {name} is empty")
        if not 0 < self.radius <= 180:
            raise UsageError(f"radius {self.radius:g} must be more than 0 and at most 180 degrees")

    def filters(self) -> list[Filter]:
        """The MAST filters of the criteria (the obs_id's included)."""
        found = []
        if self.obs_id is not None:
            found.append(Filter("obs_id", (self.obs_id.strip(),)))
        if self.mission:
            found.append(_text_filter("obs_collection", self.mission))
        if self.instrument:
            instrument = self.instrument.strip()
            if "/" in instrument or "*" in instrument or "%" in instrument:
                found.append(_text_filter("instrument_name", instrument))
            else:
                found.append(Filter("instrument_name", (), free_text=f"{instrument}%"))
        if self.calib_levels:
            found.append(Filter("calib_level", tuple(str(n) for n in self.calib_levels)))
        return found


@dataclass(frozen=True, slots=True)
class SearchRow:
    """One observation found, with its products counted.

    Parameters
    ----------
    observation : Observation
        As MAST described it.
    products : int
        Its products (of the type asked for).
    size : int
        Their total size in bytes (of the sizes MAST gives).
    """

    observation: Observation
    products: int
    size: int

    def as_json(self) -> dict[str, object]:
        """The row as plain values (``start``/``end`` in ISO 8601 UTC)."""
        o = self.observation
        start, end = o.start, o.end
        return {
            "obs_id": o.obs_id,
            "obsid": o.obsid,
            "target": o.target,
            "mission": o.mission,
            "instrument": o.instrument,
            "start": None if start is None else start.isoformat(),
            "end": None if end is None else end.isoformat(),
            "t_min": o.t_min,
            "t_max": o.t_max,
            "calib_level": o.calib_level,
            "dataproduct_type": o.dataproduct_type,
            "ra": o.ra,
            "dec": o.dec,
            "products": self.products,
            "size": self.size,
        }


async def search(client: MastClient, criteria: SearchCriteria) -> list[SearchRow]:
    """Search MAST; return one row per observation, in MAST's order.

    Raises
    ------
    UsageError
        Bad criteria, or a target name MAST cannot resolve.
    SourceError
        MAST failed or answered something unreadable.
    """
    criteria.check()
    filters = criteria.filters()
    if criteria.target is not None:
        where = await client.resolve(criteria.target.strip())
        observations = await client.cone(where.ra, where.dec, criteria.radius, filters)
    elif criteria.ra is not None and criteria.dec is not None:
        observations = await client.cone(criteria.ra, criteria.dec, criteria.radius, filters)
    else:
        observations = await client.filtered(filters)
    products = await client.products(o.obsid for o in observations)
    return count_products(observations, of_type(products, criteria.product_type))


def of_type(products: Sequence[Product], product_type: str | None) -> list[Product]:
    """The products of ``product_type`` (any letter case; None: all)."""
    if product_type is None:
        return list(products)
    wanted = product_type.strip().upper()
    return [p for p in products if (p.product_type or "").upper() == wanted]


def count_products(
    observations: Sequence[Observation], products: Sequence[Product]
) -> list[SearchRow]:
    """One row per observation with its products' count and total size."""
    counts: dict[str, list[int]] = {o.obsid: [0, 0] for o in observations}
    for product in products:
        tally = counts.get(product.group or "")
        if tally is not None:
            tally[0] += 1
            tally[1] += product.size or 0
    return [SearchRow(o, *counts[o.obsid]) for o in observations]


def _text_filter(column: str, value: str) -> Filter:
    """A filter of one value; a value with ``*`` or ``%`` is MAST's wildcard."""
    value = value.strip()
    if "*" in value or "%" in value:
        return Filter(column, (), free_text=value.replace("*", "%"))
    return Filter(column, (value,))
