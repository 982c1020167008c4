"""How each mission names, describes and files its products (names only; no sizes).

Rules:
- Pure functions of an :class:`~skyhaul.sim.mast.catalog.ObservationPlan` and a count:
  the observation-level products come first, then exposure-level ones in turn until the
  count is reached.
- ``dataURI`` is ``mast:<COLLECTION>/product/<file name>``; JWST previews are generated
  on request, under ``mast:JWST/preview/...`` with a query (``?`` and ``&``) in the URI.
- Cloud keys follow ``stpubdata``'s layout: ``jwst/public/jw<program>/L3/t/o<obs>/...``
  for JWST observation products and ``jwst/public/jw<program>/jw<program><obs>001/...``
  for its exposures; ``hst/public/<first 4 of the dataset>/<dataset>/...``;
  ``tess/public/tid/s<sector>/<TIC id in four groups of 4 digits>/...``.
- Not in the cloud: previews (``.jpg``, also generated: no Content-Length), trailers
  and reports (``.txt``) and HST support files (``_spt.fits``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Literal

from skyhaul.sim.mast.catalog import ObservationPlan

ProductKind = Literal["fits", "json", "txt", "ecsv", "jpg"]
"""What a product's bytes are (its file name's extension)."""


@dataclass(frozen=True)
class ProductName:
    """A product's identity and description, before it gets a size.

    Parameters
    ----------
    filename : str
        ``productFilename``.
    data_uri : str
        ``dataURI``.
    kind : ProductKind
        What its bytes are.
    product_type : str
        ``productType``: ``SCIENCE``, ``AUXILIARY``, ``PREVIEW`` or ``INFO``.
    subgroup : str
        ``productSubGroupDescription`` (``I2D``, ``CAL``, ``FLT``, ``LC``, ...).
    description : str
        ``description``.
    calib_level : int
        The product's calibration level.
    recommended : bool
        One of the "Minimum Recommended Products".
    cloud_key : str or None
        Key in ``stpubdata``, or None if it is not in the cloud.
    generated : bool
        Made on request: served without Content-Length.
    """

    filename: str
    data_uri: str
    kind: ProductKind
    product_type: str
    subgroup: str
    description: str
    calib_level: int
    recommended: bool
    cloud_key: str | None
    generated: bool = False


# (suffix, kind, productType, calib_level, description); the subgroup is the suffix's
# first part, upper-cased.
Suffix = tuple[str, ProductKind, str, int, str]
_JWST_IMAGE: tuple[Suffix, ...] = (
    ("i2d.fits", "fits", "SCIENCE", 3, "Level 3: resampled and combined image"),
    ("segm.fits", "fits", "AUXILIARY", 3, "Level 3: segmentation map"),
    ("cat.ecsv", "ecsv", "SCIENCE", 3, "Level 3: source catalog"),
)
_JWST_SPECTRUM: tuple[Suffix, ...] = (
    ("x1d.fits", "fits", "SCIENCE", 3, "Level 3: extracted 1-D spectrum"),
    ("s2d.fits", "fits", "SCIENCE", 3, "Level 3: resampled 2-D spectrum"),
)
_JWST_EXPOSURE: tuple[Suffix, ...] = (
    ("cal.fits", "fits", "SCIENCE", 2, "Level 2b: calibrated exposure"),
    ("rate.fits", "fits", "AUXILIARY", 2, "Level 2a: countrate exposure"),
    ("uncal.fits", "fits", "SCIENCE", 1, "Level 1b: uncalibrated exposure"),
)
_HST_EXPOSURE: tuple[Suffix, ...] = (
    ("flt.fits", "fits", "SCIENCE", 2, "DADS FLT file - Calibrated exposure"),
    ("raw.fits", "fits", "SCIENCE", 1, "DADS RAW file - Raw exposure"),
    ("spt.fits", "fits", "AUXILIARY", 1, "DADS SPT file - Support file"),
    ("trl.txt", "txt", "AUXILIARY", 1, "DADS TRL file - Processing log"),
)
_TESS: tuple[Suffix, ...] = (
    ("lc.fits", "fits", "SCIENCE", 3, "Light curves"),
    ("tp.fits", "fits", "SCIENCE", 3, "Target pixel files"),
    ("dvt.fits", "fits", "SCIENCE", 3, "Data validation time series"),
    ("dvm.json", "json", "INFO", 3, "Data validation metrics"),
    ("dvr.txt", "txt", "AUXILIARY", 3, "Data validation report"),
)
_RECOMMENDED = frozenset({"i2d.fits", "x1d.fits", "drz.fits", "lc.fits"})
_NOT_IN_CLOUD = frozenset({"txt", "jpg"})


def product_names(plan: ObservationPlan, wanted: int, bench: bool = False) -> list[ProductName]:
    """Name the first ``wanted`` products of an observation.

    Parameters
    ----------
    plan : ObservationPlan
        The observation.
    wanted : int
        How many products.
    bench : bool, optional
        Only FITS products, all in the cloud (the bench observation).

    Returns
    -------
    list of ProductName
        Observation-level products first, then exposure-level ones.
    """
    makers: dict[str, Callable[[ObservationPlan, bool], Iterator[ProductName]]] = {
        "JWST": _jwst,
        "HST": _hst,
        "TESS": _tess,
    }
    names = makers[plan.collection](plan, bench)
    return [next(names) for _ in range(wanted)]


def _name(collection: str, filename: str, suffix: Suffix, directory: str) -> ProductName:
    ending, kind, product_type, calib_level, description = suffix
    return ProductName(
        filename=filename,
        data_uri=f"mast:{collection}/product/{filename}",
        kind=kind,
        product_type=product_type,
        subgroup=ending.split(".")[0].upper(),
        description=description,
        calib_level=calib_level,
        recommended=ending in _RECOMMENDED,
        cloud_key=None
        if kind in _NOT_IN_CLOUD or ending == "spt.fits"
        else f"{directory}/{filename}",
    )


def _jwst(plan: ObservationPlan, bench: bool) -> Iterator[ProductName]:
    program, obs = plan.obs_id[2:7], plan.obs_id[9:12]
    level3 = f"jwst/public/jw{program}/L3/t/o{obs}"
    spectrum = plan.dataproduct_type == "spectrum"
    for suffix in (_JWST_SPECTRUM if spectrum else _JWST_IMAGE)[: 1 if bench else None]:
        yield _name("JWST", f"{plan.obs_id}_{suffix[0]}", suffix, level3)
    if not bench:
        asn: Suffix = ("asn.json", "json", "INFO", 3, "Level 3: association")
        stage = "spec3" if spectrum else "image3"
        yield _name("JWST", f"jw{program}-o{obs}_{stage}_00001_{asn[0]}", asn, level3)
        preview = f"{plan.obs_id}_{'x1d' if spectrum else 'i2d'}.jpg"
        yield ProductName(
            filename=preview,
            data_uri=f"mast:JWST/preview/{preview}?size=512&format=jpg",
            kind="jpg",
            product_type="PREVIEW",
            subgroup="PREVIEW",
            description="Preview image (generated on request)",
            calib_level=3,
            recommended=False,
            cloud_key=None,
            generated=True,
        )
    exposures = f"jwst/public/jw{program}/jw{program}{obs}001"
    for k in count(1):
        stem = f"jw{program}{obs}001_02101_{k:05d}_{plan.detector.lower()}"
        for suffix in _JWST_EXPOSURE:
            yield _name("JWST", f"{stem}_{suffix[0]}", suffix, exposures)


def _hst(plan: ObservationPlan, bench: bool) -> Iterator[ProductName]:
    stem = plan.obs_id.lower()
    top = "x1d.fits" if plan.dataproduct_type == "spectrum" else "drz.fits"
    yield _name(
        "HST",
        f"{stem}_{top}",
        (top, "fits", "SCIENCE", 3, f"DADS {top[:3].upper()} file - Combined product"),
        f"hst/public/{stem[:4]}/{stem}",
    )
    yield _name(
        "HST",
        f"{stem}_asn.fits",
        ("asn.fits", "fits", "AUXILIARY", 1, "DADS ASN file - Association"),
        f"hst/public/{stem[:4]}/{stem}",
    )
    preview = f"{stem}_{top.split('.')[0]}.jpg"
    yield ProductName(
        filename=preview,
        data_uri=f"mast:HST/product/{preview}",
        kind="jpg",
        product_type="PREVIEW",
        subgroup="PREVIEW",
        description="Preview image (generated on request)",
        calib_level=3,
        recommended=False,
        cloud_key=None,
        generated=True,
    )
    for k in count(1):
        dataset = f"{stem[:6]}{chr(97 + k // 26)}{chr(97 + k % 26)}q"
        for suffix in _HST_EXPOSURE:
            yield _name(
                "HST", f"{dataset}_{suffix[0]}", suffix, f"hst/public/{dataset[:4]}/{dataset}"
            )


def _tess(plan: ObservationPlan, bench: bool) -> Iterator[ProductName]:
    sector = plan.obs_id.split("-")[1]  # s0012
    tic = plan.obs_id.split("-")[2]  # 16 digits
    groups = "/".join(tic[i : i + 4] for i in range(0, 16, 4))
    directory = f"tess/public/tid/{sector}/{groups}"
    for suffix in _TESS:
        yield _name("TESS", f"{plan.obs_id}_{suffix[0]}", suffix, directory)
    raise ValueError(f"a TESS observation has at most {len(_TESS)} products")
