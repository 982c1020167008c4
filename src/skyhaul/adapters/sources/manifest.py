"""The ``manifest`` source: a CSV or JSON manifest (the format of ``skyhaul get -i``).

Options: ``path`` (a file, relative to the configuration file) or ``url`` (fetched on
every listing), ``instrument`` (a default for rows without one), ``concurrency``,
``timeout``, ``max_answer_size``, ``max_wait`` and the credential keys (for ``url``).

The manifest is read whole and filtered here: rows of another instrument are dropped;
rows with the window's time (observation interval, or downlink time) outside the window
are dropped; rows without that time are kept, since nothing says they fall outside (the
catalog's selections, which are exact, will not pick them by time).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skyhaul.adapters.credentials import CREDENTIAL_KEYS
from skyhaul.adapters.manifest import parse_specs, read_specs
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.base import ClosingSource, ListingQuery, Source, SourceContext
from skyhaul.adapters.sources.options import LIMIT_KEYS, OptionReader, listing_client
from skyhaul.core.model import FileSpec
from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ConfigError,
    ListingEntryError,
    ManifestError,
    PathEscapeError,
    SourceError,
)

__all__ = ["ManifestSource", "keep_for_query", "manifest_source"]

_OPTIONS = (
    frozenset({"path", "url", "instrument", "concurrency", "timeout"})
    | CREDENTIAL_KEYS
    | LIMIT_KEYS
)


class ManifestSource(ClosingSource):
    """Lists the rows of a manifest file or URL that fit a query.

    Parameters
    ----------
    name : str
        Source name.
    path : Path or None
        The manifest file (exclusive with ``url``).
    url : str or None
        The manifest's URL.
    client : PageClient or None
        Fetches ``url``.
    instrument : str or None
        Instrument for rows that name none.
    """

    def __init__(
        self,
        name: str,
        *,
        path: Path | None = None,
        url: str | None = None,
        client: PageClient | None = None,
        instrument: str | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.url = url
        self.instrument = instrument
        self._client = client

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else redact_url(self.url or "")
        return f"ManifestSource({self.name!r}, {where!r})"

    async def list_files(self, query: ListingQuery) -> list[FileSpec]:
        """Return the manifest's rows that fit ``query``."""
        specs = await self._read()
        if self.instrument is not None:
            specs = [
                s if s.instrument else dataclasses.replace(s, instrument=self.instrument)
                for s in specs
            ]
        return [spec for spec in specs if keep_for_query(spec, query)]

    async def _read(self) -> list[FileSpec]:
        if self.path is not None:
            # A large manifest takes a while to validate: keep the event loop free.
            return await asyncio.to_thread(read_specs, self.path, source=self.name)
        assert self.url is not None and self._client is not None
        text = await self._client.get_text(self.url)
        shown = redact_url(self.url)
        if text is None:
            raise SourceError(f"source {self.name}: manifest {shown} not found (404)")
        try:
            return await asyncio.to_thread(parse_specs, text, shown, source=self.name)
        except (ManifestError, PathEscapeError) as exc:
            # Input, as the same rows in a file are: exit code 2 (see ListingEntryError).
            raise ListingEntryError(f"source {self.name}: {exc.message}") from None

    async def aclose(self) -> None:
        """Close the client, if any."""
        if self._client is not None:
            await self._client.aclose()


def keep_for_query(spec: FileSpec, query: ListingQuery) -> bool:
    """Whether a listed file may belong to ``query`` (unknown values never exclude)."""
    other_instrument = (
        query.instrument is not None
        and spec.instrument is not None
        and spec.instrument.casefold() != query.instrument.casefold()
    )
    if other_instrument:
        return False
    if query.by == "downlink":
        return spec.downlink_time is None or query.window.contains(spec.downlink_time)
    if spec.obs_start is None:
        return True
    return query.window.overlaps(spec.obs_start, spec.obs_end)


def manifest_source(options: Mapping[str, Any], context: SourceContext) -> Source:
    """Build a :class:`ManifestSource` from its configuration table."""
    reader = OptionReader(options, context.where)
    reader.reject_unknown(_OPTIONS)
    path, url = reader.string("path"), reader.string("url")
    if (path is None) == (url is None):
        raise ConfigError(f"{context.where}: give exactly one of 'path' and 'url'")
    instrument = reader.string("instrument")
    if path is not None:
        return ManifestSource(
            context.name, path=context.base_dir / Path(path).expanduser(), instrument=instrument
        )
    assert url is not None
    client = listing_client(url, reader, context, concurrency=1)
    return ManifestSource(context.name, url=url, client=client, instrument=instrument)
