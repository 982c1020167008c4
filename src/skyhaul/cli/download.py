"""``skyhaul download``: download the eligible files already in the catalog, or, with a
configured ``--source`` and a window, the whole flow: list the source for the window,
register, then download the eligible files of the selection.

Rules:
- Eligible is the engine's call (DISCOVERED, or FAILED whose retry is due); the filters
  only narrow which files it considers.
- ``--source NAME`` discovers first when NAME is a configured source and the selection has
  a window (``--start/--end`` or ``--slots``); ``--no-discover`` makes it a plain filter.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skyhaul.cli.common import catalog_location, opened_catalog, start
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
from skyhaul.core.model import Selection, TransferOptions

__all__ = ["download"]


@with_options(
    selection=build_selection,
    common=build_common,
    transfer=build_transfer,
    processes=build_processes,
    progress=build_progress,
    config=build_config,
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
) -> None:
    """Download the files in the catalog that are due (new, or failed and due again)."""
    term = start(common)
    transfer, discovery = source_for_download(config, selection, transfer, discover=not no_discover)
    from skyhaul.services.runs import prepare_download

    # What `jobs resume` needs besides the selection: where the source is configured.
    params = {"config": None if config.path is None else str(config.path.resolve())}
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
