"""``skyhaul mast``: search MAST, list an observation's products, import observations.

Rules:
- ``search`` prints a table of observations (obs_id, target, mission, instrument, time,
  products, total size); ``products OBS_ID`` the products with their sizes and whether
  each is in the cloud; with ``--json`` each prints one JSON list of objects.
- ``import OBS_ID...`` registers one file per product as an ``import`` job and downloads
  it as ``get`` does (same transfer options, progress, Ctrl-C, summary, exit codes);
  the products it skips or refuses are listed (and in ``--json``). ``jobs resume ID``
  resumes it. With ``--executor celery`` the search and the registering happen here (the
  workers need not reach MAST's API), and workers on the ``imports`` queue download.
- MAST is ``--mast-url``, else ``$SKYHAUL_MAST_URL``, else ``https://mast.stsci.edu``;
  an S3 endpoint other than AWS's is ``$AWS_ENDPOINT_URL_S3``.
- Exit codes: 0 done; 1 some product failed or was refused, or MAST failed (as
  ``discover`` when its archive fails); 2 bad input (an unknown obs_id or target name, a
  bad option), nothing registered; 130 interrupted.
- Services are imported inside the commands: ``skyhaul --help`` stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from skyhaul.cli.common import catalog_location, opened_catalog, start
from skyhaul.cli.execution import CELERY, Execution, build_execution
from skyhaul.cli.get import _destination
from skyhaul.cli.mast_report import (
    count,
    import_and_report,
    products_lines,
    search_table,
    submit_import,
)
from skyhaul.cli.options import (
    CommonOptions,
    build_common,
    build_processes,
    build_progress,
    build_transfer,
    with_options,
)
from skyhaul.core.model import TransferOptions

if TYPE_CHECKING:
    from skyhaul.adapters.mast import MastClient

__all__ = ["mast_app"]

logger = logging.getLogger("skyhaul.cli")

T = TypeVar("T")

mast_app = typer.Typer(
    name="mast",
    help="Search MAST (the Mikulski Archive for Space Telescopes) and import observations.",
    no_args_is_help=True,
)

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
    term.out.print(search_table(rows))
    term.out.print(count(len(rows), "observation"), highlight=False)


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
    from skyhaul.services.mast_products import listed_products

    term = start(common)
    listed = _ask(
        mast_url, lambda client: listed_products(client, obs_id, product_type=product_type)
    )
    if term.json:
        term.emit_json([entry.as_json(url) for entry, url in listed])
        return
    for line in products_lines(entry for entry, _ in listed):
        term.out.print(line, highlight=False)


@mast_app.command("import")
@with_options(
    common=build_common,
    transfer=build_transfer,
    processes=build_processes,
    progress=build_progress,
    execution=build_execution,
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
    execution: Execution,
) -> None:
    """Import observations: one file per product under DIR/<mission>/<obs_id>/, as a job."""
    from skyhaul.services.mast_import import (
        SourceChoice,
        plan_import,
        prepare_import,
        query_params,
        queue_import,
    )

    term = start(common)
    execution = execution.resolve()
    root = _destination(directory)
    choice = SourceChoice(source.value)
    url = _mast_url(mast_url)
    plan = _ask(
        url,
        lambda client: plan_import(client, obs_ids, product_type=product_type, source=choice),
        verify_tls=transfer.verify_tls,
    )
    params: dict[str, object] = {"mast": query_params(url, obs_ids, product_type, choice)}
    if execution.celery:
        with opened_catalog(common) as catalog:
            params["executor"] = CELERY
            job_id, _ = queue_import(catalog, plan, str(root), transfer, params=params)
            code = submit_import(term, common, catalog, job_id, plan, execution)
        raise typer.Exit(code)
    with opened_catalog(common) as catalog:
        run, registered = prepare_import(
            catalog, plan, str(root), transfer, processes=processes, params=params
        )
        if plan.specs:
            logger.info(
                "%d products to import: %d new, %d already known",
                len(plan.specs),
                registered.new,
                registered.known,
            )
        else:
            of_type = f" of type {product_type}" if product_type else ""
            logger.warning("no products%s to import", of_type)
        code = import_and_report(
            term,
            run,
            plan,
            show_progress=progress,
            catalog_at=catalog_location(common),
            files_at=str(root),
        )
    raise typer.Exit(code)


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
