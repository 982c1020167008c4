"""``/api/sites``, ``/api/packages`` and ``/api/locations/{site}/{name}/copies``: the
observatory's storage, its raw data packages with their copies, and what each location
holds.

Rules:
- The documents are those of ``skyhaul site list --json``, ``skyhaul packages --json``
  (:mod:`skyhaul.services.observatory.package_view`), so the two never disagree.
- A malformed site or location name is a 400; a location the catalog does not have, 404.
- Catalog reads run in a worker thread: the catalog is synchronous.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from skyhaul.core.packages import PackageState
from skyhaul.core.sites import parse_location_ref
from skyhaul.errors import UsageError
from skyhaul.services.observatory.package_view import (
    location_copies,
    packages_documents,
    sites_documents,
)
from skyhaul.web.deps import Server, server
from skyhaul.web.errors import NotFoundError, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["observatory"])

Running = Annotated[Server, Depends(server)]
#: Copies a page holds at most.
MAX_LIMIT = 10_000
#: Furthest a page may start.
MAX_OFFSET = 2**53


@router.get("/sites")
async def list_sites(running: Running) -> list[dict[str, Any]]:
    """Every site with its locations (type, URL redacted, priority, active)."""
    return await asyncio.to_thread(sites_documents, running.catalog)


@router.get("/packages")
async def list_packages(
    running: Running,
    state: Annotated[
        list[PackageState] | None, Query(description="Only packages in these states.")
    ] = None,
) -> list[dict[str, Any]]:
    """The raw data packages (in ``state``), each with its members count, tar size and
    sha256, copies (location and status) and error."""
    return await asyncio.to_thread(packages_documents, running.catalog, state)


@router.get("/locations/{site}/{name}/copies", responses=error_responses(404))
async def copies_at_location(
    running: Running,
    site: str,
    name: str,
    limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="0: counts only.")] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """What location ``site/name`` holds: its copies counted by status, and a page of them."""
    try:
        site, name = parse_location_ref(f"{site}/{name}")
    except ValueError as error:
        raise UsageError(str(error)) from None

    def read() -> dict[str, Any]:
        location = running.catalog.location(site, name)
        if location is None:
            raise NotFoundError(f"no location {site}/{name}")
        return location_copies(running.catalog, location, limit=limit, offset=offset)

    return await asyncio.to_thread(read)
