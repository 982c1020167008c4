"""Option sets shared by several commands, spliced into each command's signature.

Rules:
- An option set is a plain function whose parameters are typer options and whose return
  value is what the command receives (a ``Selection``, a ``TransferOptions``, ...).
- ``with_options(selection=build_selection, ...)`` adds the set's options to the command and
  passes the built value as the keyword ``selection``. To add a filter to every command
  that selects files, add one parameter to ``build_selection``; nothing else changes.
- Parsing errors of option values raise ``typer.BadParameter`` (a usage error, exit 2).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from skyhaul.core.model import Selection, TransferOptions
from skyhaul.core.units import parse_duration, parse_size
from skyhaul.core.window import BoundError, TimeWindow, parse_bounds

__all__ = [
    "CommonOptions",
    "Ids",
    "TimeBasis",
    "build_common",
    "build_processes",
    "build_progress",
    "build_selection",
    "build_transfer",
    "duration_option",
    "parse_between",
    "with_ids",
    "with_options",
    "with_window",
]

R = TypeVar("R")

_FILTERS = "Filters"
_TRANSFER = "Transfer"
_OUTPUT = "Output"


def with_options(
    **sets: Callable[..., Any],
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Add the options of each set to a command; pass each built value by keyword.

    Parameters
    ----------
    **sets
        ``keyword=builder``: the command takes a keyword-only parameter ``keyword``;
        the builder's parameters become options of the command.

    Returns
    -------
    callable
        A decorator for typer command functions.
    """

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(command, eval_str=True)
        spliced = {
            keyword: inspect.signature(build, eval_str=True).parameters
            for keyword, build in sets.items()
        }
        params = [p for p in own.parameters.values() if p.name not in sets]
        params += [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for options in spliced.values()
            for p in options.values()
        ]
        names = [p.name for p in params]
        clash = {n for n in names if names.count(n) > 1}
        if clash:
            raise TypeError(f"option sets clash on {sorted(clash)}")

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            for keyword, build in sets.items():
                kwargs[keyword] = build(**{n: kwargs.pop(n) for n in spliced[keyword]})
            return command(**kwargs)

        signature = own.replace(parameters=params)
        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


# --- common to every command ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommonOptions:
    """Options every command takes.

    Parameters
    ----------
    catalog : str or None
        Catalog URL as given (``None``: ``$SKYHAUL_CATALOG``, else ``sqlite:///skyhaul.db``).
    json : bool
        Print one JSON object on stdout instead of tables and summaries.
    verbose : bool
        Log at DEBUG.
    """

    catalog: str | None = None
    json: bool = False
    verbose: bool = False


def build_common(
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog",
            envvar="SKYHAUL_CATALOG",
            metavar="URL",
            help="Catalog database URL \\[default: sqlite:///skyhaul.db].",
            rich_help_panel=_OUTPUT,
            show_envvar=True,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON object on stdout at the end.", rich_help_panel=_OUTPUT
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Log at DEBUG level.", rich_help_panel=_OUTPUT),
    ] = False,
) -> CommonOptions:
    """Build the options every command takes."""
    return CommonOptions(catalog=catalog, json=as_json, verbose=verbose)


# --- which files ----------------------------------------------------------------------


def build_selection(
    instrument: Annotated[
        str | None, typer.Option(help="Only files of this instrument.", rich_help_panel=_FILTERS)
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Only files listed by this source.", rich_help_panel=_FILTERS),
    ] = None,
    url_prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX", help="Only files whose URL starts so.", rich_help_panel=_FILTERS
        ),
    ] = None,
    by: Annotated[
        TimeBasis | None,
        typer.Option(
            case_sensitive=False,
            help="Which time --start/--end apply to \\[default: observation].",
            rich_help_panel=_FILTERS,
            show_default=False,
        ),
    ] = None,
    window_start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="TIME",
            help="Window start (UTC; ISO 8601 or a date).",
            rich_help_panel=_FILTERS,
        ),
    ] = None,
    window_end: Annotated[
        str | None,
        typer.Option(
            "--end",
            metavar="TIME",
            help="Window end, exclusive (a date alone includes that whole day).",
            rich_help_panel=_FILTERS,
        ),
    ] = None,
    slots: Annotated[
        Path | None,
        typer.Option(
            "--slots",
            metavar="FILE",
            help="Files downlinked within these passes (CSV or JSON: slot, start, end, station).",
            rich_help_panel=_FILTERS,
            show_default=False,
        ),
    ] = None,
) -> Selection:
    """Build a ``Selection`` from the filter options (``None``: no constraint)."""
    selection = Selection(instrument=instrument, source=source, url_prefix=url_prefix)
    return with_window(selection, by=by, start=window_start, end=window_end, slots=slots)


#: ``--id N`` (repeatable): the files with these catalog ids, beside the other filters.
Ids = Annotated[
    list[int] | None,
    typer.Option(
        "--id",
        metavar="N",
        min=1,
        help="Only the file with this catalog id (repeat for several).",
        rich_help_panel=_FILTERS,
        show_default=False,
    ),
]


def with_ids(selection: Selection, ids: list[int] | None) -> Selection:
    """``selection`` narrowed to the files of ``--id`` (when given)."""
    return dataclasses.replace(selection, ids=tuple(ids)) if ids else selection


class TimeBasis(StrEnum):
    """Which time of a file a window applies to."""

    observation = "observation"
    downlink = "downlink"


def with_window(
    selection: Selection,
    *,
    by: TimeBasis | None,
    start: str | None,
    end: str | None,
    slots: Path | None,
) -> Selection:
    """Add a time window (``--by/--start/--end``) or a pass schedule (``--slots``).

    Raises
    ------
    typer.BadParameter
        A time cannot be read, the end is before the start, ``--by`` without a window,
        or ``--slots`` together with ``--start``/``--end``.
    """
    if slots is not None:
        if start is not None or end is not None or by is TimeBasis.observation:
            raise typer.BadParameter(
                "--slots selects by downlink time; it does not combine with --start/--end",
                param_hint="--slots",
            )
        from skyhaul.adapters.schedule import read_slots

        windows = tuple((s.start, s.end) for s in read_slots(slots))
        return dataclasses.replace(selection, downlink_windows=windows)
    if start is None and end is None:
        if by is not None:
            raise typer.BadParameter("give --start and/or --end with --by", param_hint="--by")
        return selection
    try:
        first, last = parse_bounds(start, end)
    except BoundError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{exc.bound}") from None
    if by is TimeBasis.downlink:
        return dataclasses.replace(selection, downlink_start=first, downlink_end=last)
    return dataclasses.replace(selection, obs_start=first, obs_end=last)


def parse_between(values: tuple[str, str] | None) -> tuple[datetime, datetime] | None:
    """Read a ``T1 T2`` pair of options as a window (``--downloaded-between``)."""
    if values is None:
        return None
    try:
        window = TimeWindow.parse(*values)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--downloaded-between") from None
    return window.start, window.end


# --- how to transfer ------------------------------------------------------------------

_DEFAULTS = TransferOptions()


def _size_option(text: str | int) -> int:
    try:
        size = parse_size(str(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if size <= 0:
        raise typer.BadParameter(f"{text!r} must be more than 0 bytes")
    return size


def _speed_option(text: str | int) -> int:
    """Bytes per second: a size (``1KiB``), or 0 to turn the minimum speed off."""
    try:
        return parse_size(str(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def build_transfer(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-j",
            min=1,
            metavar="N",
            help="Most files in flight at once.",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.concurrency,
    max_per_host: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Most connections to one host (the adaptive window's ceiling).",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.max_per_host,
    segment_size: Annotated[
        int,
        typer.Option(
            parser=_size_option,
            metavar="SIZE",
            help="Bytes per range request: 8MiB, 8M or a number of bytes.",
            show_default=f"{_DEFAULTS.segment_size // 2**20}MiB",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.segment_size,
    max_attempts: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Attempts per file before it is abandoned.",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.max_attempts,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Do not verify TLS certificates (verification is on by default).",
            rich_help_panel=_TRANSFER,
        ),
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Lease on a file being downloaded, renewed while it lives (30s, 2m, ...).",
            show_default=f"{_DEFAULTS.lease_seconds:g}s",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.lease_seconds,
    timeout: Annotated[
        float | None,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Seconds to connect, and without a byte of an answer, before an attempt fails.",
            show_default=f"{_DEFAULTS.connect_timeout:g}s to connect, "
            f"{_DEFAULTS.read_timeout:g}s between reads",
            rich_help_panel=_TRANSFER,
        ),
    ] = None,
    min_speed: Annotated[
        int,
        typer.Option(
            parser=_speed_option,
            metavar="SIZE",
            help="Slowest average per second over --min-speed-time before an attempt fails "
            "as a read timeout (0: off).",
            show_default=f"{_DEFAULTS.min_speed / 1024:g}KiB",
            rich_help_panel=_TRANSFER,
        ),
    ] = int(_DEFAULTS.min_speed),
    min_speed_time: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="The window the minimum speed is measured over.",
            show_default=f"{_DEFAULTS.min_speed_time:g}s",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.min_speed_time,
    checkpoint_interval: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Longest time between checkpoints of a file in flight (fsync, then the "
            "segment map); one also comes every half segment. A kill re-fetches only what "
            "came since.",
            show_default=f"{_DEFAULTS.checkpoint_interval:g}s",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.checkpoint_interval,
    max_wait: Annotated[
        float,
        typer.Option(
            parser=duration_option,
            metavar="DURATION",
            help="Longest wait of the run: a host's Retry-After pause, a retry; a file due "
            "later ends FAILED with its due time.",
            show_default=f"{_DEFAULTS.max_wait / 60:g}m",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.max_wait,
    fits_metadata: Annotated[
        bool,
        typer.Option(
            "--fits-metadata",
            help="Check FITS files before they take their final name (they open, their "
            "CHECKSUM/DATASUM verify; else an integrity failure) and store their headers "
            "(skyhaul fits show, ls --where).",
            rich_help_panel=_TRANSFER,
        ),
    ] = _DEFAULTS.fits_metadata,
) -> TransferOptions:
    """Build the ``TransferOptions`` of a download run."""
    return TransferOptions(
        concurrency=concurrency,
        max_per_host=max_per_host,
        segment_size=segment_size,
        max_attempts=max_attempts,
        verify_tls=not insecure,
        lease_seconds=lease,
        connect_timeout=_DEFAULTS.connect_timeout if timeout is None else timeout,
        read_timeout=_DEFAULTS.read_timeout if timeout is None else timeout,
        max_wait=max_wait,
        min_speed=min_speed,
        min_speed_time=min_speed_time,
        checkpoint_interval=checkpoint_interval,
        fits_metadata=fits_metadata,
    )


def duration_option(text: str | float) -> float:
    """Parse a duration option (``5m``, ``30s``, ``1h30m``, or seconds); more than 0."""
    try:
        seconds = parse_duration(str(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise typer.BadParameter(f"{text!r} must be more than 0 seconds")
    return seconds


def build_progress(
    no_progress: Annotated[
        bool,
        typer.Option(
            "--no-progress",
            help="No live progress (it is off anyway when stdout is not a terminal).",
            rich_help_panel=_OUTPUT,
        ),
    ] = False,
) -> bool:
    """Tell whether live progress is wanted."""
    return not no_progress


def _processes_option(text: str | int | None) -> int | None:
    if text is None or str(text).strip().lower() == "auto":
        return None
    try:
        count = int(str(text))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number of processes or 'auto'") from None
    if count < 1:
        raise typer.BadParameter(f"{text!r} must be at least 1")
    return count


def build_processes(
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            "-P",
            parser=_processes_option,
            metavar="N|auto",
            help="Engine processes sharing -j and --max-per-host; auto forks one per core "
            "for runs of many small files.",
            show_default="auto",
            rich_help_panel=_TRANSFER,
        ),
    ] = None,
) -> int | None:
    """Tell how many engine processes were asked for (None: choose automatically)."""
    return processes
