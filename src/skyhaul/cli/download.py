"""``skyhaul download``: download the eligible files already in the catalog.

Rules:
- Eligible is the engine's call (DISCOVERED, or FAILED whose retry is due); the filters
  only narrow which files it considers.
"""

from __future__ import annotations

import typer

from skyhaul.cli.common import catalog_location, opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_progress,
    build_selection,
    build_transfer,
    with_options,
)
from skyhaul.cli.transfer import download_and_report
from skyhaul.core.model import Selection, TransferOptions

__all__ = ["download"]


@with_options(
    selection=build_selection,
    common=build_common,
    transfer=build_transfer,
    progress=build_progress,
)
def download(
    *,
    selection: Selection,
    common: CommonOptions,
    transfer: TransferOptions,
    progress: bool,
) -> None:
    """Download the files in the catalog that are due (new, or failed and due again)."""
    term = start(common)
    with opened_catalog(common) as catalog:
        code = download_and_report(
            term,
            catalog,
            transfer,
            show_progress=progress,
            catalog_at=catalog_location(common),
            selection=selection,
        )
    raise typer.Exit(code)
