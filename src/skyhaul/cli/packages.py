"""``skyhaul packages``, ``skyhaul copies`` and ``skyhaul stage``: raw data packages,
where their bytes are, and staging archived ones for use.

Rules:
- ``packages [--state S]...`` lists each package: state, members, size, sha256, copies
  (location and status) and its error. ``copies WHAT`` shows where a package (by name)
  or a raw file (``SITE/NAME:path`` or its id) is. Both print the documents of
  :mod:`skyhaul.services.observatory.package_view` with ``--json``.
- ``stage OBS_UNIT|PACKAGE --to SITE/NAME`` unpacks the ARCHIVED package(s) from an
  archive copy into a PROCESSING location, as STAGE operations run in this process
  (:mod:`skyhaul.services.observatory.staging`): a ``stage`` killed midway is finished by
  the next one (or by ``skyhaul pipeline run --stages staging``).
- Unknown names, a bad reference, nothing archived to stage: one line, exit code 2.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.packages import PackageState
from skyhaul.core.units import format_size
from skyhaul.services.observatory.package_view import copies_of, packages_documents

__all__ = ["copies", "packages", "stage"]

_STATE_STYLE = {
    PackageState.WAITING.value: "cyan",
    PackageState.TRANSFERRING.value: "blue",
    PackageState.ARCHIVED.value: "green",
    PackageState.FAILED.value: "bold red",
}


@with_options(common=build_common)
def packages(
    state: Annotated[
        list[PackageState] | None,
        typer.Option(
            "--state",
            "-s",
            case_sensitive=False,
            help="Only packages in this state (repeat for several).",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """List raw data packages: state, members, size, sha256, copies, error."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        docs = packages_documents(catalog, state)
    if term.json:
        term.emit_json(docs)
        return
    if not docs:
        term.out.print("no packages" + (" in that state" if state else ""), highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "Package", "State", "Members", "Size", "sha256"):
        right = column in ("ID", "Members", "Size")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    table.add_column("Copies", overflow="fold", min_width=12)  # wraps; names stay whole
    failing = any(doc["error"] for doc in docs)
    if failing:
        table.add_column("Error", overflow="fold", min_width=16)
    for doc in docs:
        table.add_row(
            str(doc["id"]),
            Text(doc["name"]),
            Text(doc["state"], style=_STATE_STYLE.get(doc["state"], "")),
            str(doc["members"]),
            format_size(doc["size"]) if doc["size"] is not None else "-",
            (doc["sha256"] or "-")[:12],
            Text(_copies_cell(doc["copies"])),
            *([Text(doc["error"] or "", style="red")] if failing else []),
        )
    term.out.print(table)


@with_options(common=build_common)
def copies(
    what: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_PACKAGE",
            help="A package name, or a raw file as SITE/NAME:path or its id.",
            show_default=False,
        ),
    ],
    *,
    common: CommonOptions,
) -> None:
    """Show where the copies of a package or a raw file are, and their status."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        doc = copies_of(catalog, what)
    if term.json:
        term.emit_json(doc)
        return
    if doc["kind"] == "package":
        package = doc["package"]
        found = package["copies"]
        term.out.print(
            Text(f"package {package['name']} ")
            + Text(package["state"], style=_STATE_STYLE.get(package["state"], ""))
            + Text(f", {package['members']} members, sha256 {package['sha256'] or '-'}")
        )
    else:
        file = doc["file"]
        found = doc["copies"]
        term.out.print(
            Text(f"raw file {file['id']} {file['location']}:{file['path']}, ")
            + Text(f"{format_size(file['size'])}, sha256 {file['sha256']}")
        )
    _copies_table(term, found)


@with_options(common=build_common)
def stage(
    what: Annotated[
        str,
        typer.Argument(
            metavar="OBS_UNIT|PACKAGE",
            help="An observation unit (all its archived packages) or a package name.",
            show_default=False,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="SITE/NAME", help="The PROCESSING location.", show_default=False
        ),
    ],
    *,
    common: CommonOptions,
) -> None:
    """Unpack archived packages into a PROCESSING location (copies STAGED)."""
    term = start(common)
    # Imported here: the storage adapters (obstore) are heavy, and only staging needs them.
    from skyhaul.services.observatory.staging import stage as stage_packages

    with opened_catalog(common, create=False) as catalog:
        report = asyncio.run(stage_packages(catalog, what, to))
    if term.json:
        term.emit_json(report.as_json())
        return
    for package in report.packages:
        source = f"from {package.archive}" if package.archive else "by another worker"
        term.out.print(
            Text(
                f"{package.name}: {package.files} files ({format_size(package.bytes)}) "
                f"staged {source}"
            )
        )
    term.out.print(Text(f"{len(report.packages)} package(s) staged at {report.destination}"))


def _copies_cell(found: list[dict[str, Any]]) -> str:
    """Where the package is now (deleted copies are history: ``skyhaul copies`` shows them)."""
    here = [c for c in found if c["status"] != "DELETED"]
    shown = ", ".join(
        c["location"] if c["status"] == "PRESENT" else f"{c['location']} ({c['status'].lower()})"
        for c in here
    )
    return shown or "-"


def _copies_table(term: Terminal, found: list[dict[str, Any]]) -> None:
    if not found:
        term.out.print("no copies recorded", highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Location", "Type", "Path", "Status", "Verified (UTC)"):
        table.add_column(column)
    for copy in found:
        table.add_row(
            Text(copy["location"]),
            copy["location_type"] or "",
            Text(copy["path"]),
            copy["status"],
            (copy["verified_at"] or "never")[:19],
        )
    term.out.print(table)
