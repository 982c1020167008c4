"""MAST's rows as typed values: observations and products, read from its column names.

Rules:
- A row is a JSON object from MAST; only the columns skyhaul uses are read, each by its
  MAST name (``obs_collection``, ``t_min``, ``dataURI``...). Extra columns are kept in
  ``record`` (the archive's own record, stored as the file's origin) and otherwise
  ignored; a missing or empty column is None.
- Values are read tolerantly: MAST sends ids as numbers or text, sizes as integers or
  floats, and nulls anywhere. A value of the wrong kind is None, never an exception.
- A row without what identifies it (an observation without ``obsid`` or ``obs_id``, a
  product without ``dataURI``) cannot be used: its ``from_row`` returns None and the
  caller counts it.
- Times in MAST are Modified Julian Dates (days since 1858-11-17 00:00 UTC); they become
  timezone-aware UTC datetimes (leap seconds ignored, as MAST's own portal does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["MJD_EPOCH", "Observation", "Product", "mjd_to_utc"]

#: MJD 0.
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
# MJDs that make a datetime (years 1..9999); outside is a bad value, not a time.
_MJD_RANGE = (-678575.0, 2973483.0)

Row = Mapping[str, object]


def mjd_to_utc(mjd: float | None) -> datetime | None:
    """Return the UTC time of a Modified Julian Date (None for None or a bad value).

    Examples
    --------
    >>> mjd_to_utc(59000.5).isoformat()
    '2020-05-31T12:00:00+00:00'
    """
    if mjd is None or not _MJD_RANGE[0] <= mjd <= _MJD_RANGE[1]:
        return None
    return MJD_EPOCH + timedelta(days=mjd)


@dataclass(frozen=True, slots=True)
class Observation:
    """One row of ``Mast.Caom.Cone`` / ``Mast.Caom.Filtered``: a CAOM observation.

    Parameters
    ----------
    obsid : str
        MAST's product group id (``obsid``), what ``Mast.Caom.Products`` takes.
    obs_id : str
        The mission's observation id (``obs_id``).
    mission : str or None
        ``obs_collection`` (JWST, HST, TESS...).
    target : str or None
        ``target_name``.
    instrument : str or None
        ``instrument_name`` (``NIRCAM/IMAGE``).
    ra, dec : float or None
        ``s_ra``, ``s_dec`` in degrees.
    t_min, t_max : float or None
        Start and end of the observation (MJD).
    dataproduct_type : str or None
        ``image``, ``spectrum``, ...
    calib_level : int or None
        0 raw ... 4 contributed.
    distance : float or None
        Arcseconds from a cone's centre (cone searches only).
    record : mapping
        The whole row as MAST sent it.
    """

    obsid: str
    obs_id: str
    mission: str | None = None
    target: str | None = None
    instrument: str | None = None
    ra: float | None = None
    dec: float | None = None
    t_min: float | None = None
    t_max: float | None = None
    dataproduct_type: str | None = None
    calib_level: int | None = None
    distance: float | None = None
    record: Row = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Row) -> Observation | None:
        """Read a row; None when it has no ``obsid`` or ``obs_id``."""
        obsid, obs_id = _text(row, "obsid"), _text(row, "obs_id")
        if obsid is None or obs_id is None:
            return None
        return cls(
            obsid=obsid,
            obs_id=obs_id,
            mission=_text(row, "obs_collection"),
            target=_text(row, "target_name"),
            instrument=_text(row, "instrument_name"),
            ra=_number(row, "s_ra"),
            dec=_number(row, "s_dec"),
            t_min=_number(row, "t_min"),
            t_max=_number(row, "t_max"),
            dataproduct_type=_text(row, "dataproduct_type"),
            calib_level=_whole(row, "calib_level"),
            distance=_number(row, "distance"),
            record=row,
        )

    @property
    def start(self) -> datetime | None:
        """``t_min`` in UTC."""
        return mjd_to_utc(self.t_min)

    @property
    def end(self) -> datetime | None:
        """``t_max`` in UTC."""
        return mjd_to_utc(self.t_max)


@dataclass(frozen=True, slots=True)
class Product:
    """One row of ``Mast.Caom.Products``: a file of an observation.

    Parameters
    ----------
    data_uri : str
        ``dataURI`` (``mast:JWST/product/...``): the file's identity at MAST.
    obsid : str or None
        ``obsID``: the product group of the product itself (a member's, for JWST).
    parent_obsid : str or None
        ``parent_obsid``: the product group it was listed for, when MAST says.
    obs_id : str or None
        The mission's observation id of the product (a member exposure, for JWST).
    mission : str or None
        ``obs_collection``.
    filename : str or None
        ``productFilename``.
    product_type : str or None
        ``productType`` (SCIENCE, CALIBRATION, AUXILIARY, PREVIEW, INFO...).
    size : int or None
        ``size`` in bytes (None when missing, negative or not a number).
    description : str or None
        ``description``.
    calib_level : int or None
        ``calib_level`` of the product, when MAST gives it.
    record : mapping
        The whole row as MAST sent it.
    """

    data_uri: str
    obsid: str | None = None
    parent_obsid: str | None = None
    obs_id: str | None = None
    mission: str | None = None
    filename: str | None = None
    product_type: str | None = None
    size: int | None = None
    description: str | None = None
    calib_level: int | None = None
    record: Row = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Row) -> Product | None:
        """Read a row; None when it has no ``dataURI``."""
        uri = _text(row, "dataURI")
        if uri is None:
            return None
        size = _whole(row, "size")
        return cls(
            data_uri=uri,
            obsid=_text(row, "obsID"),
            parent_obsid=_text(row, "parent_obsid"),
            obs_id=_text(row, "obs_id"),
            mission=_text(row, "obs_collection"),
            filename=_text(row, "productFilename"),
            product_type=_text(row, "productType"),
            size=size if size is not None and size >= 0 else None,
            description=_text(row, "description"),
            calib_level=_whole(row, "calib_level"),
            record=row,
        )

    @property
    def group(self) -> str | None:
        """The observation (``obsid``) it was listed for: ``parent_obsid``, else ``obsID``."""
        return self.parent_obsid or self.obsid


def _text(row: Row, column: str) -> str | None:
    """A column as text: strings stripped (empty is None), whole numbers as digits."""
    value = row.get(column)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _number(row: Row, column: str) -> float | None:
    value = row.get(column)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _whole(row: Row, column: str) -> int | None:
    number = _number(row, column)
    if number is None or not number.is_integer() or abs(number) >= 2**63:
        return None
    return int(number)
