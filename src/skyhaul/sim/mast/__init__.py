"""skyhaul.sim.mast: the simulator's MAST, always on, on the same port as the archive.

A deterministic set of observations (JWST, HST, TESS) and their products, served as
MAST serves them to astroquery: ``/api/v0/invoke`` (``Mast.Caom.Cone``,
``Mast.Caom.Filtered[.Position]``, counts, ``Mast.Caom.Products``, ``Mast.Name.Lookup``),
``columnsconfig``, the SANTA resolver, ``path_lookup``, ``Download/file`` and
``Download/bundle.sh``; the cloud products also on the S3 side, in ``stpubdata``.

Modules, from data to wire: :mod:`~skyhaul.sim.mast.spec` (what to build),
:mod:`~skyhaul.sim.mast.catalog` and :mod:`~skyhaul.sim.mast.products` (fixed plans and
names), :mod:`~skyhaul.sim.mast.dataset` (observations and products),
:mod:`~skyhaul.sim.mast.content` and :mod:`~skyhaul.sim.mast.files` (bytes, on disk),
:mod:`~skyhaul.sim.mast.columns`, :mod:`~skyhaul.sim.mast.filters`,
:mod:`~skyhaul.sim.mast.resolver` and :mod:`~skyhaul.sim.mast.services` (answers, pure),
:mod:`~skyhaul.sim.mast.knobs`, :mod:`~skyhaul.sim.mast.state` and
:mod:`~skyhaul.sim.mast.stats` (live), :mod:`~skyhaul.sim.mast.routes`,
:mod:`~skyhaul.sim.mast.download` and :mod:`~skyhaul.sim.mast.control` (HTTP),
:mod:`~skyhaul.sim.mast.app` (wiring), :mod:`~skyhaul.sim.mast.handle` (Python handle),
:mod:`~skyhaul.sim.mast.cloud` (S3).

Examples
--------
>>> from skyhaul.sim import SimConfig, SimThread, profile
>>> with SimThread(SimConfig(archive=profile("small"))) as sim:  # doctest: +SKIP
...     print(sim.mast.server_url, len(sim.mast.products))
"""

from __future__ import annotations

from skyhaul.sim.mast.cloud import MastS3Object
from skyhaul.sim.mast.dataset import MastDataset, MastObservation, MastProduct, build_dataset
from skyhaul.sim.mast.files import ProductFile
from skyhaul.sim.mast.handle import RunningMast
from skyhaul.sim.mast.knobs import MastKnobs
from skyhaul.sim.mast.spec import MAST_BUCKET, MAST_PROFILES, MastSpec, mast_profile
from skyhaul.sim.mast.stats import MastStats, MastStatsSnapshot

__all__ = [
    "MAST_BUCKET",
    "MAST_PROFILES",
    "MastDataset",
    "MastKnobs",
    "MastObservation",
    "MastProduct",
    "MastS3Object",
    "MastSpec",
    "MastStats",
    "MastStatsSnapshot",
    "ProductFile",
    "RunningMast",
    "build_dataset",
    "mast_profile",
]
