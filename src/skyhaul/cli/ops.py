"""Operator commands: ``recover-stale``, ``retry``, ``ignore``, ``unignore``.

Rules:
- Each is one catalog call applying one lifecycle event to the selected files; the
  lifecycle table decides which states it moves files from, and this module only says
  how many changed (``--json``: ``{"changed": N}``).
- ``ignore`` with no filter and no ``--id`` refuses to act unless ``--all`` is given:
  ignoring every pending file is rarely meant and ``unignore`` cannot tell them apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from skyhaul.cli.common import Terminal, opened_catalog, start
from skyhaul.cli.options import (
    CommonOptions,
    Ids,
    build_common,
    build_selection,
    with_ids,
    with_options,
)
from skyhaul.core.lifecycle import FileEvent, next_state, sources_of
from skyhaul.core.model import Selection
from skyhaul.errors import UsageError

__all__ = ["ignore", "recover_stale", "retry", "unignore"]


@with_options(common=build_common)
def recover_stale(
    instrument: Annotated[
        str | None, typer.Option(help="Only files of this instrument.", rich_help_panel="Filters")
    ] = None,
    *,
    common: CommonOptions,
) -> None:
    """Mark downloads whose lease expired (a dead or hung worker) FAILED, to be retried."""
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        changed = catalog.recover_stale(now=datetime.now(UTC), instrument=instrument)
    _report(term, changed, "recovered from an expired lease (now FAILED, due for retry)")


@with_options(selection=build_selection, common=build_common)
def retry(ids: Ids = None, *, selection: Selection, common: CommonOptions) -> None:
    """Give FAILED and ABANDONED files a new start (back to DISCOVERED)."""
    _apply(FileEvent.RETRY, with_ids(selection, ids), common)


@with_options(selection=build_selection, common=build_common)
def ignore(
    ids: Ids = None,
    all_files: Annotated[
        bool,
        typer.Option(
            "--all", help="Ignore every pending file when no filter is given.", show_default=False
        ),
    ] = False,
    *,
    selection: Selection,
    common: CommonOptions,
) -> None:
    """Set files aside (IGNORED): nothing downloads them until unignore."""
    selection = with_ids(selection, ids)
    if selection == Selection() and not all_files:
        raise UsageError("ignore which files? give a filter or --id N (or --all for every file)")
    _apply(FileEvent.IGNORE, selection, common)


@with_options(selection=build_selection, common=build_common)
def unignore(ids: Ids = None, *, selection: Selection, common: CommonOptions) -> None:
    """Bring IGNORED files back (to DISCOVERED)."""
    _apply(FileEvent.UNIGNORE, with_ids(selection, ids), common)


def _apply(event: FileEvent, selection: Selection, common: CommonOptions) -> None:
    term = start(common)
    with opened_catalog(common, create=False) as catalog:
        changed = catalog.apply_event(event, selection, now=datetime.now(UTC))
    sources = sorted(state.value for state in sources_of(event))
    target = next_state(next(iter(sources_of(event))), event).value
    _report(term, changed, f"set to {target} (from {' or '.join(sources)})")


def _report(term: Terminal, changed: int, what: str) -> None:
    if term.json:
        term.emit_json({"changed": changed})
    else:
        noun = "file" if changed == 1 else "files"
        term.out.print(f"{changed:,} {noun} {what}", highlight=False, markup=False)
