"""Discovery: list a source for a window and register what it lists, idempotently.

Rules:
- A file seen again keeps its row and state; one whose size, checksum or listed version
  changed is flagged (``remote_changed``: back to DISCOVERED, its old bytes forgotten) and
  will be downloaded again. Counts say which: new, known, changed.
- Listing happens on the event loop; registering (one transaction, possibly 100,000
  rows) goes through the catalog's ``Registry`` role, which runs it off the loop, so a
  live progress display or a cancel keeps working.
- Nothing is registered when the listing fails: a half-read listing is not a listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources import ListingQuery, Source
from skyhaul.ports.catalog import Registry
from skyhaul.services.wiring import async_catalog

__all__ = ["DiscoveryResult", "discover", "discover_into"]

log = logging.getLogger("skyhaul.discovery")


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """What one discovery did."""

    source: str
    listed: int
    new: int
    known: int
    changed: int
    seconds: float

    def as_json(self) -> dict[str, object]:
        """JSON-ready form (the CLI's ``--json``)."""
        return {
            "source": self.source,
            "listed": self.listed,
            "new": self.new,
            "known": self.known,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        """One human line."""
        return (
            f"{self.source}: listed {self.listed}: {self.new} new, {self.known} known, "
            f"{self.changed} changed ({self.seconds:.1f} s)"
        )


async def discover(
    registry: Registry,
    source: Source,
    query: ListingQuery,
    dest_root: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DiscoveryResult:
    """List ``source`` for ``query`` and register the files under ``dest_root``.

    Parameters
    ----------
    registry : Registry
        Where to register (the catalog's role).
    source : Source
        What to list.
    query : ListingQuery
        Window, instrument and time basis.
    dest_root : str
        Destination root of new files (absolute).
    now : callable
        Wall clock (for the rows' creation time).

    Returns
    -------
    DiscoveryResult
        Counts of distinct URLs.
    """
    began = time.monotonic()
    specs = await source.list_files(query)
    result = await registry.register(specs, dest_root, now=now())
    outcome = DiscoveryResult(
        source=source.name,
        listed=len(specs),
        new=result.new,
        known=result.known,
        changed=result.changed,
        seconds=time.monotonic() - began,
    )
    log.debug("%s", outcome.line())
    return outcome


async def discover_into(
    catalog: Catalog, source: Source, query: ListingQuery, dest_root: str
) -> DiscoveryResult:
    """:func:`discover` into a catalog opened by the caller (``skyhaul discover``, Client)."""
    async with async_catalog(catalog) as registry:
        return await discover(registry, source, query, dest_root)
