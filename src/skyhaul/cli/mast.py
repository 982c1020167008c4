"""``skyhaul mast``: search MAST, list an observation's products, import observations.

Rules:
- ``search`` prints a table of observations (obs_id, target, mission, instrument, time,
  products, total size); ``products OBS_ID`` the products with their sizes and whether
  each is in the cloud; with ``--json`` each prints one JSON list of objects.
- ``import OBS_ID...`` registers one file per product as an ``import`` job and downloads
  it as ``get`` does (same transfer options, progress, Ctrl-C, summary, exit codes);
  the products it skips or refuses are listed (and in ``--json``). ``jobs resume ID``
  resumes it.
- MAST is ``--mast-url``, else ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``;
  an S3 endpoint other than AWS's is ``$AWS_ENDPOINT_URL_S3``.
- Exit codes: 0 done; 1 some product failed or was refused, or MAST failed (as
  ``discover`` when its archive fails); 2 bad input (an unknown obs_id or target name, a
  bad option), nothing registered; 130 interrupted.
- Services are imported inside the commands: ``skyhaul --help`` stays light.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from skyhaul.cli.common import Terminal, catalog_location, opened_catalog, start
from skyhaul.cli.get import _destination
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_processes,
    build_progress,
    build_transfer,
    with_options,
)
from skyhaul.core.model import TransferOptions
from skyhaul.core.units import format_size

if TYPE_CHECKING:
    from skyhaul.adapters.mast import MastClient
    from skyhaul.services.mast_import import ImportPlan
    from skyhaul.services.mast_search import SearchRow
    from skyhaul.services.runs import DownloadRun

__all__ = ["mast_app"]

logger = logging.getLogger("skyhaul.cli")

T = TypeVar("T")

mast_app = typer.Typer(
    name="mast",
    help="Search MAST (the Mikulski Archive for Space Telescopes) and import observations.",
    no_args_is_help=True,
)

_QUERY = "Query"
_SHOWN_ASIDE = 10  # products set aside listed after a human summary

MastUrl = Annotated[
    str | None,
    typer.Option(
        "--mast-url",
        envvar="SKYHAUL_MAST_URL",
        metavar="URL",
        help="MAST's root URL \\[default: https://mast.stsci.edu].",
        show_envvar=True,
    ),
]
ProductType = Annotated[
    str | None,
    typer.Option(
        "--product-type",
        metavar="TYPE",
        help="Only products of this type (SCIENCE, CALIBRATION, AUXILIARY, PREVIEW...).",
        show_default="all",
    ),
]


class Source(StrEnum):
    """Where imported products are fetched from."""

    auto = "auto"
    s3 = "s3"
    http = "http"


def build_output(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON list of objects on stdout.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> CommonOptions:
    """The output options of the commands that only ask MAST."""
    return CommonOptions(json=as_json, verbose=verbose)


@mast_app.command("search")
@with_options(common=build_output)
def search(
    target: Annotated[
        str | None, typer.Option(metavar="NAME", help="A name MAST resolves (M31, NGC 1300).")
    ] = None,
    ra: Annotated[float | None, typer.Option(metavar="DEG", help="Right ascension.")] = None,
    dec: Annotated[float | None, typer.Option(metavar="DEG", help="Declination.")] = None,
    radius: Annotated[
        str, typer.Option(metavar="ANGLE", help="Around the target or position: 3arcmin, 0.1deg.")
    ] = "3arcmin",
    obs_id: Annotated[str | None, typer.Option(metavar="ID", help="One observation.")] = None,
    mission: Annotated[
        str | None, typer.Option(metavar="NAME", help="obs_collection: JWST, HST, TESS...")
    ] = None,
    instrument: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="NIRCAM (every mode), NIRCAM/IMAGE, or a wildcard."),
    ] = None,
    product_type: ProductType = None,
    calib_level: Annotated[
        str | None, typer.Option(metavar="LEVELS", help="Calibration levels, e.g. 2,3.")
    ] = None,
    mast_url: MastUrl = None,
    *,
    common: CommonOptions,
) -> None:
    """Search MAST's observations by target, position or obs_id."""
    from skyhaul.services.mast_search import (
        SearchCriteria,
        parse_calib_levels,
        parse_radius,
    )
    from skyhaul.services.mast_search import search as search_mast

    term = start(common)
    criteria = SearchCriteria(
        target=target,
        ra=ra,
        dec=dec,
        radius=parse_radius(radius),
        obs_id=obs_id,
        mission=mission,
        instrument=instrument,
        calib_levels=parse_calib_levels(calib_level) if calib_level else (),
        product_type=product_type,
    )
    criteria.check()
    rows = _ask(mast_url, lambda client: search_mast(client, criteria))
    if term.json:
        term.emit_json([row.as_json() for row in rows])
        return
    term.out.print(_search_table(rows))
    term.out.print(f"{len(rows)} observations", highlight=False)


@mast_app.command("products")
@with_options(common=build_output)
def products(
    obs_id: Annotated[str, typer.Argument(metavar="OBS_ID", help="The observation.")],
    product_type: ProductType = None,
    mast_url: MastUrl = None,
    *,
    common: CommonOptions,
) -> None:
    """List an observation's products: sizes, and which are in the cloud."""
    from skyhaul.services.mast_products import ProductEntry, find_observations, products_of

    term = start(common)

    async def ask(client: MastClient) -> list[tuple[ProductEntry, str]]:
        found = await find_observations(client, [obs_id])
        entries = await products_of(client, found, product_type=product_type, cloud=True)
        return [(e, client.download_url(e.product.data_uri)) for e in entries]

    listed = _ask(mast_url, ask)
    if term.json:
        term.emit_json([entry.as_json(url) for entry, url in listed])
        return
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("file", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("cloud", no_wrap=True)
    for entry, _ in listed:
        size = entry.product.size
        table.add_row(
            entry.filename,
            entry.product.product_type or "",
            "" if size is None else format_size(size),
            "yes" if entry.cloud_key else "no",
        )
    term.out.print(table)
    total = sum(e.product.size or 0 for e, _ in listed)
    in_cloud = sum(1 for e, _ in listed if e.cloud_key)
    term.out.print(
        f"{len(listed)} products, {format_size(total)}; {in_cloud} in the cloud", highlight=False
    )


@mast_app.command("import")
@with_options(
    common=build_common,
    transfer=build_transfer,
    processes=build_processes,
    progress=build_progress,
)
def import_(
    obs_ids: Annotated[
        list[str], typer.Argument(metavar="OBS_ID...", help="Observations to import.")
    ],
    product_type: ProductType = None,
    source: Annotated[
        Source,
        typer.Option(
            case_sensitive=False,
            help="auto: S3 first for products in the cloud, MAST as mirror; s3: cloud "
            "products only; http: MAST only.",
        ),
    ] = Source.auto,
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", "-d", metavar="DIR", help="Destination root.", show_default="current directory"
        ),
    ] = Path(),
    mast_url: MastUrl = None,
    *,
    common: CommonOptions,
    transfer: TransferOptions,
    processes: int | None,
    progress: bool,
) -> None:
    """Import observations: one file per product under DIR/<mission>/<obs_id>/, as a job."""
    from skyhaul.services.mast_import import SourceChoice, plan_import, prepare_import

    term = start(common)
    root = _destination(directory)
    choice = SourceChoice(source.value)
    url = _mast_url(mast_url)
    plan = _ask(
        url,
        lambda client: plan_import(client, obs_ids, product_type=product_type, source=choice),
        verify_tls=transfer.verify_tls,
    )
    params = {
        "mast": {
            "url": url,
            "obs_ids": list(obs_ids),
            "product_type": product_type,
            "source": choice.value,
        }
    }
    with opened_catalog(common) as catalog:
        run, registered = prepare_import(
            catalog, plan, str(root), transfer, processes=processes, params=params
        )
        logger.info(
            "%d products to import: %d new, %d already known",
            len(plan.specs),
            registered.new,
            registered.known,
        )
        code = _import_and_report(
            term,
            run,
            plan,
            show_progress=progress,
            catalog_at=catalog_location(common),
            files_at=str(root),
        )
    raise typer.Exit(code)


def _import_and_report(
    term: Terminal,
    run: DownloadRun,
    plan: ImportPlan,
    *,
    show_progress: bool,
    catalog_at: str,
    files_at: str,
) -> int:
    """Run the import's job as ``get`` runs its own, then print the summary with the
    products set aside; return the exit code."""
    from skyhaul.cli.render import live_progress, summary_lines
    from skyhaul.cli.transfer import exit_code
    from skyhaul.services.acquire import AcquireResult
    from skyhaul.services.cancellation import run_cancellable
    from skyhaul.services.mast_import import ImportResult

    live = show_progress and sys.stdout.isatty() and term.err.is_terminal

    async def job(cancel: asyncio.Event) -> AcquireResult:
        if not live:
            return await run.run(cancel)
        async with live_progress(run.progress, term.err):
            return await run.run(cancel)

    def notice(signal_name: str) -> None:
        logger.warning(
            "%s: stopping; files stay resumable (Ctrl-C again quits at once)", signal_name
        )

    result = ImportResult(run_cancellable(job, on_cancel=notice), plan)
    if term.json:
        term.emit_json(result.as_json())
    else:
        summary = result.run.summary
        for line in summary_lines(summary, files_at=files_at, catalog_at=catalog_at):
            term.out.print(line, highlight=False)
        for what, aside in (("skipped", plan.skipped), ("refused", plan.refused)):
            if aside:
                term.out.print(f"{len(aside)} products {what}:", highlight=False)
            for item in aside[:_SHOWN_ASIDE]:
                term.out.print(f"  {item.obs_id}/{item.filename}: {item.reason}", highlight=False)
            if len(aside) > _SHOWN_ASIDE:
                term.out.print(f"  ... and {len(aside) - _SHOWN_ASIDE} more (--json lists all)")
    code = exit_code(result.run.summary)
    return 1 if code == 0 and plan.refused else code


def _search_table(rows: list[SearchRow]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("obs_id", no_wrap=True)
    for name in ("target", "mission", "instrument", "time (UTC)"):
        table.add_column(name, overflow="fold")
    table.add_column("products", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for row in rows:
        o = row.observation
        start, end = o.start, o.end
        when = "" if start is None else start.strftime("%Y-%m-%d %H:%M")
        if end is not None:
            same_day = start is not None and start.date() == end.date()
            when += f"..{end.strftime('%H:%M' if same_day else '%Y-%m-%d %H:%M')}"
        table.add_row(
            o.obs_id,
            o.target or "",
            o.mission or "",
            o.instrument or "",
            when,
            str(row.products),
            format_size(row.size),
        )
    return table


def _mast_url(value: str | None) -> str:
    from skyhaul.adapters.mast import mast_url

    return mast_url(value, os.environ)


def _ask(
    url: str | None, ask: Callable[[MastClient], Awaitable[T]], *, verify_tls: bool = True
) -> T:
    """Ask MAST under Ctrl-C: ``ask(client)``'s answer."""
    from skyhaul.services.cancellation import run_cancellable
    from skyhaul.services.mast_session import ask_mast

    where = _mast_url(url)
    return run_cancellable(lambda cancel: ask_mast(where, ask, cancel, verify_tls=verify_tls))
