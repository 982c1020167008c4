"""Draw a run for people: live progress while it runs, a summary when it ends.

Rules:
- Progress data comes from ``ProgressBoard.snapshot()`` only; this module draws it and
  decides nothing. The board is read on the event loop thread (no refresh thread), about
  ten times a second, so the engine and the drawing never race.
- Live progress goes to the stderr console, where the log handler also writes, so log
  lines print above the bars instead of breaking them.
- Text from outside (URLs, server messages) is printed as plain text, never as markup;
  URLs are redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from skyhaul.core.model import RunSummary
from skyhaul.core.progress import ProgressSnapshot, SnapshotSource
from skyhaul.core.redact import redact_url
from skyhaul.core.units import format_duration, format_size

__all__ = ["live_progress", "render_snapshot", "summary_lines"]

#: Active files shown under the aggregate bar; the rest are counted.
MAX_ACTIVE_ROWS = 8
#: Failures listed under the summary line; the rest are counted.
MAX_FAILURE_LINES = 10
_BAR_WIDTH = 30
_NAME_WIDTH = 48
_AMOUNT_WIDTH = len("1023.9 MiB / 1023.9 MiB")
_SPEED_WIDTH = len("1023.9 MiB/s")
_TIME_WIDTH = len("ETA 23h59m")
_FIXED_WIDTH = _AMOUNT_WIDTH + _SPEED_WIDTH + _TIME_WIDTH + 4  # 4: padding between columns


def render_snapshot(
    snapshot: ProgressSnapshot, *, width: int = 100, final: bool = False
) -> RenderableType:
    """Draw one progress snapshot: an aggregate bar, then a row per active file.

    Parameters
    ----------
    snapshot : ProgressSnapshot
        What the board says now.
    width : int
        Columns available (the console's width).
    final : bool
        The last frame: no rows for active files, elapsed time instead of the ETA.

    Returns
    -------
    RenderableType
        A rich renderable for a ``Live`` display.
    """
    flexible = max(24, width - _FIXED_WIDTH)
    bar_width = min(_BAR_WIDTH, flexible // 2)
    name_width = min(_NAME_WIDTH, flexible - bar_width)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=name_width)
    grid.add_column(no_wrap=True, width=bar_width)
    grid.add_column(no_wrap=True, justify="right", width=_AMOUNT_WIDTH)
    grid.add_column(no_wrap=True, justify="right", width=_SPEED_WIDTH)
    grid.add_column(no_wrap=True, width=_TIME_WIDTH)

    files = f"{snapshot.files_done}/{snapshot.files_total} files"
    if snapshot.files_retrying:
        files += f", {snapshot.files_retrying} retrying"
    if snapshot.files_failed:
        files += f", {snapshot.files_failed} failed"
    if final or snapshot.eta is None:
        when = format_duration(snapshot.elapsed)
    else:
        when = f"ETA {format_duration(snapshot.eta)}"
    grid.add_row(
        Text(_shorten(files, name_width), style="bold"),
        _bar(snapshot.bytes_total, snapshot.bytes_done, bar_width),
        Text(_amount(snapshot.bytes_done, snapshot.bytes_total)),
        Text(_speed(snapshot.speed)),
        Text(when, style="cyan"),
    )
    if final:
        return grid
    for item in snapshot.active[:MAX_ACTIVE_ROWS]:
        grid.add_row(
            Text("  " + _shorten(item.name, name_width - 2)),
            _bar(item.total, item.done, bar_width),
            Text(_amount(item.done, item.total)),
            Text(_speed(item.speed)),
            Text(""),
        )
    hidden = len(snapshot.active) - MAX_ACTIVE_ROWS
    if hidden > 0:
        return Group(grid, Text(f"  … {hidden} more in flight", style="dim"))
    return grid


@asynccontextmanager
async def live_progress(
    board: SnapshotSource, console: Console, *, interval: float = 0.1
) -> AsyncIterator[None]:
    """Show the board live on ``console`` while the body runs.

    Parameters
    ----------
    board : SnapshotSource
        Read with ``snapshot()`` every ``interval`` seconds, on the event loop.
    console : Console
        Where to draw (stderr), shared with the log handler.
    interval : float
        Seconds between frames.
    """

    def frame(final: bool = False) -> RenderableType:
        return render_snapshot(board.snapshot(), width=console.width, final=final)

    with Live(
        frame(),
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as live:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(interval)
                live.update(frame(), refresh=True)

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            live.update(frame(final=True), refresh=True)


def summary_lines(
    summary: RunSummary, *, files_at: str | None, catalog_at: str
) -> list[RenderableType]:
    """Describe a finished run: counts, bytes and rate, failures, where things are.

    Parameters
    ----------
    summary : RunSummary
        What the engine reported.
    files_at : str or None
        The destination root, when the run had one.
    catalog_at : str
        Where the catalog lives (a file path or a redacted URL).

    Returns
    -------
    list of RenderableType
        Lines to print on stdout.
    """
    counts = (
        f"{summary.downloaded} downloaded, {summary.failed} failed, {summary.abandoned} abandoned"
    )
    if summary.copied:
        counts += f", {summary.copied} copied"
    if not (
        summary.downloaded
        or summary.failed
        or summary.abandoned
        or summary.interrupted
        or summary.copied
    ):
        amount = "nothing downloaded" if summary.unfinished else "nothing to do"
    else:
        amount = f"{format_size(summary.bytes)} in {format_duration(summary.seconds)}"
        if summary.bytes and summary.seconds > 0:
            amount += f" ({_speed(summary.bytes / summary.seconds)})"
    headline = Text(
        f"{counts} — {amount}",
        style="bold red" if summary.not_done else "bold green",
    )
    lines: list[RenderableType] = [headline]
    for failure in summary.failures[:MAX_FAILURE_LINES]:
        kind = "abandoned" if failure.abandoned else "failed"
        lines.append(
            Text(f"  {kind:<9} {failure.error_class:<12} {redact_url(failure.url)}: ")
            + Text(failure.message, style="dim")
        )
    hidden = len(summary.failures) - MAX_FAILURE_LINES
    if hidden > 0:
        lines.append(Text(f"  … and {hidden} more (skyhaul ls --state FAILED --state ABANDONED)"))
    if summary.unfinished:
        lines.append(Text(_unfinished_line(summary.unfinished), style="red"))
    repaired = _repairs(summary)
    if repaired:
        lines.append(Text(f"Repaired: {repaired}"))
    if summary.interrupted:
        lines.append(
            Text("Interrupted: files stay resumable; run the same command again to finish.")
        )
    if files_at is not None:
        lines.append(Text(f"Files:   {files_at}"))
    lines.append(Text(f"Catalog: {catalog_at}"))
    return lines


#: How each state of a file left undone is told, in the order told.
_UNFINISHED_WORDS = {
    "abandoned": "ABANDONED",
    "failed": "FAILED",
    "downloading": "DOWNLOADING in another process",
    "discovered": "DISCOVERED",
}


def _unfinished_line(unfinished: dict[str, int]) -> str:
    """Say which named files a run left undone, and what to do about them.

    For example ``2 of the files named are not done: 1 ABANDONED, 1 FAILED (skyhaul
    retry gives them a new start; skyhaul ls --state ABANDONED --state FAILED says why)``.
    """
    total = sum(unfinished.values())
    known = [state for state in _UNFINISHED_WORDS if unfinished.get(state)]
    known += sorted(state for state in unfinished if state not in _UNFINISHED_WORDS)
    parts = [f"{unfinished[s]} {_UNFINISHED_WORDS.get(s, s.upper())}" for s in known]
    line = f"{total} of the files named {'is' if total == 1 else 'are'} not done: "
    line += ", ".join(parts)
    if unfinished.get("abandoned") or unfinished.get("failed"):
        line += (
            " (skyhaul retry gives them a new start; "
            "skyhaul ls --state ABANDONED --state FAILED says why)"
        )
    return line


def _repairs(summary: RunSummary) -> str:
    """Say what a run repaired on its way, for example ``3 retries (2 server, 1
    integrity), 1 integrity mismatch fetched again, 2 sources switched``; empty if
    nothing."""
    parts = []
    retries = sum(summary.retries.values())
    if retries:
        by_class = sorted(summary.retries.items(), key=lambda item: (-item[1], item[0]))
        detail = ", ".join(f"{count} {name}" for name, count in by_class)
        parts.append(f"{_count(retries, 'retry', 'retries')} ({detail})")
    if summary.integrity_refetched:
        mismatches = _count(
            summary.integrity_refetched, "integrity mismatch", "integrity mismatches"
        )
        parts.append(f"{mismatches} fetched again")
    if summary.sources_switched:
        parts.append(f"{_count(summary.sources_switched, 'source', 'sources')} switched")
    return ", ".join(parts)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _bar(total: int | None, done: int, width: int) -> ProgressBar:
    if total is None or total <= 0:
        return ProgressBar(total=None, completed=done, width=width)
    return ProgressBar(total=total, completed=min(done, total), width=width)


def _amount(done: int, total: int | None) -> str:
    if total is None:
        return format_size(done)
    return f"{format_size(done)} / {format_size(total)}"


def _speed(bytes_per_second: float) -> str:
    return f"{format_size(int(bytes_per_second))}/s"


def _shorten(name: str, width: int) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
