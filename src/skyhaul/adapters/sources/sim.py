"""The ``sim`` source: the archive simulator's listing API (``/api/files``).

Options: ``url`` (the simulator's base URL, required), ``instrument`` (default for
queries without one), ``concurrency``, ``timeout``, ``max_answer_size``, ``max_wait`` and
the credential keys (a real archive with the same API may need them).

The simulator filters by instrument and by observation or downlink window itself, so this
source lists exactly what the query asks; its ETag is the file's listed version. An entry's
mission metadata is read under the declaration's field names (:mod:`skyhaul.core.metadata`),
which the simulator's listing uses.

Each entry is checked as the engine will use it (:func:`skyhaul.core.specs.validate_spec`),
and no entry's path may be a directory of another's: an entry no run could use is a
:class:`~skyhaul.errors.ListingEntryError` naming its item, and nothing is listed.
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
from skyhaul.core.specs import find_path_clash, kind_of, validate_spec
from skyhaul.errors import ListingEntryError, PathEscapeError, SourceError

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
        specs = [self._spec(entry, index, url) for index, entry in enumerate(document)]
        item_of: dict[str, int] = {}  # each path's first item
        for index, spec in enumerate(specs):
            item_of.setdefault(spec.path, index)
        clash = find_path_clash(item_of)
        if clash is not None:
            where = f"source {self.name}: {redact_url(url)}: item {item_of[clash.later]}"
            earlier = f"item {item_of[clash.earlier]}"
            raise ListingEntryError(f"{where}: {clash.message(earlier)}")
        return specs

    def _spec(self, entry: Any, index: int, url: str) -> FileSpec:
        where = f"source {self.name}: {redact_url(url)}: item {index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ListingEntryError(f"{where}: not a file entry")
        try:
            path = str(safe_relative_path(str(entry.get("path") or "")))
            spec = FileSpec(
                url=entry["url"],
                path=path,
                size=_int(entry.get("size")),
                checksum=_text(entry, "checksum"),
                source=self.name,
                version=_text(entry, "etag"),
                mirrors=_urls(entry.get("mirrors")),
                **parse_metadata(lambda name: _text(entry, name)),
            )
            validate_spec(spec)
        except PathEscapeError as exc:
            raise ListingEntryError(f"{where}: {exc.message}") from None
        except (TypeError, ValueError) as exc:
            raise ListingEntryError(f"{where}: {exc}") from None
        return spec

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


def _text(entry: dict[str, Any], name: str) -> str | None:
    """An entry's value as text; None for none (JSON null or an empty string).

    Numbers are read as text (a slot ``3``); an object, a list or true/false is no value
    of a text or time field, and ``str()`` would make one up.
    """
    value = entry.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} must be text, got {kind_of(value)}")
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
