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

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer

from skyhaul.core.model import Selection, TransferOptions
from skyhaul.core.units import parse_size

__all__ = [
    "CommonOptions",
    "build_common",
    "build_progress",
    "build_selection",
    "build_transfer",
    "with_options",
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
            help="Catalog database URL [default: sqlite:///skyhaul.db].",
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
) -> Selection:
    """Build a ``Selection`` from the filter options (``None``: no constraint)."""
    return Selection(instrument=instrument, source=source, url_prefix=url_prefix)


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
) -> TransferOptions:
    """Build the ``TransferOptions`` of a download run."""
    return TransferOptions(
        concurrency=concurrency,
        max_per_host=max_per_host,
        segment_size=segment_size,
        max_attempts=max_attempts,
        verify_tls=not insecure,
    )


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
