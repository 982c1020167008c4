"""``skyhaul status``: how many files, and how many bytes, in each state.

Rules:
- Every state is listed, zeros included, in lifecycle order; bytes count known sizes only.
- ``--json`` prints ``{"states": {STATE: {"count", "bytes"}}, "total": {"count", "bytes"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from skyhaul.cli.common import catalog_location, opened_catalog, start
from skyhaul.cli.options import CommonOptions, build_common, with_options
from skyhaul.core.lifecycle import FileState
from skyhaul.core.model import StateTotals
from skyhaul.core.units import format_size

__all__ = ["status", "status_document"]


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
    total = _total(totals)
    table.add_section()
    table.add_row("total", f"{total.count:,}", format_size(total.bytes), style="bold")
    term.out.print(table)


def status_document(totals: Mapping[FileState, StateTotals]) -> dict[str, object]:
    """Return the ``--json`` document of ``status`` for the catalog's per-state totals."""
    states = {state.value: _entry(totals.get(state, StateTotals())) for state in FileState}
    return {"states": states, "total": _entry(_total(totals))}


def _total(totals: Mapping[FileState, StateTotals]) -> StateTotals:
    return StateTotals(
        count=sum(t.count for t in totals.values()), bytes=sum(t.bytes for t in totals.values())
    )


def _entry(totals: StateTotals) -> dict[str, int]:
    return {"count": totals.count, "bytes": totals.bytes}
