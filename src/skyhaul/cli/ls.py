"""``skyhaul ls``: list the catalog's files, filtered, as a table or a JSON list.

Rules:
- URLs are always shown redacted (tokens and passwords never reach a terminal or a pipe).
- At most ``--limit`` files (100 by default, 0 for all) in id order; when more match,
  a note on stderr says how many.
- ``--json`` shows every field of a catalog file: its own (id first), then its mission
  metadata (:mod:`skyhaul.core.metadata`), then its ``copies`` in further destinations
  (root, path, state, last error; an empty list for most files).
- The table shows a file's copies under its path, one line each.
- ``--where KEY<op>VALUE`` (repeatable) and ``--target NAME`` filter on the FITS header
  values stored with ``--fits-metadata`` (``services.headers``, as ``Client.find_files``
  does); a file without stored headers matches none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_selection,
    parse_between,
    with_options,
)
from skyhaul.core.copies import CopyRecord
from skyhaul.core.filedocs import file_document
from skyhaul.core.fitsheaders import HEADER_COLUMNS
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import FileRecord, Selection
from skyhaul.core.redact import redact_url
from skyhaul.core.units import format_size
from skyhaul.services.headers import header_selection

__all__ = ["ls"]

DEFAULT_LIMIT = 100
_KEYS = ", ".join(column.keyword for column in HEADER_COLUMNS)


@with_options(selection=build_selection, common=build_common)
def ls(
    state: Annotated[
        list[FileState] | None,
        typer.Option(
            "--state",
            "-s",
            case_sensitive=False,
            help="Only files in this state (repeat for several).",
            rich_help_panel="Filters",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, metavar="N", help="Most files to list (0: all).")
    ] = DEFAULT_LIMIT,
    downloaded_between: Annotated[
        tuple[str, str] | None,
        typer.Option(
            metavar="START END",
            help="Only files downloaded in [START, END) (UTC; a date END includes that day).",
            rich_help_panel="Filters",
            show_default=False,
        ),
    ] = None,
    order: Annotated[
        str,
        typer.Option(metavar="COLUMN", help="Order by this column (-column: descending)."),
    ] = "id",
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="KEY<op>VALUE",
            help="Only files whose stored FITS header value meets this (repeat for several): "
            f"KEY one of {_KEYS}; op =, !=, <, <=, >, >=; text any case, * any run of "
            "characters; a date alone is its whole day.",
            rich_help_panel="Filters",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Only files whose FITS TARGNAME is NAME (any case, * wildcards).",
            rich_help_panel="Filters",
            show_default=False,
        ),
    ] = None,
    *,
    selection: Selection,
    common: CommonOptions,
) -> None:
    """List the catalog's files: id, state, size, path, URL, attempts, last error."""
    term = start(common)
    if state:
        selection = dataclasses.replace(selection, states=frozenset(state))
    between = parse_between(downloaded_between)
    if between is not None:
        selection = dataclasses.replace(
            selection, downloaded_start=between[0], downloaded_end=between[1]
        )
    selection = header_selection(selection, where, target) or selection
    # No filter at all is "every file"; say so plainly to the catalog.
    wanted = None if selection == Selection() else selection
    with opened_catalog(common, create=False) as catalog:
        records = catalog.list_files(wanted, limit=limit or None, order=order)
        matching = catalog.count_files(wanted) if len(records) == limit else len(records)
        copies = catalog.copies_of([r.id for r in records])
    if term.json:
        term.emit_json([file_document(r, copies.get(r.id, [])) for r in records])
    else:
        term.out.print(_table(records, copies))
    if matching > len(records):
        term.err.print(
            f"showing {len(records):,} of {matching:,} files (--limit 0 lists all)",
            style="dim",
            highlight=False,
        )


def _table(records: list[FileRecord], copies: dict[int, list[CopyRecord]]) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("path", overflow="fold", ratio=3)
    table.add_column("url", overflow="ellipsis", no_wrap=True, ratio=2)
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("last error", overflow="ellipsis", no_wrap=True, ratio=2)
    for r in records:
        table.add_row(
            str(r.id),
            r.state.value,
            "" if r.size is None else format_size(r.size),
            Text("\n".join([r.path, *_copy_lines(copies.get(r.id, []))])),
            Text(redact_url(r.url)),
            str(r.attempts),
            Text(_last_error(r)),
        )
    return table


def _copy_lines(copies: Sequence[CopyRecord]) -> list[str]:
    return [f"+ copy {c.state.value.lower()}: {c.dest_root}/{c.path}" for c in copies]


def _last_error(record: FileRecord) -> str:
    if not record.last_error:
        return ""
    prefix = f"{record.error_class.value}: " if record.error_class else ""
    return prefix + record.last_error
