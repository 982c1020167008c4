"""Fetching listing pages (HTML indexes, JSON APIs) for sources: the HTTP seam of discovery.

Rules:
- One aiohttp session per client; TLS verified unless the configuration turns it off; the
  source's credentials go on every request to the source's own origin and on no other.
- A 404 is an answer, not an error: ``get_text`` returns None (a day directory that does
  not exist yet). 401 and 403 are a ``SourceAuthError``; other 4xx a ``SourceError``.
- Throttling, 5xx and network errors are retried with exponential backoff and full jitter
  (``Retry-After`` honoured) up to ``attempts`` times, then a ``SourceError``.
- At most ``concurrency`` requests are in flight: listing must stay polite too.
- Messages carry redacted URLs only.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from skyhaul.adapters.http import USER_AGENT, map_client_errors, raise_for_status
from skyhaul.core.redact import redact_url
from skyhaul.errors import ClientError, SourceAuthError, SourceError, TransferError

__all__ = ["PageClient", "refused_credentials"]

Sleep = Callable[[float], Awaitable[None]]


def refused_credentials(source: str, status: int, url: str) -> SourceAuthError:
    """The error of a 401 or 403 from a source's server (the URL redacted)."""
    return SourceAuthError(
        f"source {source}: HTTP {status} from {redact_url(url)}; check the source's credentials"
    )


class PageClient:
    """Reads listing pages of one source.

    Parameters
    ----------
    source : str
        The source's name, for messages.
    headers : Mapping of str to str
        Credential headers, sent to ``origin`` only.
    origin : str or None
        ``scheme://host[:port]`` the credentials belong to (None: no credentials sent).
    verify_tls : bool
        Verify certificates.
    timeout : float
        Seconds for one request.
    attempts : int
        Tries per page before giving up.
    concurrency : int
        Requests in flight at most.
    sleep, rand
        Injected for tests.
    """

    def __init__(
        self,
        source: str,
        *,
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
        verify_tls: bool = True,
        timeout: float = 60.0,
        attempts: int = 4,
        concurrency: int = 4,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self._headers = dict(headers or {})
        self._origin = origin
        self._verify_tls = verify_tls
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self._sleep = sleep
        self._rand = rand
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        """Requests made (tests and benchmarks read it)."""

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._verify_tls, limit=16),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    def _headers_for(self, url: str) -> dict[str, str]:
        if self._origin is None or not self._headers:
            return {}
        parts = urlsplit(url)
        return self._headers if f"{parts.scheme}://{parts.netloc}" == self._origin else {}

    async def get_text(self, url: str) -> str | None:
        """Return the page at ``url`` as text, or None when the server says 404 / 410."""
        body = await self._get(url)
        return None if body is None else body.decode("utf-8", errors="replace")

    async def get_json(self, url: str) -> Any:
        """Return the JSON document at ``url``; a 404 or a page that is not JSON is an error."""
        body = await self._get(url)
        if body is None:
            raise SourceError(f"source {self.source}: {redact_url(url)} not found (404)")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise SourceError(
                f"source {self.source}: {redact_url(url)} is not JSON ({exc})"
            ) from None

    async def _get(self, url: str) -> bytes | None:
        last: TransferError | None = None
        for attempt in range(self._attempts):
            try:
                async with self._gate:
                    return await self._fetch(url)
            except ClientError as exc:
                if exc.status in (404, 410):
                    return None
                if exc.status in (401, 403):
                    raise refused_credentials(self.source, exc.status, url) from None
                raise SourceError(f"source {self.source}: {exc.message}") from None
            except TransferError as exc:
                last = exc
                if attempt + 1 < self._attempts:
                    backoff = self._rand() * min(30.0, 0.5 * 2**attempt)
                    await self._sleep(max(backoff, exc.retry_after or 0.0))
        assert last is not None
        raise SourceError(
            f"source {self.source}: {last.message} (after {self._attempts} tries)"
        ) from None

    async def _fetch(self, url: str) -> bytes:
        self.requests += 1
        with map_client_errors(url):
            async with self._client().get(url, headers=self._headers_for(url)) as response:
                raise_for_status(response.status, response.headers, url)
                return await response.read()

    async def aclose(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
