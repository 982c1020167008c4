"""Acquire: the whole flow of one cycle, as the FITS download service does it per slot range.

1. recover stale files (expired leases only: the engine does it first thing);
2. with a source, fetch its metadata for the window and register it (discovery);
3. keep the eligible files of the selection (new, and failed ones whose retry is due);
4. download them in parallel; report what happened.

Rules:
- Discovery failing stops the cycle before any download (``SourceError``): the caller
  decides whether to retry later (``watch`` does) or report (``download`` does).
- Cancellation (the event) stops discovery and downloads; files stay resumable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from skyhaul.adapters.catalog import Catalog
from skyhaul.adapters.sources import ListingQuery, Source
from skyhaul.core.model import RunSummary, Selection, TransferOptions
from skyhaul.core.progress import ProgressBoard
from skyhaul.ports.limits import SharedHostLimits
from skyhaul.ports.transport import Transports
from skyhaul.services.cancellation import until_cancelled
from skyhaul.services.clock import SYSTEM_CLOCK, Clock
from skyhaul.services.discovery import DiscoveryResult, discover
from skyhaul.services.engine import Engine
from skyhaul.services.wiring import RunPorts, open_ports

__all__ = ["AcquireResult", "Discovery", "acquire", "download", "run_download"]


@dataclass(frozen=True, slots=True)
class Discovery:
    """What to discover before downloading.

    Parameters
    ----------
    source : Source
        The source to list.
    query : ListingQuery
        Window, instrument, time basis.
    dest_root : str
        Where the source's new files go.
    """

    source: Source
    query: ListingQuery
    dest_root: str


@dataclass(frozen=True, slots=True)
class AcquireResult:
    """The outcome of one cycle."""

    discovery: DiscoveryResult | None
    summary: RunSummary
    job_id: int | None = None
    """The job the run was (``"job"`` in the JSON form)."""

    def as_json(self) -> dict[str, object]:
        """JSON-ready form."""
        body: dict[str, object] = {} if self.job_id is None else {"job": self.job_id}
        body.update(self.summary.as_json())
        if self.discovery is not None:
            body["discovery"] = self.discovery.as_json()
        return body


async def download(
    ports: RunPorts,
    options: TransferOptions,
    *,
    selection: Selection | None = None,
    job_id: int | None = None,
    board: ProgressBoard | None = None,
    cancel: asyncio.Event | None = None,
    clock: Clock = SYSTEM_CLOCK,
    limits: SharedHostLimits | None = None,
    hold_most: int | None = None,
) -> RunSummary:
    """Run the engine over ``ports``: every eligible file of the selection.

    With ``limits``, each host's politeness is shared with the other workers and its
    window decisions are read from and written to the catalog. ``hold_most``: the most
    files the run holds at once (a worker's share of a job; see ``Engine``).

    Raises
    ------
    DiskFullError
        The destination filled up; the run stopped with every file resumable.
    """
    engine = Engine(
        claims=ports.catalog,
        segment_map=ports.catalog,
        transports=ports.transports,
        sinks=ports.sinks,
        options=options,
        selection=selection,
        job_id=job_id,
        board=board,
        cancel=cancel,
        clock=clock,
        content_check=ports.content_check,
        limits=limits,
        host_windows=None if limits is None else ports.catalog,
        hold_most=hold_most,
    )
    return await engine.run()


async def run_download(
    catalog: Catalog,
    options: TransferOptions,
    *,
    selection: Selection | None = None,
    job_id: int | None = None,
    board: ProgressBoard | None = None,
    cancel: asyncio.Event | None = None,
    transports: Transports | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> RunSummary:
    """Download every eligible file (new, or failed and due) of a selection.

    Parameters
    ----------
    catalog : Catalog
        The catalog to work from.
    options : TransferOptions
        Concurrency, segment size, attempts and timeouts.
    selection : Selection or None
        Which files; None for all.
    job_id : int or None
        Only the files linked to that job (the files a ``skyhaul get`` named).
    board : ProgressBoard or None
        Receives progress.
    cancel : asyncio.Event or None
        Set to stop; files stay resumable and the summary says ``interrupted``.
    transports : Transports or None
        Defaults to HTTP(S) and S3 configured from ``options``.
    clock : Clock
        Time and sleep (tests inject theirs).

    Returns
    -------
    RunSummary
        Counts, bytes, seconds and the failures.

    Raises
    ------
    DiskFullError
        The destination filled up; the run stopped with every file resumable.
    """
    async with open_ports(catalog, options, transports=transports) as ports:
        return await download(
            ports,
            options,
            selection=selection,
            job_id=job_id,
            board=board,
            cancel=cancel,
            clock=clock,
        )


async def acquire(
    catalog: Catalog,
    options: TransferOptions,
    selection: Selection,
    *,
    discovery: Discovery | None = None,
    cancel: asyncio.Event | None = None,
    board: ProgressBoard | None = None,
    job_id: int | None = None,
    on_discovered: Callable[[DiscoveryResult], None] | None = None,
    transports: Transports | None = None,
    clock: Clock = SYSTEM_CLOCK,
    limits: SharedHostLimits | None = None,
    hold_most: int | None = None,
) -> AcquireResult:
    """Discover (optionally), then download the eligible files of ``selection``.

    With ``discovery``, the selection is narrowed to the source's files and
    ``on_discovered`` hears the counts before downloads start. The caller owns (and
    closes) the source. ``limits``: per-host politeness shared with other workers
    (None: this run's own, as in one process); ``hold_most``: see :func:`download`.

    Raises
    ------
    SourceError, SourceAuthError
        The listing failed; nothing was downloaded.
    """
    cancel = cancel or asyncio.Event()
    found: DiscoveryResult | None = None
    async with open_ports(catalog, options, transports=transports) as ports:
        if discovery is not None:
            found = await until_cancelled(
                discover(ports.catalog, discovery.source, discovery.query, discovery.dest_root),
                cancel,
            )
            if found is None:
                return AcquireResult(None, RunSummary(interrupted=True))
            if on_discovered is not None:
                on_discovered(found)
            selection = replace(selection, source=discovery.source.name)
        summary = await download(
            ports,
            options,
            selection=selection,
            job_id=job_id,
            board=board,
            cancel=cancel,
            clock=clock,
            limits=limits,
            hold_most=hold_most,
        )
    return AcquireResult(found, summary)
