"""``/api/mast``: search MAST, list an observation's products, import observations.

Rules:
- The same services and the same rows as ``skyhaul mast search|products --json``; MAST is
  the server's ``--mast-url``, else ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``
  (one rule for every interface: :func:`skyhaul.adapters.mast.mast_url`).
- Bad criteria, an unknown obs_id or target name, a bad option: 400, nothing asked or
  registered. MAST failing or answering nonsense: 502 with its one-line message.
- An import is planned first (nothing is registered when that fails), then runs as a job
  of this server into its destination (``--dest``) with the default transfer options;
  the answer gives the job's id at once, the page follows the job from there.
- URLs in answers are redacted (a MAST URL may carry a password).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from skyhaul.adapters.mast import MastClient, mast_url
from skyhaul.core.model import TransferOptions
from skyhaul.core.redact import redact_url
from skyhaul.services.job_launch import start_import
from skyhaul.services.mast_import import SourceChoice, plan_import, query_params
from skyhaul.services.mast_products import listed_products
from skyhaul.services.mast_search import (
    SearchCriteria,
    parse_calib_levels,
    parse_radius,
    search,
)
from skyhaul.services.mast_session import ask_mast
from skyhaul.web.deps import Server, server

__all__ = ["ImportRequest", "router"]

router = APIRouter(prefix="/api/mast", tags=["mast"])

Running = Annotated[Server, Depends(server)]
ProductType = Annotated[
    str | None,
    Query(description="Only products of this type (SCIENCE, CALIBRATION, PREVIEW...)."),
]
T = TypeVar("T")


class ImportRequest(BaseModel):
    """What to import: observations, a product type, where to fetch from."""

    model_config = ConfigDict(extra="forbid")

    obs_ids: list[str] = Field(min_length=1, description="The observations to import.")
    product_type: str | None = Field(None, description="Only products of this type.")
    source: SourceChoice = Field(
        SourceChoice.AUTO,
        description="auto: S3 first for products in the cloud, MAST as mirror; s3: cloud"
        " products only; http: MAST only.",
    )


@router.get("/search")
async def search_observations(
    running: Running,
    target: Annotated[str | None, Query(description="A name MAST resolves (M31).")] = None,
    ra: Annotated[float | None, Query(description="Right ascension, degrees.")] = None,
    dec: Annotated[float | None, Query(description="Declination, degrees.")] = None,
    radius: Annotated[str, Query(description="Around the target or position.")] = "3arcmin",
    obs_id: Annotated[str | None, Query(description="One observation.")] = None,
    mission: Annotated[str | None, Query(description="obs_collection: JWST, HST...")] = None,
    instrument: Annotated[str | None, Query(description="NIRCAM, NIRCAM/IMAGE...")] = None,
    product_type: ProductType = None,
    calib_level: Annotated[str | None, Query(description="Levels, e.g. 2,3.")] = None,
) -> dict[str, Any]:
    """Observations found by target, position or obs_id (``skyhaul mast search --json``)."""
    criteria = SearchCriteria(
        target=target,
        ra=ra,
        dec=dec,
        radius=parse_radius(radius),
        obs_id=obs_id,
        mission=mission,
        instrument=instrument,
        calib_levels=parse_calib_levels(calib_level) if calib_level else (),
        product_type=product_type,
    )
    criteria.check()
    rows = await _ask(running, _mast_root(running), lambda client: search(client, criteria))
    return {"rows": [row.as_json() for row in rows]}


@router.get("/products/{obs_id}")
async def observation_products(
    running: Running, obs_id: str, product_type: ProductType = None
) -> dict[str, Any]:
    """An observation's products, with sizes and cloud URLs (``skyhaul mast products``)."""
    listed = await _ask(
        running,
        _mast_root(running),
        lambda client: listed_products(client, obs_id, product_type=product_type),
    )
    return {"products": [entry.as_json(redact_url(url)) for entry, url in listed]}


@router.post("/import")
async def import_observations(running: Running, request: ImportRequest) -> dict[str, Any]:
    """Start an ``import`` job of the observations in this server; answer its id at once."""
    url = _mast_root(running)
    plan = await _ask(
        running,
        url,
        lambda client: plan_import(
            client, request.obs_ids, product_type=request.product_type, source=request.source
        ),
    )
    settings = running.settings
    params = {
        "via": "web",
        "mast": query_params(url, request.obs_ids, request.product_type, request.source),
    }
    job_id = await start_import(
        running.catalog,
        running.live,
        plan,
        settings.dest_root,
        TransferOptions(verify_tls=settings.verify_tls),
        params=params,
    )
    return {"job_id": job_id}


def _mast_root(running: Server) -> str:
    return mast_url(running.settings.mast_url, os.environ)


async def _ask(running: Server, url: str, ask: Callable[[MastClient], Awaitable[T]]) -> T:
    """``ask(client)``'s answer; a client that goes away cancels the question."""
    never = asyncio.Event()  # the request's own cancellation stops it
    return await ask_mast(url, ask, never, verify_tls=running.settings.verify_tls)
