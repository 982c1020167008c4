"""``skyhaul status``: how many files, and how many bytes, in each state.

Rules:
- Every state is listed, zeros included, in lifecycle order; bytes count known sizes only.
- ``--json`` prints ``{"states": {STATE: {"count", "bytes"}}, "total": {"count", "bytes"}}``.
"""

from __future__ import annotations

from rich.table import Table

from skyhaul.cli.common import catalog_location, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import StateTotals
from skyhaul.core.units import format_size
from skyhaul.services.file_view import status_document, total_of

__all__ = ["status"]


@with_options(common=build_common)
def status(*, common: CommonOptions) -> None:
    """Show how many files and bytes the catalog holds in each state."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        totals = catalog.status_summary()
    if term.json:
        term.emit_json(status_document(totals))
        return
    table = Table(title=f"Catalog {catalog_location(common)}", title_justify="left")
    table.add_column("State")
    table.add_column("Files", justify="right")
    table.add_column("Size", justify="right")
    for state in FileState:
        entry = totals.get(state, StateTotals())
        table.add_row(state.value, f"{entry.count:,}", format_size(entry.bytes))
    total = total_of(totals)
    table.add_section()
    table.add_row("total", f"{total.count:,}", format_size(total.bytes), style="bold")
    term.out.print(table)
