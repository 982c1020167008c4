"""``skyhaul verify``: read back every present copy of the selected files and compare it
with the sha256 it was verified with.

Rules:
- The check is ``services.verify.check_stored`` (thorough): the DOWNLOADED files' own
  copies and their PRESENT copies. A copy missing or changed is recorded through the
  lifecycle (a file to FAILED, a copy to WANTED), so the next ``download`` or ``get``
  fetches (or copies) it again.
- Output: one line of counts (checked, ok, missing, changed), then one line per damaged
  copy (at most ``MAX_DAMAGE_LINES``); ``--json`` prints the report as one object.
- Exit code: 1 when damage was found, else 0.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from skyhaul.cli.common import opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    Ids,
    build_common,
    build_selection,
    with_ids,
    with_options,
)
from skyhaul.core.model import Selection

__all__ = ["verify"]

#: Damaged copies listed under the counts; the rest are counted.
MAX_DAMAGE_LINES = 20


@with_options(selection=build_selection, common=build_common)
def verify(ids: Ids = None, *, selection: Selection, common: CommonOptions) -> None:
    """Re-hash the present copies of downloaded files; fetch damaged ones again later."""
    term = start(common)
    # Imported here, as the commands that download do: most commands never need them.
    from skyhaul.adapters.local_copies import LocalCopies
    from skyhaul.services.verify import check_stored

    selection = with_ids(selection, ids)
    with opened_catalog(common, create=False) as catalog:
        report = check_stored(catalog, LocalCopies(), selection=selection, thorough=True)
    if term.json:
        term.emit_json(report.as_json())
    else:
        damaged = bool(report.damaged)
        term.out.print(
            Text(
                f"{report.checked:,} checked: {report.ok:,} ok, {report.missing:,} missing, "
                f"{report.changed:,} changed",
                style="bold red" if damaged else "bold green",
            )
        )
        for damage in report.damaged[:MAX_DAMAGE_LINES]:
            where = Path(damage.copy.dest_root, damage.copy.path)
            kind = "copy" if damage.copy.copy_id is not None else "file"
            term.out.print(
                Text(f"  {damage.condition.value:<8} {kind} {damage.copy.file_id}: ")
                + Text(str(where))
                + Text(f" ({damage.detail})", style="dim")
            )
        hidden = len(report.damaged) - MAX_DAMAGE_LINES
        if hidden > 0:
            term.out.print(Text(f"  … and {hidden} more (skyhaul ls --state FAILED)"))
        if damaged:
            term.out.print(Text("The next download fetches them again."))
    raise typer.Exit(1 if report.damaged else 0)
