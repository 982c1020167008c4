"""``skyhaul get``: register the files a user names, then download exactly those.

Rules:
- Every input (URL arguments and the ``-i`` list) is read and validated before the
  catalog is touched, so bad input registers nothing.
- Every run is a job: the named files, new or already known, are linked to it, and the
  engine downloads exactly the files of that job that are not done yet.
- The destination root is stored absolute.
- A named file that does not end downloaded is never success: abandoned or failed in an
  earlier run, or held by another live process, it is counted and named in the summary
  (with the hint ``skyhaul retry``) and the exit code is 1.
- A file already known under another destination gets a copy here (made from its
  verified local copy when there is one: see ``services.copies``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from skyhaul.adapters.manifest import MANIFEST_COLUMNS, read_specs, specs_from_urls
from skyhaul.cli.common import catalog_location, opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_processes,
    build_progress,
    build_transfer,
    with_options,
)
from skyhaul.cli.transfer import download_and_report
from skyhaul.cli.worker import (
    CELERY,
    BrokerOption,
    DetachOption,
    ExecutorOption,
    MessagesOption,
    submit_get,
)
from skyhaul.core.model import FileSpec, TransferOptions
from skyhaul.errors import UsageError

__all__ = ["get"]

logger = logging.getLogger("skyhaul.cli")

_INPUT_HELP = f"A URL list (one per line) or a CSV/JSON manifest ({', '.join(MANIFEST_COLUMNS)})."


@with_options(
    common=build_common,
    transfer=build_transfer,
    processes=build_processes,
    progress=build_progress,
)
def get(
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[URL]...",
            help="http(s) or s3://BUCKET/KEY URLs to download.",
            show_default=False,
        ),
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input-file",
            "-i",
            metavar="LIST",
            help=_INPUT_HELP,
            show_default=False,
        ),
    ] = None,
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", "-d", metavar="DIR", help="Destination root.", show_default="current directory"
        ),
    ] = Path(),
    executor: ExecutorOption = "local",
    broker: BrokerOption = None,
    detach: DetachOption = False,
    messages: MessagesOption = 1,
    *,
    common: CommonOptions,
    transfer: TransferOptions,
    processes: int | None,
    progress: bool,
) -> None:
    """Register URLs (or a manifest) in the catalog and download them."""
    term = start(common)
    specs = _named_specs(urls or [], input_file)
    dest_root = _destination(directory)
    # Imported here: the engine pulls in aiohttp, which status, ls and the rest never need.
    from skyhaul.services.runs import prepare_get

    if executor not in ("local", CELERY):
        raise UsageError(f"--executor {executor}: not local or celery")
    if executor == CELERY:
        with opened_catalog(common) as catalog:
            code = submit_get(
                term,
                common,
                catalog,
                specs,
                str(dest_root),
                transfer,
                broker=broker,
                detach=detach,
                messages=messages,
            )
        raise typer.Exit(code)
    with opened_catalog(common) as catalog:
        run, result = prepare_get(catalog, specs, str(dest_root), transfer, processes=processes)
        logger.info(
            "%d files named: %d new, %d already known, %d changed",
            len(specs),
            result.new,
            result.known,
            result.changed,
        )
        if result.copies:
            logger.info(
                "%d known files wanted under %s as well: copied there", result.copies, dest_root
            )
        code = download_and_report(
            term,
            run,
            show_progress=progress,
            catalog_at=catalog_location(common),
            files_at=str(dest_root),
        )
    raise typer.Exit(code)


def _named_specs(urls: list[str], input_file: Path | None) -> list[FileSpec]:
    specs = specs_from_urls(urls)
    if input_file is not None:
        specs += read_specs(input_file)
    if not specs:
        raise UsageError("nothing to get: give one or more URLs, or -i LIST")
    return specs


def _destination(directory: Path) -> Path:
    root = directory.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory}: not a directory")
    root.mkdir(parents=True, exist_ok=True)
    return root
