"""MAST's columns, declared once: rows, answer ``fields`` and ``columnsconfig`` derive.

Rules:
- Names, order and types follow MAST's CAOM observation and product tables as the
  Portal serves them; only columns the simulator can fill are declared.
- Each column has its answer type (``fields[].type``: ``string``, ``float``, ``int``,
  ``boolean``) and its ``vot.datatype``, which clients read from ``columnsconfig`` to
  build filters: ``double`` and ``float`` columns take ``{min, max}`` ranges, the others
  lists of values. As MAST does, ``obsid``, ``objID``, ``obsID`` and ``parent_obsid``
  are declared ``string`` but carry numbers.
- ``distance`` (arcseconds, as MAST's ``columnsconfig`` declares it) is only in answers
  to a position search; ``_selected_`` ends every answer, always null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from skyhaul.sim.mast.dataset import MastObservation, MastProduct

T = TypeVar("T")

_PROVENANCE = {"JWST": "CALJWST", "WFC3": "CALWF3", "ACS": "CALACS", "STIS": "CALSTIS"}


_TYPES = {  # vot.datatype -> the type answers declare in their fields
    "char": "string",
    "double": "float",
    "float": "float",
    "int": "int",
    "long": "int",
    "boolean": "boolean",
    "id": "string",  # a long id, declared string as MAST does
}


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an answer.

    Parameters
    ----------
    name : str
        Column name.
    datatype : str
        ``vot.datatype`` (``char``, ``double``, ``float``, ``int``, ``long``,
        ``boolean``), or ``id`` for a ``long`` declared ``string`` in answers.
    value : callable
        The column's value for a record.
    text : str
        Label and description.
    unit : str, optional
        ``vot.unit``.
    separator : str, optional
        Values hold several items separated by this (``;``).
    """

    name: str
    datatype: str
    value: Callable[[T], object]
    text: str
    unit: str | None = None
    separator: str | None = None

    @property
    def type(self) -> str:
        """Type in an answer's ``fields``: ``string``, ``float``, ``int`` or ``boolean``."""
        return _TYPES[self.datatype]

    @property
    def continuous(self) -> bool:
        """Filtered by ``{min, max}`` ranges (clients decide so from ``vot.datatype``)."""
        return self.datatype in ("double", "float")

    def config(self) -> dict[str, object]:
        """The column's entry in a ``columnsconfig`` answer."""
        entry: dict[str, object] = {
            "text": self.text,
            "vot.datatype": "long" if self.datatype == "id" else self.datatype,
            "vot.ID": self.name,
            "vot.name": self.name,
            "vot.description": self.text,
        }
        if self.unit is not None:
            entry["vot.unit"] = self.unit
        if self.separator is not None:
            entry["separator"] = self.separator
        return entry


def _provenance(o: MastObservation) -> str:
    return _PROVENANCE.get(o.obs_collection) or _PROVENANCE.get(o.instrument, "SPOC")


def _region(o: MastObservation) -> str:
    return f"CIRCLE ICRS {o.s_ra:.8f} {o.s_dec:.8f} {o.fov}"


def _waveband(o: MastObservation) -> str:
    return "INFRARED" if o.obs_collection == "JWST" or o.plan.detector == "IR" else "OPTICAL"


def _nothing(record: object) -> None:
    return None


Obs = Column[MastObservation]
OBSERVATION_COLUMNS: tuple[Obs, ...] = (
    Obs("intentType", "char", lambda o: "science", "Observation Type"),
    Obs("obs_collection", "char", lambda o: o.obs_collection, "Mission", separator=";"),
    Obs("provenance_name", "char", _provenance, "Provenance Name"),
    Obs("instrument_name", "char", lambda o: o.plan.instrument_name, "Instrument"),
    Obs("project", "char", lambda o: o.obs_collection, "Project", separator=";"),
    Obs("filters", "char", lambda o: o.plan.filters, "Filters", separator=";"),
    Obs("wavelength_region", "char", _waveband, "Waveband", separator=";"),
    Obs("target_name", "char", lambda o: o.target.name, "Target Name"),
    Obs(
        "target_classification", "char", lambda o: o.target.classification,
        "Target Classification", separator=";",
    ),
    Obs("obs_id", "char", lambda o: o.obs_id, "Observation ID"),
    Obs("s_ra", "double", lambda o: o.s_ra, "RA", unit="deg"),
    Obs("s_dec", "double", lambda o: o.s_dec, "Dec", unit="deg"),
    Obs("dataproduct_type", "char", lambda o: o.plan.dataproduct_type, "Product Type"),
    Obs("proposal_pi", "char", lambda o: o.plan.proposal_pi, "Principal Investigator"),
    Obs("calib_level", "int", lambda o: 3, "Calibration Level"),
    Obs("t_min", "double", lambda o: o.t_min, "Start Time", unit="d"),
    Obs("t_max", "double", lambda o: o.t_max, "End Time", unit="d"),
    Obs("t_exptime", "double", lambda o: o.plan.exptime, "Exposure Length", unit="s"),
    Obs("em_min", "double", lambda o: o.band_nm[0], "Min. Wavelength", unit="nm"),
    Obs("em_max", "double", lambda o: o.band_nm[1], "Max. Wavelength", unit="nm"),
    Obs("obs_title", "char", lambda o: o.plan.title, "Observation Title"),
    Obs("t_obs_release", "double", lambda o: round(o.t_max + 1, 5), "Release Date", unit="d"),
    Obs("proposal_id", "char", lambda o: o.plan.proposal_id, "Proposal ID"),
    Obs("proposal_type", "char", lambda o: "GO", "Proposal Type"),
    Obs("sequence_number", "int", _nothing, "Sequence Number"),
    Obs("s_region", "char", _region, "STC/S Footprint", unit="deg"),
    Obs("jpegURL", "char", _nothing, "Preview Image URL"),
    Obs("dataURL", "char", _nothing, "Data URL"),
    Obs("dataRights", "char", lambda o: "PUBLIC", "Data Rights"),
    Obs("mtFlag", "boolean", lambda o: False, "Moving Target"),
    Obs("srcDen", "float", _nothing, "Associated Catalogs"),
    Obs("obsid", "id", lambda o: o.obsid, "Product Group ID"),
    Obs("objID", "id", lambda o: o.obsid + 1_000_000_000, "Object ID"),
)  # fmt: skip

DISTANCE = Obs("distance", "float", _nothing, 'Distance (")', unit="arcsec")
"""The column a position search adds (its value is computed per search)."""

Prod = Column[MastProduct]
PRODUCT_COLUMNS: tuple[Prod, ...] = (
    Prod("obsID", "id", lambda p: p.obsid, "Product Group ID"),
    Prod("obs_collection", "char", lambda p: p.observation.obs_collection, "Mission"),
    Prod("dataproduct_type", "char", lambda p: p.observation.plan.dataproduct_type, "Type"),
    Prod("obs_id", "char", lambda p: p.obs_id, "Observation ID"),
    Prod("description", "char", lambda p: p.name.description, "Description"),
    Prod("type", "char", lambda p: "C" if p.name.calib_level >= 3 else "S", "S or C"),
    Prod("dataURI", "char", lambda p: p.data_uri, "Data URI"),
    Prod("productType", "char", lambda p: p.name.product_type, "Product Type"),
    Prod(
        "productGroupDescription", "char",
        lambda p: "Minimum Recommended Products" if p.name.recommended else None,
        "Product Group",
    ),
    Prod("productSubGroupDescription", "char", lambda p: p.name.subgroup, "Product Subgroup"),
    Prod("productDocumentationURL", "char", _nothing, "Documentation"),
    Prod("project", "char", lambda p: p.observation.obs_collection, "Project"),
    Prod("prvversion", "char", _nothing, "Version"),
    Prod("proposal_id", "char", lambda p: p.observation.plan.proposal_id, "Proposal ID"),
    Prod("productFilename", "char", lambda p: p.filename, "Filename"),
    Prod("size", "long", lambda p: p.size, "Size", unit="byte"),
    Prod("parent_obsid", "id", lambda p: p.obsid, "Parent Product Group ID"),
    Prod("dataRights", "char", lambda p: "PUBLIC", "Data Rights"),
    Prod("calib_level", "int", lambda p: p.name.calib_level, "Calibration Level"),
    Prod("filters", "char", lambda p: p.observation.plan.filters, "Filters"),
)  # fmt: skip

_SELECTED = {"text": "selected", "add": True, "type": "boolean", "hidden": True}


def columns_config(columns: tuple[Column[T], ...]) -> dict[str, object]:
    """A ``columnsconfig`` answer: each column's properties by name, ``_selected_`` first."""
    answer: dict[str, object] = {"_selected_": dict(_SELECTED)}
    answer.update((c.name, c.config()) for c in columns)
    return answer


OBSERVATION_CONFIG = columns_config((*OBSERVATION_COLUMNS, DISTANCE))
"""``columnsconfig`` of ``Mast.Caom.Cone`` (and the other observation services)."""
PRODUCT_CONFIG = columns_config(PRODUCT_COLUMNS)
"""``columnsconfig`` of ``Mast.Caom.Products``."""


def fields(columns: tuple[Column[T], ...]) -> list[dict[str, str]]:
    """An answer's ``fields``: name and type of each column, then ``_selected_``."""
    return [{"name": c.name, "type": c.type} for c in columns] + [
        {"name": "_selected_", "type": "boolean"}
    ]


def row(columns: tuple[Column[T], ...], record: T) -> dict[str, object]:
    """An answer's row for ``record``: each column's value, then ``_selected_: null``."""
    values = {c.name: c.value(record) for c in columns}
    values["_selected_"] = None
    return values
