"""Drawing an availability report: a PNG bar chart, a self-contained HTML page, table rows.

Rules:
- matplotlib is imported only while drawing, and only its Agg canvas is used (a
  ``Figure`` on a ``FigureCanvasAgg``, never pyplot): importing this module is cheap, and
  drawing never opens a window nor touches pyplot's global state.
- Files are written through :func:`skyhaul.adapters.storage.atomic_file`: a reader sees
  the old file or the new one, never half of one.
- An ``OSError`` while writing becomes a one-line :class:`~skyhaul.errors.UsageError`
  naming the path; no temporary file is left behind.
- The HTML page loads nothing from elsewhere (the chart is a ``data:`` URI) and escapes
  everything it shows from the caller or the data.
- Plain rows and lines (:func:`render_table`, :func:`summary_lines`) are for a CLI to print;
  this module does not import rich.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skyhaul.adapters.storage import atomic_file
from skyhaul.core.availability import (
    DEFAULT_THRESHOLD,
    FILES,
    NO_FILES,
    NOT_RUN,
    AvailabilityDay,
    AvailabilitySummary,
    summarize,
)
from skyhaul.core.backfill import DayStatus
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "MISSING",
    "render_html",
    "render_png",
    "render_png_bytes",
    "render_table",
    "summary_lines",
    "table_header",
]

MISSING = "-"
"""How a value that does not exist (no count, no percent) is shown."""

_MAX_LISTED_DAYS = 10


@dataclass(frozen=True, slots=True)
class _Style:
    label: str
    color: str
    band: bool
    """Draw a pale full-height band: the day has no bar worth seeing (0 % or no percent)."""
    hatch: str | None = None


# Keyed by status; a status missing here (a newer DayStatus) is drawn as failed.
_STYLES: dict[str, _Style] = {
    DayStatus.DOWNLOADED.value: _Style("downloaded", "#2ca02c", band=False),
    FILES: _Style("files", "#2ca02c", band=False),
    DayStatus.SKIPPED_NO_DATA.value: _Style("no data", "#8c8c8c", band=True),
    NO_FILES: _Style("no files", "#8c8c8c", band=True),
    DayStatus.PENDING.value: _Style("interrupted", "#ff7f0e", band=True),
    DayStatus.FAILED.value: _Style("failed", "#d62728", band=True),
    NOT_RUN: _Style("not run", "#c8c8c8", band=True, hatch="///"),
}
_FALLBACK_STYLE = _STYLES[DayStatus.FAILED.value]


# --- plain rows ------------------------------------------------------------------------


def table_header(rows: Sequence[AvailabilityDay]) -> tuple[str, str, str, str, str]:
    """Return the column names for :func:`render_table` (they depend on the source kind)."""
    if _counts_files(rows):
        return ("date", "status", "files", "discovered", "%")
    return ("date", "status", "records", "expected", "%")


def _counts_files(rows: Sequence[AvailabilityDay]) -> bool:
    return any(row.is_file_day for row in rows)


def render_table(rows: Sequence[AvailabilityDay]) -> list[tuple[str, str, str, str, str]]:
    """Return one row of text per day, in the columns of :func:`table_header`.

    Parameters
    ----------
    rows : sequence of AvailabilityDay
        The range, in order.

    Returns
    -------
    list of tuple of str
        ``(date, status, count, expected, percent)``; values that do not exist are
        :data:`MISSING`.
    """
    return [
        (
            row.day.isoformat(),
            row.status,
            _integer(row.count),
            _integer(row.expected),
            _percent(row.percent),
        )
        for row in rows
    ]


def summary_lines(summary: AvailabilitySummary, *, files: bool = False) -> list[str]:
    """Return the summary as short lines of text.

    Parameters
    ----------
    summary : AvailabilitySummary
        From :func:`skyhaul.core.availability.summarize`.
    files : bool
        Whether the counts are files downloaded of files discovered (a file source), not
        records written of records expected.

    Returns
    -------
    list of str
        Days, totals, overall and daily percents, days below the threshold, days per status.
    """
    below = [day.isoformat() for day in summary.below_threshold[:_MAX_LISTED_DAYS]]
    more = len(summary.below_threshold) - len(below)
    if more > 0:
        below.append(f"and {more} more")
    statuses = ", ".join(f"{status} {n}" for status, n in summary.status_counts.items())
    return [
        f"days: {summary.days} ({summary.days_with_data} with data)",
        f"{'files' if files else 'records'}: {summary.total_count:,} of"
        f" {summary.total_expected:,} {'discovered' if files else 'expected'}"
        f" ({_percent(summary.overall_percent)})",
        f"daily availability: mean {_percent(summary.mean_percent)},"
        f" min {_percent(summary.min_percent)}",
        f"days below {summary.threshold:g}%: {', '.join(below) or 'none'}",
        f"days by status: {statuses or 'none'}",
    ]


def _integer(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _percent(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f}%"


# --- the chart -------------------------------------------------------------------------


def render_png_bytes(rows: Sequence[AvailabilityDay], *, title: str) -> bytes:
    """Draw the daily availability as a PNG bar chart and return its bytes.

    Parameters
    ----------
    rows : sequence of AvailabilityDay
        The range, in order (an empty range draws an empty chart saying so).
    title : str
        The chart's title (shown literally: ``$`` is not mathtext).

    Returns
    -------
    bytes
        The PNG image.
    """
    # Imported here so that importing this module (and the CLI) stays cheap.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, parse_math=False)
    ax.set_ylabel("availability (%)")
    if rows:
        _draw_bars(fig, ax, rows)
    else:
        ax.set_ylim(0, 110)
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no days in range", ha="center", va="center", transform=ax.transAxes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_bars(fig: Figure, ax: Axes, rows: Sequence[AvailabilityDay]) -> None:
    from matplotlib import dates as mdates

    x_of = {row.day: float(mdates.date2num(row.day)) for row in rows}
    first, last = min(x_of.values()), max(x_of.values())
    span = round(last - first) + 1
    width = 0.8 if span <= 60 else 1.0  # past two months, gaps between bars are noise
    # Past a few hundred days a day is under a pixel wide: bars one day wide would leave
    # white stripes, so each is widened to about a pixel (a neighbour drawn later covers it).
    days_per_pixel = span / (0.75 * fig.get_figwidth() * fig.dpi)
    antialiased = days_per_pixel < 0.5
    band_width = max(1.0, days_per_pixel)
    width = max(width, days_per_pixel)
    top = max(110.0, 1.05 * max((row.percent or 0.0) for row in rows))

    for status in summarize(rows).status_counts:
        style = _STYLES.get(status, _FALLBACK_STYLE)
        group = [row for row in rows if row.status == status]
        measured = [row for row in group if row.percent is not None]
        # A band is a full-height background column: the day has no bar worth seeing.
        banded = group if style.band else [row for row in group if row.percent is None]
        label: str | None = style.label
        if banded:
            ax.bar(
                [x_of[row.day] for row in banded],
                [top] * len(banded),
                width=band_width,
                color="none" if style.hatch else style.color,
                alpha=1.0 if style.hatch else 0.3,
                hatch=style.hatch,
                edgecolor=style.color if style.hatch else "none",
                linewidth=0,
                antialiased=antialiased,
                zorder=1,
                label=label,
            )
            label = None
        if measured:
            ax.bar(
                [x_of[row.day] for row in measured],
                [row.percent or 0.0 for row in measured],
                width=width,
                color=style.color,
                linewidth=0,
                antialiased=antialiased,
                zorder=2,
                label=label,
            )

    ax.axhline(100.0, color="black", linestyle="--", linewidth=0.8, zorder=3)
    ax.set_ylim(0, top)
    ax.set_xlim(first - 0.5, last + 0.5)
    if span <= 10:
        # AutoDateLocator would tick hours on a few days; one tick per day, named in full.
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.legend(loc="outside right upper", frameon=False)


# --- the HTML page ---------------------------------------------------------------------


def render_html(
    rows: Sequence[AvailabilityDay],
    path: Path,
    *,
    title: str,
    png: bytes | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> None:
    """Write a self-contained HTML page: the summary, the chart and a table of the days.

    Parameters
    ----------
    rows : sequence of AvailabilityDay
        The range, in order.
    path : Path
        The page to write (replaced atomically).
    title : str
        The page's title (escaped).
    png : bytes or None
        The chart (from :func:`render_png_bytes`), embedded as a ``data:`` URI; None
        leaves the chart out.
    threshold : float
        Days with a percent below this are listed in the summary and marked in the table.

    Raises
    ------
    UsageError
        The page cannot be written.
    """
    page = _html_page(rows, title=title, png=png, threshold=threshold)
    _write_atomic(path, page.encode("utf-8"))


def render_png(rows: Sequence[AvailabilityDay], path: Path, *, title: str) -> None:
    """Write the chart of :func:`render_png_bytes` to ``path`` (replaced atomically).

    Raises
    ------
    UsageError
        The file cannot be written.
    """
    _write_atomic(path, render_png_bytes(rows, title=title))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.low td { background: #fdecea; }
img { max-width: 100%; }
"""


def _html_page(
    rows: Sequence[AvailabilityDay], *, title: str, png: bytes | None, threshold: float
) -> str:
    esc = html.escape
    summary = summarize(rows, threshold=threshold)
    summary_items = "\n".join(
        f"<li>{esc(line)}</li>" for line in summary_lines(summary, files=_counts_files(rows))
    )
    chart = ""
    if png is not None:
        data = base64.b64encode(png).decode("ascii")
        chart = f'<img alt="daily availability" src="data:image/png;base64,{data}">'
    header = "".join(f"<th>{esc(name)}</th>" for name in table_header(rows))
    body: list[str] = []
    for row, cells in zip(rows, render_table(rows), strict=True):
        low = ' class="low"' if row.percent is not None and row.percent < threshold else ""
        day, status, count, expected, percent = (esc(cell) for cell in cells)
        body.append(
            f"<tr{low}><td>{day}</td><td>{status}</td>"
            f'<td class="num">{count}</td><td class="num">{expected}</td>'
            f'<td class="num">{percent}</td></tr>'
        )
    rows_html = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<ul>
{summary_items}
</ul>
{chart}
<table>
<thead><tr>{header}</tr></thead>
<tbody>
{rows_html}
</tbody>
</table>
</body>
</html>
"""


# --- writing ---------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_file`; OS errors are usage errors."""
    try:
        with atomic_file(path) as out:
            out.write(data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot write {path}: {reason}") from exc
