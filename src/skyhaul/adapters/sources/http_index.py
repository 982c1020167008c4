"""The ``http-index`` source: crawl web servers' directory listings, one directory per day.

Rules:
- ``url`` is a template formatted for each UTC day of the window with ``date``, that day's
  midnight (``{date:%Y/%m/%d}``, ``{date:%y%m%d}``); days that give the same URL are
  listed once, and a URL without ``{date`` is listed once per query. A day directory the
  server does not have (404) is normal: it is skipped. Any other failure is an error.
- Names are kept when they match ``include`` (any of its globs; case-sensitive) and
  ``regex`` (searched), and match no ``exclude`` glob. With ``recursive`` the crawl descends
  ``max_depth`` levels of subdirectories.
- A file's observation comes from the directory's ``index_file`` table when it has a row
  for the file, else from ``time_regex`` on its name; its instrument from the same places,
  else from ``instrument``.
- The query filters what is known: a known instrument must equal the query's (any case);
  a known observation must overlap the window. A file whose time is unknown is kept when
  its directory was listed for the window (the catalog's selections then cannot place it).
  With ``by="downlink"`` no time filter applies: listings know no downlink times.
- Destination paths mirror the remote layout below the template's fixed part (what comes
  before the first ``{``, cut back to a ``/``), under ``path_prefix``; a path that would
  leave the destination root is dropped with a warning, and so is any file no run could
  use (:func:`skyhaul.core.specs.validate_spec`: a name over 255 bytes, a size past 2**63).
- Only exact byte counts become sizes; a rounded ``1.2M`` would fail verification.
- Credentials go to the listing's own origin only, and never into ``repr`` or logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from skyhaul.adapters.credentials import credentials_from_options
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.autoindex import IndexEntry, parse_autoindex
from skyhaul.adapters.sources.base import ClosingSource, ListingQuery, SourceContext
from skyhaul.adapters.sources.dirindex import parse_index_table
from skyhaul.adapters.sources.filetimes import FileTimes
from skyhaul.adapters.sources.http_index_settings import (
    SAMPLE_DAY,
    HttpIndexSettings,
    read_settings,
)
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.redact import redact_url
from skyhaul.core.specs import validate_spec
from skyhaul.core.window import TimeWindow
from skyhaul.errors import ConfigError, InvalidSpecError, PathEscapeError

__all__ = ["HttpIndexSettings", "HttpIndexSource", "http_index_source", "read_settings"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def http_index_source(options: Mapping[str, Any], context: SourceContext) -> HttpIndexSource:
    """Build an ``http-index`` source (the ``SourceFactory`` of this type).

    Raises
    ------
    ConfigError
        Invalid options or credentials that cannot be read.
    """
    # Credentials first: a secret written inline deserves more than "unknown option".
    credentials = credentials_from_options(
        options, where=context.where, base_dir=context.base_dir, environ=context.environ
    )
    settings = read_settings(options, context.where)
    sample = urlsplit(settings.directory(SAMPLE_DAY))
    client = PageClient(
        context.name,
        headers=credentials.headers(),
        origin=f"{sample.scheme}://{sample.netloc}",
        verify_tls=context.verify_tls,
        timeout=settings.timeout,
        concurrency=settings.concurrency,
        max_answer_size=settings.max_answer_size,
        max_wait=settings.max_wait,
    )
    return HttpIndexSource(context.name, settings, client, where=context.where)


@dataclass(frozen=True, slots=True)
class _Listed:
    """A file found by the crawl, before the query's filters."""

    entry: IndexEntry
    day: datetime
    times: FileTimes


class HttpIndexSource(ClosingSource):
    """Lists files from web servers' directory listings (see the module's rules).

    Parameters
    ----------
    name : str
        The source's name.
    settings : HttpIndexSettings
        Its checked options.
    client : PageClient
        Fetches the pages (owns the credentials).
    where : str
        Where the table is, for messages.
    """

    def __init__(
        self, name: str, settings: HttpIndexSettings, client: PageClient, *, where: str = ""
    ) -> None:
        self.name = name
        self.settings = settings
        self._client = client
        self._where = where or f"sources.{name}"
        fixed = urlsplit(settings.url.split("{", 1)[0]).path
        self._root = unquote(fixed[: fixed.rfind("/") + 1]) or "/"

    def __repr__(self) -> str:
        return f"HttpIndexSource(name={self.name!r}, url={redact_url(self.settings.url)!r})"

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._client.aclose()

    async def list_files(self, query: ListingQuery) -> list[FileSpec]:
        """Return the files the listings of the window's days show, filtered by ``query``.

        Raises
        ------
        SourceError, SourceAuthError
            A listing page could not be read.
        ConfigError
            An index file lacks a column the configuration names.
        """
        seen: set[str] = set()
        crawls = [
            self._crawl(url, day, self.settings.max_depth, seen)
            for url, day in self._directories(query.window)
        ]
        found: dict[str, tuple[datetime, FileSpec]] = {}
        for listed in (item for batch in await _gather(crawls) for item in batch):
            spec = self._spec(listed)
            if spec is not None and spec.url not in found and _selected(spec, query):
                found[spec.url] = (spec.obs_start or listed.day, spec)
        return [spec for _, spec in sorted(found.values(), key=lambda it: (it[0], it[1].path))]

    def _directories(self, window: TimeWindow) -> list[tuple[str, datetime]]:
        """The listing URLs of ``window``, each with the first day that gives it."""
        if not self.settings.dated:
            return [(self.settings.url, window.start)] if window.end > window.start else []
        urls: dict[str, datetime] = {}
        for day in window.days():
            midnight = _midnight(day)
            urls.setdefault(self.settings.directory(midnight), midnight)
        return list(urls.items())

    async def _crawl(self, url: str, day: datetime, depth: int, seen: set[str]) -> list[_Listed]:
        if url in seen:  # two days of one directory, or a server-side link loop
            return []
        seen.add(url)
        page = await self._client.get_text(url)
        if page is None:
            log.debug("source %s: no directory %s (404)", self.name, redact_url(url))
            return []
        entries = parse_autoindex(page, url)
        index = await self._index(entries)
        listed = [
            _Listed(entry, day, index.get(entry.name) or FileTimes())
            for entry in entries
            if not entry.is_dir and self.settings.wants(entry.name)
        ]
        if depth > 0:
            below = [self._crawl(e.url, day, depth - 1, seen) for e in entries if e.is_dir]
            listed.extend(item for batch in await _gather(below) for item in batch)
        return listed

    async def _index(self, entries: Iterable[IndexEntry]) -> dict[str, FileTimes]:
        """The directory's index table, when configured and listed."""
        table, wanted = self.settings.index_table, self.settings.index_file
        if table is None:
            return {}
        entry = next((e for e in entries if e.name == wanted and not e.is_dir), None)
        if entry is None:
            return {}
        text = await self._client.get_text(entry.url)
        try:
            return {} if text is None else parse_index_table(text, table)
        except ValueError as exc:
            raise ConfigError(f"{self._where}: index file {redact_url(entry.url)}: {exc}") from None

    def _spec(self, listed: _Listed) -> FileSpec | None:
        entry, times = listed.entry, listed.times
        if times.start is None and self.settings.times is not None:
            from_name = self.settings.times.match(entry.name) or FileTimes()
            times = FileTimes(
                start=from_name.start,
                end=from_name.end,
                instrument=times.instrument or from_name.instrument,
            )
        path = self._path(entry.url)
        if path is None:
            return None
        spec = FileSpec(
            url=entry.url,
            path=path,
            size=entry.size if entry.size_exact else None,
            source=self.name,
            instrument=times.instrument or self.settings.instrument,
            obs_start=times.start,
            obs_end=times.end,
            version=_version(entry),
        )
        try:
            validate_spec(spec)
        except InvalidSpecError as exc:
            log.warning("source %s: skipped %s: %s", self.name, redact_url(entry.url), exc)
            return None
        return spec

    def _path(self, url: str) -> str | None:
        """The destination of ``url``: its remote path below the template's fixed part."""
        remote = unquote(urlsplit(url).path)
        relative = remote[len(self._root) :] if remote.startswith(self._root) else remote
        if self.settings.path_prefix is not None:
            relative = f"{self.settings.path_prefix}/{relative}"
        try:
            return str(safe_relative_path(relative))
        except PathEscapeError as exc:
            log.warning("source %s: skipped %s: %s", self.name, redact_url(url), exc)
            return None


def _selected(spec: FileSpec, query: ListingQuery) -> bool:
    wanted = query.instrument
    if wanted and spec.instrument and spec.instrument.casefold() != wanted.casefold():
        return False
    if query.by == "observation" and spec.obs_start is not None:
        return query.window.overlaps(spec.obs_start, spec.obs_end)
    return True


def _version(entry: IndexEntry) -> str | None:
    """What the listing says of the content: modification time and size."""
    parts = []
    if entry.modified is not None:
        parts.append(entry.modified.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if entry.size is not None:
        parts.append(str(entry.size) if entry.size_exact else f"~{entry.size}")
    return "/".join(parts) or None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def _gather(steps: Iterable[Awaitable[T]]) -> list[T]:
    """Run ``steps`` concurrently; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
