"""The simulated MAST's observations and products: a pure function of a :class:`MastSpec`.

Rules:
- :func:`build_dataset` lays out metadata only (no bytes): observations from the fixed
  plans of :mod:`skyhaul.sim.mast.catalog`, products named by
  :mod:`skyhaul.sim.mast.products`, sizes drawn from the spec's seed.
- FITS products are whole 2880-byte blocks, at least three (a primary header, an
  extension header, one block of data); small ones spread log-uniformly between 16 KiB
  and 512 KiB. Two are large: the first JWST observation's ``i2d`` (12 MiB) and the
  first TESS observation's ``tp`` (6 MiB).
- Fixed per-product faults, for tests: the first ``flt`` of the first HST observation is
  corrupted over HTTP (bytes flipped, same size; its S3 copy is right), and the first
  ``cal`` of the second JWST observation carries a wrong ``DATASUM`` (wrong everywhere).
- The bench observation (``MastSpec.bench``) has 200 FITS products, all in the cloud,
  of mixed sizes (about 100 KiB to 130 MiB) adding up to 2 GiB.
- Times are MJD (UTC); positions ICRS degrees; a footprint is a circle of ``fov`` degrees.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from skyhaul.sim.archive import FITS_BLOCK, fits_size
from skyhaul.sim.mast.catalog import BENCH_PLAN, BENCH_TARGET, PLANS, TARGETS, MastTarget
from skyhaul.sim.mast.catalog import ObservationPlan as Plan
from skyhaul.sim.mast.products import ProductKind, ProductName, product_names
from skyhaul.sim.mast.spec import MastSpec

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
BENCH_TOTAL = 2 * GiB
"""Size of the bench observation's products together (within one FITS block)."""

_MJD_EPOCH = datetime(1858, 11, 17, tzinfo=UTC)
_FOV = {"JWST": 0.04, "HST": 0.02, "TESS": 0.03}  # footprint radius, degrees
_BAND_NM = {
    "CLEAR;F277W": (2416.0, 3127.0),
    "CLEAR;PRISM": (600.0, 5300.0),
    "F1280W": (11600.0, 14000.0),
    "CLEAR;F090W": (795.0, 1005.0),
    "CLEAR;F150W": (1331.0, 1668.0),
    "F555W": (458.0, 620.0),
    "F658N": (655.0, 661.0),
    "G430L": (290.0, 570.0),
    "F160W": (1400.0, 1700.0),
    "TESS": (600.0, 1000.0),
}
_TEXT_SIZES: dict[ProductKind, tuple[int, int]] = {
    "json": (1 * KiB, 4 * KiB),
    "txt": (2 * KiB, 16 * KiB),
    "ecsv": (8 * KiB, 64 * KiB),
    "jpg": (16 * KiB, 64 * KiB),
}
_LARGE = {("JWST", 0): ("I2D", 12 * MiB), ("TESS", 0): ("TP", 6 * MiB)}
_BENCH_BANDS = ((0.6, 64 * KiB, 1 * MiB), (0.3, 1 * MiB, 16 * MiB), (0.1, 32 * MiB, 96 * MiB))


@dataclass(frozen=True)
class MastObservation:
    """One observation (a CAOM row), with the FITS header values of its products.

    Parameters
    ----------
    index : int
        Position in the dataset, from 0.
    plan : ObservationPlan
        What was planned (ids, instrument, filters, times, proposal).
    target : MastTarget
        The target observed.
    s_ra, s_dec : float
        Pointing (center of the footprint), degrees.
    t_min, t_max : float
        Start and end, MJD.
    """

    index: int
    plan: Plan
    target: MastTarget
    s_ra: float
    s_dec: float
    t_min: float
    t_max: float

    @property
    def obs_id(self) -> str:
        """The mission's observation id (``obs_id``)."""
        return self.plan.obs_id

    @property
    def obsid(self) -> int:
        """MAST's product group id (``obsid``; what ``Mast.Caom.Products`` takes)."""
        return self.plan.obsid

    @property
    def obs_collection(self) -> str:
        """The mission: ``JWST``, ``HST`` or ``TESS``."""
        return self.plan.collection

    @property
    def instrument(self) -> str:
        """The FITS ``INSTRUME``: ``instrument_name`` before its ``/``."""
        return self.plan.instrument_name.split("/")[0]

    @property
    def fov(self) -> float:
        """Radius of the footprint, degrees."""
        return _FOV[self.obs_collection]

    @property
    def band_nm(self) -> tuple[float, float]:
        """``em_min`` and ``em_max``, nanometres."""
        return _BAND_NM[self.plan.filters]

    @property
    def date_obs(self) -> str:
        """The FITS ``DATE-OBS``: the start, ISO 8601 UTC (``t_min`` to the second)."""
        return self.plan.start


@dataclass(frozen=True)
class MastProduct:
    """One product of an observation (a ``Mast.Caom.Products`` row) and how it is served.

    Parameters
    ----------
    index : int
        Position in the dataset, from 0; part of the content seed.
    observation : MastObservation
        The observation it belongs to.
    name : ProductName
        File name, URI, kind, type, description, cloud key.
    size : int
        Size in bytes (of the bytes S3 holds; HTTP sends as many).
    corrupt_http : bool
        HTTP ``Download/file`` flips bytes of its body (same size); S3 has it right.
    bad_datasum : bool
        Its SCI extension's ``DATASUM`` (and so ``CHECKSUM``) is wrong, everywhere.
    """

    index: int
    observation: MastObservation
    name: ProductName
    size: int
    corrupt_http: bool = False
    bad_datasum: bool = False

    @property
    def data_uri(self) -> str:
        """``dataURI``."""
        return self.name.data_uri

    @property
    def filename(self) -> str:
        """``productFilename``."""
        return self.name.filename

    @property
    def kind(self) -> ProductKind:
        """What its bytes are: ``fits``, ``json``, ``txt``, ``ecsv`` or ``jpg``."""
        return self.name.kind

    @property
    def obs_id(self) -> str:
        """Its observation's ``obs_id``."""
        return self.observation.obs_id

    @property
    def obsid(self) -> int:
        """Its observation's ``obsid`` (``obsID`` in product rows)."""
        return self.observation.obsid

    @property
    def cloud_key(self) -> str | None:
        """Key in ``stpubdata`` (path lookup's ``path`` without its leading ``/``), or None."""
        return self.name.cloud_key

    @property
    def has_content_length(self) -> bool:
        """False for a product generated on request (sent chunked, without a length)."""
        return not self.name.generated

    @property
    def corrupt_offsets(self) -> tuple[int, ...]:
        """Offsets whose byte HTTP inverts (in the SCI data; none unless ``corrupt_http``)."""
        if not self.corrupt_http:
            return ()
        data_start = 2 * FITS_BLOCK
        span = self.size - data_start
        return tuple(data_start + span * k // 4 for k in (1, 2, 3))


@dataclass(frozen=True)
class MastDataset:
    """Every observation and product a :class:`MastSpec` describes."""

    spec: MastSpec
    targets: tuple[MastTarget, ...]
    observations: tuple[MastObservation, ...]
    products: tuple[MastProduct, ...]

    @property
    def total_size(self) -> int:
        """Sum of the product sizes, in bytes."""
        return sum(p.size for p in self.products)

    @cached_property
    def _by_uri(self) -> dict[str, MastProduct]:
        return {p.data_uri: p for p in self.products}

    @cached_property
    def _by_observation(self) -> dict[str, tuple[MastProduct, ...]]:
        grouped: dict[str, list[MastProduct]] = {o.obs_id: [] for o in self.observations}
        for product in self.products:
            grouped[product.obs_id].append(product)
        return {obs_id: tuple(found) for obs_id, found in grouped.items()}

    def product(self, uri: str) -> MastProduct | None:
        """The product whose ``dataURI`` is ``uri``, or None."""
        return self._by_uri.get(uri)

    def observation(self, key: str | int) -> MastObservation:
        """The observation with this ``obs_id`` or ``obsid`` (an int, or its digits).

        Raises
        ------
        KeyError
            If there is none.
        """
        for observation in self.observations:
            if key in (observation.obs_id, observation.obsid, str(observation.obsid)):
                return observation
        raise KeyError(key)

    def products_of(self, key: str | int) -> tuple[MastProduct, ...]:
        """The products of the observation with this ``obs_id`` or ``obsid``.

        Raises
        ------
        KeyError
            If there is no such observation.
        """
        return self._by_observation[self.observation(key).obs_id]


def build_dataset(spec: MastSpec) -> MastDataset:
    """Lay out the dataset a spec describes (metadata only; no bytes are made here).

    Parameters
    ----------
    spec : MastSpec
        What to build.

    Returns
    -------
    MastDataset
        Targets, observations and products with sizes and URIs.
    """
    rng = random.Random(f"skyhaul-sim-mast/{spec.seed}")
    targets = {t.name: t for t in (*TARGETS, BENCH_TARGET)}
    plans = (*PLANS, BENCH_PLAN) if spec.bench else PLANS
    observations = tuple(
        _observation(i, plan, targets[plan.target]) for i, plan in enumerate(plans)
    )
    products: list[MastProduct] = []
    ordinals: Counter[str] = Counter()  # each observation's place among its mission's
    for observation in observations:
        collection = observation.obs_collection
        ordinal, ordinals[collection] = ordinals[collection], ordinals[collection] + 1
        bench = observation.plan is BENCH_PLAN
        names = product_names(observation.plan, observation.plan.products, bench=bench)
        large = _LARGE.get((collection, ordinal))
        sizes = _bench_sizes(rng, len(names)) if bench else [_size(rng, n, large) for n in names]
        corrupt = _first(names, "FLT") if (collection, ordinal) == ("HST", 0) else None
        bad = _first(names, "CAL") if (collection, ordinal) == ("JWST", 1) else None
        for k, (name, size) in enumerate(zip(names, sizes, strict=True)):
            products.append(
                MastProduct(len(products), observation, name, size, k == corrupt, k == bad)
            )
    listed = tuple(t for t in targets.values() if spec.bench or t is not BENCH_TARGET)
    return MastDataset(spec, listed, observations, tuple(products))


def _observation(index: int, plan: Plan, target: MastTarget) -> MastObservation:
    east, north = plan.offset
    s_dec = target.dec + north / 3600
    s_ra = (target.ra + east / 3600 / math.cos(math.radians(target.dec))) % 360
    start = datetime.fromisoformat(plan.start).replace(tzinfo=UTC)
    t_min = (start - _MJD_EPOCH).total_seconds() / 86400
    return MastObservation(
        index, plan, target, round(s_ra, 7), round(s_dec, 7), round(t_min, 7),
        round(t_min + plan.exptime / 86400, 7),
    )  # fmt: skip


def _first(names: list[ProductName], subgroup: str) -> int | None:
    return next((k for k, name in enumerate(names) if name.subgroup == subgroup), None)


def _size(rng: random.Random, name: ProductName, large: tuple[str, int] | None) -> int:
    if name.kind != "fits":
        low, high = _TEXT_SIZES[name.kind]
        return rng.randint(low, high)
    draw = round(math.exp(rng.uniform(math.log(16 * KiB), math.log(512 * KiB))))
    if large is not None and name.subgroup == large[0]:
        draw = large[1]
    return max(3 * FITS_BLOCK, fits_size(draw))


def _bench_sizes(rng: random.Random, count: int) -> list[int]:
    raw: list[float] = []
    for share, low, high in _BENCH_BANDS:
        raw += [
            math.exp(rng.uniform(math.log(low), math.log(high)))
            for _ in range(round(count * share))
        ]
    raw = raw[:count] + [float(64 * KiB)] * (count - len(raw))
    rng.shuffle(raw)
    scale = BENCH_TOTAL / sum(raw)
    sizes = [max(3 * FITS_BLOCK, fits_size(round(r * scale))) for r in raw]
    largest = sizes.index(max(sizes))  # takes the rounding, to land within a block of 2 GiB
    sizes[largest] = fits_size(sizes[largest] + BENCH_TOTAL - sum(sizes))
    return sizes
