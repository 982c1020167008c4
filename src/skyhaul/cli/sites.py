"""``skyhaul site`` and ``skyhaul location``: where the observatory's data lives.

Rules:
- ``site add NAME [--short-name S]``, ``site list``; ``location add SITE/NAME --type T
  --url URL [--priority N] [--inactive]``, ``location list``, ``location set SITE/NAME
  --active|--inactive``. ``--json`` prints the site or location documents of
  :mod:`skyhaul.services.observatory.package_view`.
- A taken or malformed name, an unknown site, a bad URL or type: one line, exit code 2
  (the catalog's ``UsageError``, or typer's for a type it does not know).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.sites import Location, LocationType, parse_location_ref
from skyhaul.errors import UsageError
from skyhaul.services.clock import utc_now
from skyhaul.services.observatory.package_view import location_document, sites_documents
from skyhaul.services.observatory.refs import find_location

__all__ = ["location_app", "site_app"]

site_app = typer.Typer(name="site", help="Sites: places with storage.", no_args_is_help=True)
location_app = typer.Typer(
    name="location",
    help="Storage locations of sites: source, buffer, long-term archive, processing.",
    no_args_is_help=True,
)

LocationRef = Annotated[
    str, typer.Argument(metavar="SITE/NAME", help="The location.", show_default=False)
]


@site_app.command("add")
@with_options(common=build_common)
def site_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The site's name.")],
    short_name: Annotated[
        str | None, typer.Option("--short-name", metavar="S", help="A short name.")
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Add a site."""
    term = start(common)
    with opened_catalog(common) as catalog:
        site = catalog.add_site(name, short_name=short_name, now=utc_now())
    if term.json:
        term.emit_json({"name": site.name, "short_name": site.short_name, "locations": []})
    else:
        term.out.print(Text(f"site {site.name} added ({site.short_name})"))


@site_app.command("list")
@with_options(common=build_common)
def site_list(*, common: CommonOptions) -> None:
    """List the sites and their locations."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        sites = sites_documents(catalog)
    if term.json:
        term.emit_json(sites)
        return
    if not sites:
        term.out.print("no sites (add one with skyhaul site add NAME)", highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Site", "Short name", "Locations"):
        table.add_column(column)
    for site in sites:
        names = ", ".join(loc["name"] for loc in site["locations"]) or "-"
        table.add_row(Text(site["name"]), Text(site["short_name"]), Text(names))
    term.out.print(table)


@location_app.command("add")
@with_options(common=build_common)
def location_add(
    ref: LocationRef,
    type_: Annotated[
        LocationType,
        typer.Option("--type", case_sensitive=False, help="What the location is for."),
    ],
    url: Annotated[
        str,
        typer.Option(metavar="URL", help="file:///absolute/path or s3://bucket/prefix."),
    ],
    priority: Annotated[
        int, typer.Option(metavar="N", help="Higher is tried first (buffers, archives).")
    ] = 0,
    inactive: Annotated[bool, typer.Option("--inactive", help="Add it inactive.")] = False,
    *,
    common: CommonOptions,
) -> None:
    """Add a storage location SITE/NAME."""
    term = start(common)
    site, name = _parsed(ref)
    with opened_catalog(common) as catalog:
        location = catalog.add_location(
            site, name, type_, url, priority=priority, active=not inactive, now=utc_now()
        )
    _show_one(term, location, "added")


@location_app.command("list")
@with_options(common=build_common)
def location_list(*, common: CommonOptions) -> None:
    """List every location: site, type, URL, priority, active."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        locations = catalog.list_locations()
    if term.json:
        term.emit_json([location_document(location) for location in locations])
        return
    if not locations:
        term.out.print("no locations (add one with skyhaul location add)", highlight=False)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Location", "Type", "Priority", "Active"):
        table.add_column(column, justify="right" if column == "Priority" else "left")
    table.add_column("URL", overflow="fold")  # a path cut short is no use
    for doc in map(location_document, locations):
        table.add_row(
            Text(doc["ref"]),
            doc["type"],
            str(doc["priority"]),
            Text("yes", style="green") if doc["active"] else Text("no", style="yellow"),
            Text(doc["url"]),
        )
    term.out.print(table)


@location_app.command("set")
@with_options(common=build_common)
def location_set(
    ref: LocationRef,
    active: Annotated[
        bool | None,
        typer.Option(
            "--active/--inactive",
            help="Make it active (used) or inactive (skipped: failover).",
            show_default=False,
        ),
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Make a location active or inactive."""
    term = start(common)
    if active is None:
        raise UsageError("say --active or --inactive")
    with opened_catalog(common, create=False) as catalog:
        found = find_location(catalog, ref)
        location = catalog.set_location_active(found.site, found.name, active, now=utc_now())
    _show_one(term, location, "active" if active else "inactive")


def _parsed(ref: str) -> tuple[str, str]:
    try:
        return parse_location_ref(ref)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _show_one(term: Terminal, location: Location, what: str) -> None:
    doc = location_document(location)
    if term.json:
        term.emit_json(doc)
    else:
        term.out.print(Text(f"location {doc['ref']} ({doc['type']}, {doc['url']}) {what}"))
