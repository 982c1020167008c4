"""The ``Source`` seam: what lists remote files for a time window.

Rules:
- A source answers a :class:`ListingQuery` (a window, optionally an instrument, and which
  time the window applies to) with :class:`~skyhaul.core.model.FileSpec` values: URL,
  relative path, and whatever the archive tells of size, checksum, version and mission
  metadata. Unknown values stay ``None``; an approximate size is never given as a size.
- A source may list more than asked (a whole day directory for a window of an hour); the
  catalog's selections are exact, so over-listing costs time, never correctness.
- A source never downloads data files and never writes; it may fetch listing pages.
- Errors are skyhaul errors: a listing that cannot be read is a :class:`SourceError`
  naming the source and the page; a configuration mistake is a ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from skyhaul.core.model import FileSpec
from skyhaul.core.window import TimeWindow

__all__ = [
    "SAMPLE_DAY",
    "ClosingSource",
    "ListingQuery",
    "Source",
    "SourceContext",
    "SourceFactory",
    "TimeBasis",
]

TimeBasis = Literal["observation", "downlink"]

#: A day to try a date-templated URL on (``{date:...}``), to learn its origin and shape.
SAMPLE_DAY = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """What to list.

    Parameters
    ----------
    window : TimeWindow
        The time window ``[start, end)``.
    instrument : str or None
        Only this instrument (as the archive names it; compared case-insensitively).
    by : {"observation", "downlink"}
        Which time of a file the window applies to.
    """

    window: TimeWindow
    instrument: str | None = None
    by: TimeBasis = "observation"


class Source(Protocol):
    """Lists remote files. Use as an async context manager or call :meth:`aclose`."""

    name: str
    """The source's name in the configuration (stamped on every file it lists)."""

    async def list_files(self, query: ListingQuery) -> list[FileSpec]:
        """Return the files the archive lists for ``query``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What every source factory receives besides its own options.

    Parameters
    ----------
    name : str
        The source's name (``[sources.<name>]``).
    base_dir : Path
        Directory relative paths in the options are read from (the config file's).
    verify_tls : bool
        Verify server certificates (default on).
    environ : Mapping of str to str or None
        Environment the credentials are read from (None: ``os.environ``).
    where : str
        ``<config file>: sources.<name>``, for messages.
    """

    name: str
    base_dir: Path
    verify_tls: bool = True
    environ: Mapping[str, str] | None = None
    where: str = ""


class ClosingSource:
    """Mixin: a source usable as ``async with``; closes with ``aclose()`` on the way out."""

    async def aclose(self) -> None:
        """Release connections (sources override)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


SourceFactory = Callable[[Mapping[str, Any], SourceContext], Source]
"""Builds a source from its ``[sources.<name>]`` table (``type`` already removed)."""
