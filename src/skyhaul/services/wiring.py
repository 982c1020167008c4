"""The adapters a run works through, built in one place and closed together.

Rules:
- Services take ports; this module is where the default adapters behind them are built
  for a run: the catalog on its thread (``AsyncCatalog``), the transports by URL scheme
  (``default_transports``) and the local part files (``LocalSinks``). A caller may pass
  its own transports (tests, a shared pool); what it passes, it closes.
- With ``options.fits_metadata``, the run checks FITS content before promotion
  (``FitsCheck``); without it, there is no content check and nothing is paid for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.catalog.async_catalog import AsyncCatalog
from skyhaul.adapters.fits import FitsCheck
from skyhaul.adapters.sinks import LocalSinks
from skyhaul.adapters.transports import default_transports
from skyhaul.core.model import TransferOptions
from skyhaul.ports.catalog import AcquireCatalog
from skyhaul.ports.content import ContentCheck
from skyhaul.ports.sink import Sinks
from skyhaul.ports.transport import Transports

__all__ = ["RunPorts", "async_catalog", "open_ports"]


@dataclass(frozen=True, slots=True)
class RunPorts:
    """What a download run reads from and writes to."""

    catalog: AcquireCatalog
    transports: Transports
    sinks: Sinks
    content_check: ContentCheck | None = None


@asynccontextmanager
async def async_catalog(catalog: Catalog) -> AsyncIterator[AsyncCatalog]:
    """The catalog's asynchronous roles for the duration of the block."""
    facade = AsyncCatalog(catalog)
    try:
        yield facade
    finally:
        facade.close()


@asynccontextmanager
async def open_ports(
    catalog: Catalog, options: TransferOptions, *, transports: Transports | None = None
) -> AsyncIterator[RunPorts]:
    """Build a run's ports over ``catalog``; close what was built here when done."""
    own = transports is None
    chosen = default_transports(options) if transports is None else transports
    check = FitsCheck() if options.fits_metadata else None
    try:
        async with async_catalog(catalog) as facade:
            yield RunPorts(
                catalog=facade, transports=chosen, sinks=LocalSinks(), content_check=check
            )
    finally:
        if check is not None:
            check.close()
        if own:
            await chosen.close()
