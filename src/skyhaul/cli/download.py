"""``skyhaul download``: download the eligible files already in the catalog, or, with a
configured ``--source`` and a window, the whole flow: list the source for the window,
register, then download the eligible files of the selection.

Rules:
- Eligible is the engine's call (DISCOVERED, or FAILED whose retry is due); the filters
  only narrow which files it considers.
- ``--source NAME`` discovers first when NAME is a configured source and the selection has
  a window (``--start/--end`` or ``--slots``); ``--no-discover`` makes it a plain filter.
- ``--executor celery``: the files eligible now are linked to a ``download`` job (after
  the listing, which runs here), published on the ``downloads`` queue, and followed
  (``cli.execution``). A source whose files need credentials stays local: a job records
  no secret, and workers do not read sources' configuration yet.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog import Catalog
from skyhaul.cli.common import Terminal, catalog_location, opened_catalog, start
from skyhaul.cli.execution import CELERY, Execution, build_execution, submit
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_processes,
    build_progress,
    build_selection,
    build_transfer,
    with_options,
)
from skyhaul.cli.sources import ConfigOption, build_config, source_for_download
from skyhaul.cli.transfer import download_and_report
from skyhaul.core.jobs import JobKind
from skyhaul.core.model import Selection, TransferOptions
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from skyhaul.services.acquire import Discovery

__all__ = ["download"]


@with_options(
    selection=build_selection,
    common=build_common,
    transfer=build_transfer,
    processes=build_processes,
    progress=build_progress,
    config=build_config,
    execution=build_execution,
)
def download(
    no_discover: Annotated[
        bool,
        typer.Option(
            "--no-discover",
            help="With --source: do not list the source first, only download what is known.",
            rich_help_panel="Filters",
        ),
    ] = False,
    *,
    selection: Selection,
    common: CommonOptions,
    transfer: TransferOptions,
    processes: int | None,
    progress: bool,
    config: ConfigOption,
    execution: Execution,
) -> None:
    """Download the files in the catalog that are due (new, or failed and due again)."""
    term = start(common)
    execution = execution.resolve(config.path)
    transfer, discovery = source_for_download(config, selection, transfer, discover=not no_discover)
    from skyhaul.services.runs import prepare_download

    # What `jobs resume` needs besides the selection: where the source is configured.
    params = {"config": None if config.path is None else str(config.path.resolve())}
    if execution.celery:
        if transfer.credentials:
            raise UsageError(
                f"--source {selection.source}: its files need credentials, which workers "
                "do not have yet; run it with --executor local"
            )
        with opened_catalog(common) as catalog:
            code = _submit(term, common, catalog, transfer, selection, discovery, execution)
        raise typer.Exit(code)
    with opened_catalog(common) as catalog:
        run = prepare_download(
            catalog,
            transfer,
            selection=selection,
            discovery=discovery,
            processes=processes,
            params=params,
        )
        code = download_and_report(
            term, run, show_progress=progress, catalog_at=catalog_location(common)
        )
    raise typer.Exit(code)


def _submit(
    term: Terminal,
    common: CommonOptions,
    catalog: Catalog,
    transfer: TransferOptions,
    selection: Selection,
    discovery: Discovery | None,
    execution: Execution,
) -> int:
    """List the source here if asked, queue the eligible files as a job for the
    workers, and publish it; return the exit code."""
    from skyhaul.services.queued import queue_download

    if discovery is not None:
        asyncio.run(_discover(catalog, discovery))
        selection = replace(selection, source=discovery.source.name)
    job_id, linked = queue_download(catalog, transfer, selection, params={"executor": CELERY})
    term.err.print(f"job {job_id}: {linked:,} files queued", highlight=False)
    return submit(term, common, catalog, job_id, JobKind.DOWNLOAD, execution)


async def _discover(catalog: Catalog, discovery: Discovery) -> None:
    from skyhaul.services.discovery import discover_into

    try:
        await discover_into(catalog, discovery.source, discovery.query, discovery.dest_root)
    finally:
        await discovery.source.aclose()
