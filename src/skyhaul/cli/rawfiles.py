"""``skyhaul files register|scan``: file the raw instrument files at a location.

Rules:
- ``files register SITE/NAME -i MANIFEST`` (columns path, obs_unit, instrument_module,
  size, sha256) registers the good rows and reports each bad one (its line and why) on
  stderr; the exit code is then 2, as for any bad input, though the good rows stay
  registered (registering them again changes nothing). A manifest that cannot be read at
  all registers nothing (one line, exit 2).
- ``files scan SITE/NAME --pattern '{obs_unit}/{instrument_module}/**'`` registers the
  files found in a local location's directory (hashed while scanning); files left for the
  next scan (changing, unreadable) are listed on stderr. Exit 0.
- One summary line on stdout; ``--json`` prints the filing report instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from skyhaul.adapters.raw_manifest import RAW_MANIFEST_COLUMNS
from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.services.observatory.filing import FilingReport, register_manifest, scan

__all__ = ["files_app"]

#: Problems listed on stderr; the rest are counted.
MAX_PROBLEM_LINES = 20

files_app = typer.Typer(
    name="files", help="Register raw instrument files at a location.", no_args_is_help=True
)

LocationRef = Annotated[
    str, typer.Argument(metavar="SITE/NAME", help="The location.", show_default=False)
]


@files_app.command("register")
@with_options(common=build_common)
def register(
    ref: LocationRef,
    manifest: Annotated[
        Path,
        typer.Option(
            "--input-file",
            "-i",
            metavar="MANIFEST",
            help=f"CSV or JSON with {', '.join(RAW_MANIFEST_COLUMNS)}.",
            show_default=False,
        ),
    ],
    *,
    common: CommonOptions,
) -> None:
    """Register the raw files a manifest lists at a location."""
    term = start(common)
    with opened_catalog(common) as catalog:
        report = register_manifest(catalog, ref, manifest)
    _report(term, report)
    for problem in report.bad_rows[:MAX_PROBLEM_LINES]:
        term.err.print(Text(f"bad row skipped: {problem}"), soft_wrap=True)
    _more(term, len(report.bad_rows), "bad rows")
    raise typer.Exit(2 if report.bad_rows else 0)


@files_app.command("scan")
@with_options(common=build_common)
def scan_command(
    ref: LocationRef,
    pattern: Annotated[
        str,
        typer.Option(
            metavar="PATTERN",
            help="Where obs unit and module are in paths: '{obs_unit}/{instrument_module}/**'.",
            show_default=False,
        ),
    ],
    *,
    common: CommonOptions,
) -> None:
    """Register the files found in a local location's directory (hashed as they are read)."""
    term = start(common)
    with opened_catalog(common) as catalog:
        report = scan(catalog, ref, pattern)
    _report(term, report)
    for skip in report.skipped[:MAX_PROBLEM_LINES]:
        term.err.print(Text(f"left for the next scan: {skip.path}: {skip.reason}"), soft_wrap=True)
    _more(term, len(report.skipped), "skipped files")


def _report(term: Terminal, report: FilingReport) -> None:
    if term.json:
        term.emit_json(report.as_json())
        return
    line = (
        f"{report.location}: {report.new:,} new, {report.known:,} known, "
        f"{report.changed:,} changed, {report.locked:,} locked (already packaged)"
    )
    extras = [
        f"{report.unmatched:,} not matching the pattern" if report.unmatched else "",
        f"{len(report.skipped):,} skipped" if report.skipped else "",
        f"{len(report.bad_rows):,} bad rows" if report.bad_rows else "",
    ]
    shown = "; ".join(extra for extra in extras if extra)
    term.out.print(Text(line + (f"; {shown}" if shown else "")))


def _more(term: Terminal, count: int, what: str) -> None:
    hidden = count - MAX_PROBLEM_LINES
    if hidden > 0:
        term.err.print(Text(f"… and {hidden} more {what}"), soft_wrap=True)
