"""MAST (the Mikulski Archive for Space Telescopes) through its HTTP API: the one seam to it.

Rules:
- :mod:`.wire`: one bounded, retried request, its JSON answer, every failure a
  ``SourceError`` naming what was asked.
- :mod:`.invoke`: MAST's query protocol (invoke, EXECUTING polls, pages, ERROR).
- :mod:`.rows`: observations and products as typed values, read from MAST's columns.
- :mod:`.client`: the questions skyhaul asks (names, searches, products, cloud paths)
  and the download URLs.
- Nothing above this package sees aiohttp or MAST's JSON shapes.
"""

from __future__ import annotations

from skyhaul.adapters.mast.client import (
    CLOUD_BUCKET,
    DEFAULT_MAST_URL,
    MAST_URL_ENV,
    PATH_LOOKUP_BATCH,
    PRODUCTS_BATCH,
    Filter,
    MastClient,
    SkyPosition,
    cloud_url,
    mast_url,
)
from skyhaul.adapters.mast.invoke import InvokeLimits
from skyhaul.adapters.mast.rows import Observation, Product, mjd_to_utc

__all__ = [
    "CLOUD_BUCKET",
    "DEFAULT_MAST_URL",
    "MAST_URL_ENV",
    "PATH_LOOKUP_BATCH",
    "PRODUCTS_BATCH",
    "Filter",
    "InvokeLimits",
    "MastClient",
    "Observation",
    "Product",
    "SkyPosition",
    "cloud_url",
    "mast_url",
    "mjd_to_utc",
]
