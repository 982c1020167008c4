"""``skyhaul fits``: what the catalog holds of files' FITS content.

Rules:
- ``fits show PATH_OR_ID`` prints a file's indexed header values, its archive record
  (``origin``) and its stored cards per HDU (the primary and the science extension's),
  as ``services.headers`` reads them; ``--json`` prints that document.
- A file is named by its catalog id, or by its path (its destination or a copy's,
  absolute or relative to the working directory). No such file: one line, exit 2.
- A file without stored headers (downloaded without ``--fits-metadata``, or not yet)
  is shown all the same, with a note on stderr, and the exit code is 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.services.headers import headers_document

__all__ = ["fits_app"]

fits_app = typer.Typer(
    name="fits",
    help="FITS headers stored in the catalog (downloads with --fits-metadata).",
    no_args_is_help=True,
)


@fits_app.command("show")
@with_options(common=build_common)
def show(
    file: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_ID",
            help="A catalog file id, or the path of a downloaded file.",
            show_default=False,
        ),
    ],
    *,
    common: CommonOptions,
) -> None:
    """Print a file's stored FITS headers: indexed values, origin, cards."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        document = headers_document(catalog, file)
    if term.json:
        term.emit_json(document)
    else:
        _print(term, document)
    if not document["hdus"]:
        term.err.print(
            f"file {document['id']} has no stored FITS headers "
            "(they are stored by downloads with --fits-metadata)",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)


def _print(term: Terminal, document: dict[str, object]) -> None:
    out = term.out
    lines = [f"file {document['id']}  {document['state']}  {document['path']}"]
    if document["read_at"]:
        lines.append(f"headers read {document['read_at']}")
    values = document["values"]
    assert isinstance(values, dict)
    lines.append("")
    lines += [f"{key:<9} {'-' if value is None else value}" for key, value in values.items()]
    if document["origin"] is not None:
        lines += ["", "origin:", json.dumps(document["origin"], indent=2, default=str)]
    hdus = document["hdus"]
    assert isinstance(hdus, list)
    for hdu in hdus:
        lines += ["", f"HDU {hdu['index']} {hdu['name']}".rstrip()]
        lines += [_card_line(*card) for card in hdu["cards"]]
    if document["truncated"]:
        lines += ["", "(cards left out to stay within the catalog's bound)"]
    out.print(Text("\n".join(lines)), highlight=False)


def _card_line(keyword: str, value: object, comment: str) -> str:
    """A card as FITS writes it (without its 80-column bound)."""
    if keyword in ("COMMENT", "HISTORY", ""):
        return f"{keyword:<8}{'' if value is None else value}"
    if isinstance(value, bool):
        text = f"{'T' if value else 'F':>20}"
    elif isinstance(value, str):
        text = "'" + value.replace("'", "''") + "'"
        text = f"{text:<20}"
    elif value is None:
        text = " " * 20
    else:
        text = f"{value!s:>20}"
    line = f"{keyword:<8}= {text}"
    return f"{line} / {comment}" if comment else line.rstrip()
