"""What ``skyhaul mast`` prints: its tables, and an import's run with its summary.

Rules:
- Tables go to stdout; text from MAST (names, file names) is printed plain, never as
  markup.
- An import runs as ``get``'s run does (``cli.transfer``'s exit codes, live progress only
  on terminals, the first Ctrl-C stops resumably): its summary is ``get``'s, followed by
  the products it skipped and refused (``--json``: one object, the run's summary with
  ``products``, ``skipped`` and ``refused``). Refused products make the exit code 1.
- An import run by workers (``submit_import``) ends with the job's counts
  (``cli.execution``), then the same products set aside, and the same exit codes.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from skyhaul.cli.common import Terminal
from skyhaul.cli.execution import Execution, submit
from skyhaul.cli.options import CommonOptions
from skyhaul.core.jobs import JobKind
from skyhaul.core.units import format_size

if TYPE_CHECKING:
    from skyhaul.adapters.catalog import Catalog
    from skyhaul.services.acquire import AcquireResult
    from skyhaul.services.mast_import import ImportPlan
    from skyhaul.services.mast_products import ProductEntry
    from skyhaul.services.mast_search import SearchRow
    from skyhaul.services.runs import DownloadRun

__all__ = ["count", "import_and_report", "products_lines", "search_table", "submit_import"]

logger = logging.getLogger("skyhaul.cli")

#: Products set aside listed after a human summary; ``--json`` lists all.
SHOWN_ASIDE = 10


def count(n: int, noun: str) -> str:
    """``1 product``, ``2 products``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def search_table(rows: Iterable[SearchRow]) -> Table:
    """The observations found: obs_id, target, mission, instrument, time, products, size."""
    table = Table(show_edge=False, pad_edge=False)
    # Ids, missions and times read whole; names fold when the terminal is narrow.
    table.add_column("obs_id", no_wrap=True)
    table.add_column("target", overflow="fold", min_width=8)
    table.add_column("mission", no_wrap=True)
    table.add_column("instrument", overflow="fold", min_width=8)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("products", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for row in rows:
        o = row.observation
        start, end = o.start, o.end
        when = "" if start is None else start.strftime("%Y-%m-%d %H:%M")
        if end is not None:
            same_day = start is not None and start.date() == end.date()
            when += f"..{end.strftime('%H:%M' if same_day else '%Y-%m-%d %H:%M')}"
        cells = (o.obs_id, o.target, o.mission, o.instrument, when, str(row.products))
        table.add_row(*(Text(cell or "") for cell in cells), format_size(row.size))
    return table


def products_lines(entries: Iterable[ProductEntry]) -> Iterator[RenderableType]:
    """The products: file, type, size, in the cloud or not; then a totals line."""
    listed = list(entries)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("file", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("cloud", no_wrap=True)
    for entry in listed:
        size = entry.product.size
        table.add_row(
            Text(entry.filename),
            Text(entry.product.product_type or ""),
            "" if size is None else format_size(size),
            "yes" if entry.cloud_key else "no",
        )
    yield table
    total = sum(e.product.size or 0 for e in listed)
    in_cloud = sum(1 for e in listed if e.cloud_key)
    yield f"{count(len(listed), 'product')}, {format_size(total)}; {in_cloud} in the cloud"


def import_and_report(
    term: Terminal,
    run: DownloadRun,
    plan: ImportPlan,
    *,
    show_progress: bool,
    catalog_at: str,
    files_at: str,
) -> int:
    """Run a prepared import job, show its progress, print its summary; return the exit code."""
    from skyhaul.cli.render import live_progress, summary_lines
    from skyhaul.cli.transfer import exit_code
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
        for line in summary_lines(result.run.summary, files_at=files_at, catalog_at=catalog_at):
            term.out.print(line, highlight=False)
        _print_aside(term, plan)
    code = exit_code(result.run.summary)
    return 1 if code == 0 and plan.refused else code


def submit_import(
    term: Terminal,
    common: CommonOptions,
    catalog: Catalog,
    job_id: int,
    plan: ImportPlan,
    execution: Execution,
) -> int:
    """Hand queued import job ``job_id`` to the workers and follow it (unless detached);
    return the exit code."""
    extra = {
        "products": len(plan.specs),
        "skipped": [s.as_json() for s in plan.skipped],
        "refused": [s.as_json() for s in plan.refused],
    }
    code = submit(term, common, catalog, job_id, JobKind.IMPORT, execution, extra=extra)
    if execution.detach:
        return code
    if not term.json:
        _print_aside(term, plan)
    return 1 if code == 0 and plan.refused else code


def _print_aside(term: Terminal, plan: ImportPlan) -> None:
    for what, aside in (("skipped", plan.skipped), ("refused", plan.refused)):
        if aside:
            term.out.print(f"{count(len(aside), 'product')} {what}:", highlight=False)
        for item in aside[:SHOWN_ASIDE]:
            term.out.print(Text(f"  {item.obs_id}/{item.filename}: {item.reason}"))
        if len(aside) > SHOWN_ASIDE:
            term.out.print(f"  ... and {len(aside) - SHOWN_ASIDE} more (--json lists all)")
