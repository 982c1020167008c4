"""skyhaul.sim: a simulated science archive on loopback, for demos, tests and benchmarks.

It serves a deterministic set of synthetic FITS files (or plain blobs) over real HTTP,
with listings and manifests carrying mission metadata, and fault knobs (latency,
bandwidth, rate limits, 503s, dropped connections, corruption, ignored ranges, changing
content, failing paths) that can be changed while it runs. On the same port it is also
MAST (:mod:`skyhaul.sim.mast`): observations, products and the API astroquery speaks.

Examples
--------
>>> from skyhaul.sim import SimConfig, SimThread, profile
>>> with SimThread(SimConfig(archive=profile("small"))) as sim:  # doctest: +SKIP
...     print(sim.base_url, len(sim.files))
"""

from __future__ import annotations

from skyhaul.sim.archive import (
    FITS_BLOCK,
    PROFILES,
    Archive,
    ArchiveFile,
    ArchiveSpec,
    SizeBand,
    Slot,
    build_archive,
    profile,
)
from skyhaul.sim.cache import ArchiveCache, FileVersion, default_root
from skyhaul.sim.config import SimConfig
from skyhaul.sim.faults import FaultConfig
from skyhaul.sim.listing import MANIFEST_COLUMNS, ListedFile
from skyhaul.sim.mast import MAST_BUCKET, MastKnobs, MastSpec, RunningMast, mast_profile
from skyhaul.sim.server import RunningSim, start_server
from skyhaul.sim.stats import SimStats, StatsSnapshot
from skyhaul.sim.stdlib_server import StdlibServerThread
from skyhaul.sim.thread import SimThread

__all__ = [
    "FITS_BLOCK",
    "MANIFEST_COLUMNS",
    "MAST_BUCKET",
    "PROFILES",
    "Archive",
    "ArchiveCache",
    "ArchiveFile",
    "ArchiveSpec",
    "FaultConfig",
    "FileVersion",
    "ListedFile",
    "MastKnobs",
    "MastSpec",
    "RunningMast",
    "RunningSim",
    "SimConfig",
    "SimStats",
    "SimThread",
    "SizeBand",
    "Slot",
    "StatsSnapshot",
    "StdlibServerThread",
    "build_archive",
    "default_root",
    "mast_profile",
    "profile",
    "start_server",
]
