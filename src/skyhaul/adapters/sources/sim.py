"""The ``sim`` source: the archive simulator's listing API (``/api/files``).

Options: ``url`` (the simulator's base URL, required), ``instrument`` (default for
queries without one), ``concurrency``, ``timeout``, ``max_answer_size``, ``max_wait`` and
the credential keys (a real archive with the same API may need them).

The simulator filters by instrument and by observation or downlink window itself, so this
source lists exactly what the query asks; its ETag is the file's listed version. An entry's
mission metadata is read under the declaration's field names (:mod:`skyhaul.core.metadata`),
which the simulator's listing uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from skyhaul.adapters.credentials import CREDENTIAL_KEYS
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.base import ClosingSource, ListingQuery, Source, SourceContext
from skyhaul.adapters.sources.options import LIMIT_KEYS, OptionReader, listing_client
from skyhaul.core.metadata import parse_metadata
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.redact import redact_url
from skyhaul.errors import PathEscapeError, SourceError

__all__ = ["SimSource", "sim_source"]

_OPTIONS = frozenset({"url", "instrument", "concurrency", "timeout"}) | CREDENTIAL_KEYS | LIMIT_KEYS


class SimSource(ClosingSource):
    """Lists files through a simulator-style JSON API.

    Parameters
    ----------
    name : str
        Source name.
    base_url : str
        The API's base URL (``http://127.0.0.1:8080``).
    client : PageClient
        Fetches the listing.
    instrument : str or None
        Instrument used when a query names none.
    """

    def __init__(
        self, name: str, base_url: str, client: PageClient, *, instrument: str | None = None
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.instrument = instrument
        self._client = client

    def __repr__(self) -> str:
        return f"SimSource({self.name!r}, {redact_url(self.base_url)!r})"

    def listing_url(self, query: ListingQuery) -> str:
        """The ``/api/files`` URL that answers ``query``."""
        params = {"start": _iso(query.window.start), "end": _iso(query.window.end), "by": query.by}
        instrument = query.instrument or self.instrument
        if instrument:
            params["instrument"] = instrument
        return f"{self.base_url}/api/files?{urlencode(params)}"

    async def list_files(self, query: ListingQuery) -> list[FileSpec]:
        """Return the files the simulator lists for ``query``."""
        url = self.listing_url(query)
        document = await self._client.get_json(url)
        if not isinstance(document, list):
            raise SourceError(f"source {self.name}: {redact_url(url)} is not a JSON list")
        return [self._spec(entry, index, url) for index, entry in enumerate(document)]

    def _spec(self, entry: Any, index: int, url: str) -> FileSpec:
        where = f"source {self.name}: {redact_url(url)}: item {index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise SourceError(f"{where}: not a file entry")
        try:
            path = str(safe_relative_path(str(entry.get("path") or "")))
            return FileSpec(
                url=entry["url"],
                path=path,
                size=_int(entry.get("size")),
                checksum=entry.get("checksum") or None,
                source=self.name,
                version=entry.get("etag") or None,
                mirrors=_urls(entry.get("mirrors")),
                **parse_metadata(lambda name: _text(entry.get(name))),
            )
        except PathEscapeError as exc:
            raise SourceError(f"{where}: {exc.message}") from None
        except (TypeError, ValueError) as exc:
            raise SourceError(f"{where}: {exc}") from None

    async def aclose(self) -> None:
        """Close the listing client."""
        await self._client.aclose()


def sim_source(options: Mapping[str, Any], context: SourceContext) -> Source:
    """Build a :class:`SimSource` from its configuration table."""
    reader = OptionReader(options, context.where)
    reader.reject_unknown(_OPTIONS)
    base_url = reader.required("url")
    client = listing_client(base_url, reader, context)
    return SimSource(context.name, base_url, client, instrument=reader.string("instrument"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    """A listed value as text; None for none (JSON null or an empty string)."""
    if value is None or value == "":
        return None
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"size must be a non-negative integer, got {value!r}")
    return value


def _urls(value: object) -> tuple[str, ...]:
    """A listing's further URLs of a file (a JSON list of text), in order."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise ValueError(f"mirrors must be a list of URLs, got {type(value).__name__}")
    return tuple(value)
