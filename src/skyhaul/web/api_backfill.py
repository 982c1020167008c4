"""``/api/backfill``: the sources with a day ledger, and one source's days with their
availability.

Rules:
- A source is known when the ledger has rows of it or the configuration names it as a
  records source; any other name is a 404.
- A range is two UTC days, both included (``first`` defaults to 30 days before ``last``,
  ``last`` to today); a bad day, ``last`` before ``first`` or more than ten years is 400.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from skyhaul.services.backfill_view import (
    DEFAULT_DAYS,
    MAX_DAYS,
    backfill_sources,
    day_range,
    ledger_document,
)
from skyhaul.services.clock import SYSTEM_CLOCK
from skyhaul.web.deps import Server, server
from skyhaul.web.errors import NotFoundError, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/backfill", tags=["backfill"])

Running = Annotated[Server, Depends(server)]


@router.get("/sources")
def sources(running: Running) -> dict[str, Any]:
    """The sources whose ledger can be shown: those with ledger rows, and the
    configuration's records sources."""
    return {"sources": backfill_sources(running.catalog, running.settings.config)}


@router.get("/{source}", responses=error_responses(404))
def ledger(
    running: Running,
    source: str,
    first: Annotated[
        str | None,
        Query(
            max_length=100, description=f"First UTC day, YYYY-MM-DD [last - {DEFAULT_DAYS - 1}]."
        ),
    ] = None,
    last: Annotated[
        str | None,
        Query(
            max_length=100,
            description=f"Last UTC day, included, YYYY-MM-DD [today]; at most {MAX_DAYS} days.",
        ),
    ] = None,
) -> dict[str, Any]:
    """Each day's latest ledger row (``state``, ``records``, ``expected``,
    ``availability``, ``attempt``, ``error``, ...) and the range's availability."""
    if source not in backfill_sources(running.catalog, running.settings.config):
        raise NotFoundError(f"no backfill source {source!r} (see /api/backfill/sources)")
    start, end = day_range(first, last, today=SYSTEM_CLOCK.now().date())
    return ledger_document(running.catalog, source, start, end)
