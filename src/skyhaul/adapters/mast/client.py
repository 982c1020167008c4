"""The MAST archive as skyhaul asks it: names, cone and filtered searches, products, cloud paths.

Rules:
- Everything goes to the one MAST URL configured (``--mast-url``, ``SKYHAUL_MAST_URL``,
  default ``https://mast.stsci.edu``): queries, name resolution (``Mast.Name.Lookup``
  through invoke), path lookups and the download URLs. The URL is checked once, here.
- Searches: ``Mast.Caom.Cone`` for a position alone, ``Mast.Caom.Filtered.Position``
  for a position with filters, ``Mast.Caom.Filtered`` for filters alone. Filters are
  MAST's: ``{"paramName": column, "values": [text, ...]}`` (every value as text, as
  astroquery sends discrete columns such as ``calib_level``).
- Products of many observations: ``Mast.Caom.Products`` with ``obsid`` ids joined by
  commas, ``PRODUCTS_BATCH`` ids per query.
- Cloud paths: ``GET {mast}/api/v0.1/path_lookup/?uri=..&uri=..&use_cloud_path=True``,
  ``PATH_LOOKUP_BATCH`` URIs per request, never one request per product. A path (without
  its leading ``/``) is a key of the public bucket ``CLOUD_BUCKET``; ``null`` or a status
  other than 200 means the product is not in the cloud.
- A file's MAST URL is ``{mast}/api/v0.1/Download/file?uri=`` + the URI quoted with
  ``safe=':/'``: a URI's own ``?`` and ``&`` are escaped, so they stay in the URI.
- Rows that identify nothing (see :mod:`.rows`) are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeGuard
from urllib.parse import quote, urlencode, urlsplit

from skyhaul.adapters.mast.invoke import InvokeLimits, Invoker
from skyhaul.adapters.mast.rows import Observation, Product
from skyhaul.adapters.mast.wire import MastWire, Sleep
from skyhaul.core.redact import redact_url
from skyhaul.errors import ConfigError, SourceError, UsageError

__all__ = [
    "CLOUD_BUCKET",
    "DEFAULT_MAST_URL",
    "MAST_URL_ENV",
    "PATH_LOOKUP_BATCH",
    "PRODUCTS_BATCH",
    "Filter",
    "MastClient",
    "SkyPosition",
    "cloud_url",
    "mast_url",
]

DEFAULT_MAST_URL = "https://mast.stsci.edu"
MAST_URL_ENV = "SKYHAUL_MAST_URL"
#: URIs per path lookup request (astroquery's own batches; MAST refuses long URLs).
PATH_LOOKUP_BATCH = 40
#: Observation ids per ``Mast.Caom.Products`` query (astroquery's batches).
PRODUCTS_BATCH = 500
#: MAST's public bucket (us-east-1, anonymous access).
CLOUD_BUCKET = "stpubdata"

_CONE = "Mast.Caom.Cone"
_FILTERED = "Mast.Caom.Filtered"
_FILTERED_POSITION = "Mast.Caom.Filtered.Position"
_PRODUCTS = "Mast.Caom.Products"
_NAME_LOOKUP = "Mast.Name.Lookup"
_PATH_LOOKUP = "/api/v0.1/path_lookup/"
_DOWNLOAD = "/api/v0.1/Download/file?uri="


def mast_url(value: str | None, environ: Mapping[str, str]) -> str:
    """Return the MAST URL to use: ``value``, else ``$SKYHAUL_MAST_URL``, else MAST's own.

    Raises
    ------
    ConfigError
        The URL is not ``http(s)://host[:port][/path]`` (exit code 2).
    """
    text = (value or environ.get(MAST_URL_ENV) or DEFAULT_MAST_URL).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - reading it is what checks it
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
    ):
        shown = redact_url(text)
        raise ConfigError(f"MAST URL {shown!r} is not an http(s) URL (--mast-url, {MAST_URL_ENV})")
    return text.rstrip("/")


def cloud_url(key: str) -> str:
    """The ``s3://`` URL of a key of MAST's public bucket."""
    return f"s3://{CLOUD_BUCKET}/{key}"


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of a MAST search: ``column`` is one of ``values``, or matches
    ``free_text`` (MAST's wildcard, ``%`` for any text: ``NIRCAM%``)."""

    column: str
    values: tuple[str, ...]
    free_text: str | None = None

    def as_json(self) -> dict[str, object]:
        """MAST's form of the filter."""
        shape: dict[str, object] = {"paramName": self.column, "values": list(self.values)}
        if self.free_text is not None:
            shape["freeText"] = self.free_text
        return shape


@dataclass(frozen=True, slots=True)
class SkyPosition:
    """Where a name points on the sky (degrees, ICRS)."""

    ra: float
    dec: float
    name: str


class MastClient:
    """Ask MAST (asynchronously); close with :meth:`aclose`.

    Parameters
    ----------
    url : str
        MAST's root, as :func:`mast_url` returns it.
    verify_tls : bool
        Verify certificates.
    timeout : float
        Seconds for one request.
    attempts : int
        Tries per request.
    limits : InvokeLimits or None
        Page size and polling bounds of queries.
    sleep, clock, rand
        Injected in tests (waits between polls and retries, the time polled, jitter).
    """

    def __init__(
        self,
        url: str = DEFAULT_MAST_URL,
        *,
        verify_tls: bool = True,
        timeout: float = 300.0,
        attempts: int = 4,
        limits: InvokeLimits | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.wire = MastWire(
            timeout=timeout, attempts=attempts, verify_tls=verify_tls, sleep=sleep, rand=rand
        )
        self._invoker = Invoker(self.wire, url, limits, sleep=sleep, clock=clock)
        self.dropped = 0
        """Rows MAST sent that identify nothing (no obsid, no dataURI), left out."""

    async def resolve(self, name: str) -> SkyPosition:
        """Return where ``name`` (``M31``, ``NGC 1300``) is on the sky.

        Raises
        ------
        UsageError
            MAST knows no such name.
        SourceError
            MAST failed or answered something unreadable.
        """
        answer = await self._invoker.answer(_NAME_LOOKUP, {"input": name, "format": "json"})
        found = answer.get("resolvedCoordinate")
        if not isinstance(found, list) or not found:
            raise UsageError(f"MAST could not resolve the name {name!r}")
        first = found[0]
        ra = first.get("ra") if isinstance(first, dict) else None
        dec = first.get("decl") if isinstance(first, dict) else None
        if not _is_number(ra) or not _is_number(dec):
            raise SourceError(f"MAST {_NAME_LOOKUP}: no ra/decl for {name!r}")
        canonical = first.get("canonicalName") if isinstance(first, dict) else None
        return SkyPosition(float(ra), float(dec), canonical if isinstance(canonical, str) else name)

    async def cone(
        self, ra: float, dec: float, radius: float, filters: Sequence[Filter] = ()
    ) -> list[Observation]:
        """Observations within ``radius`` degrees of (``ra``, ``dec``), filtered."""
        if not filters:
            params: dict[str, object] = {"ra": ra, "dec": dec, "radius": radius}
            return self._observations(await self._invoker.rows(_CONE, params))
        params = {
            "columns": "*",
            "filters": [f.as_json() for f in filters],
            "position": f"{ra}, {dec}, {radius}",
        }
        return self._observations(await self._invoker.rows(_FILTERED_POSITION, params))

    async def filtered(self, filters: Sequence[Filter]) -> list[Observation]:
        """Observations matching every filter (at least one)."""
        params = {"columns": "*", "filters": [f.as_json() for f in filters]}
        return self._observations(await self._invoker.rows(_FILTERED, params))

    async def products(self, obsids: Iterable[str]) -> list[Product]:
        """The products of the observations ``obsids`` (MAST's ``obsid``), batched."""
        wanted = list(dict.fromkeys(obsids))
        found: list[Product] = []
        for start in range(0, len(wanted), PRODUCTS_BATCH):
            batch = ",".join(wanted[start : start + PRODUCTS_BATCH])
            rows = await self._invoker.rows(_PRODUCTS, {"obsid": batch})
            for row in rows:
                product = Product.from_row(row)
                if product is None:
                    self.dropped += 1
                else:
                    found.append(product)
        return found

    async def cloud_paths(self, uris: Iterable[str]) -> dict[str, str | None]:
        """Each URI's key in the public bucket, or None when it is not in the cloud."""
        wanted = list(dict.fromkeys(uris))
        keys: dict[str, str | None] = {}
        for start in range(0, len(wanted), PATH_LOOKUP_BATCH):
            batch = wanted[start : start + PATH_LOOKUP_BATCH]
            query = urlencode([*(("uri", u) for u in batch), ("use_cloud_path", "True")])
            answer = await self.wire.get_json(f"{self.url}{_PATH_LOOKUP}?{query}", "path_lookup")
            for uri in batch:
                keys[uri] = _cloud_key(answer.get(uri))
        return keys

    def download_url(self, uri: str) -> str:
        """The MAST URL that serves ``uri``."""
        return self.url + _DOWNLOAD + quote(uri, safe=":/")

    def _observations(self, rows: list[Mapping[str, object]]) -> list[Observation]:
        found = []
        for row in rows:
            observation = Observation.from_row(row)
            if observation is None:
                self.dropped += 1
            else:
                found.append(observation)
        return found

    async def aclose(self) -> None:
        """Close the connections."""
        await self.wire.aclose()


def _cloud_key(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return None
    path, status = entry.get("path"), entry.get("status_code", 200)
    if status != 200 or not isinstance(path, str):
        return None
    return path.lstrip("/") or None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
