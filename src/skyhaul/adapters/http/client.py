"""The HTTP client every skyhaul request goes through: files, listing pages, records.

Rules:
- One aiohttp session per client, made lazily inside the running loop (aiohttp requires
  it), with one connector, TLS verified unless the settings turn it off, skyhaul's
  User-Agent, and the connect, read and total timeouts of :class:`HttpSettings`.
- Byte-exact clients (the file transport) ask for ``Accept-Encoding: identity`` and never
  decompress: the bytes on disk are the bytes the archive holds.
- Redirects are followed here, by hand (aiohttp's own following is off), under one
  :class:`~skyhaul.adapters.http.redirects.RedirectPolicy`; the
  :class:`~skyhaul.adapters.http.origins.CredentialRule` decides the credential headers
  of the first request and of every hop. Headers the caller passes must carry none.
- A redirect costs only when there is one: a plain answer is one status check.
- No retries here: the engine retries files, :class:`~skyhaul.adapters.pages.PageClient`
  pages and the backfill records, each under a ``core.retry.RetryPolicy``.
- aiohttp errors of a request are mapped by ``map_client_errors``; a caller that reads
  the body maps the errors of its reads the same way.
- ``read`` keeps an answer in memory only up to ``HttpSettings.max_answer`` bytes (as
  decompressed): past that, or announced past it, it is a ``ClientError`` at once; an
  endless listing once took 6.3 GiB in 24 s. File bodies are streamed, never read whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import aiohttp

from skyhaul.adapters.http.errors import map_client_errors, raise_for_status
from skyhaul.adapters.http.origins import CredentialRule
from skyhaul.adapters.http.redirects import RedirectPolicy
from skyhaul.core.redact import redact_url
from skyhaul.core.units import format_size
from skyhaul.errors import ClientError
from skyhaul.version import __version__

__all__ = ["MAX_ANSWER", "READ_BUFFER", "USER_AGENT", "HttpClient", "HttpSettings"]

USER_AGENT = f"skyhaul/{__version__} (+https://github.com/skyhaul/skyhaul)"
READ_BUFFER = 1 << 20
#: Bytes of one answer ``read`` keeps in memory, by default: a listing page or a chunk of
#: records far larger than any seen, yet bounded.
MAX_ANSWER = 256 << 20

Method = Literal["GET", "HEAD"]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Connection settings of an HTTP client.

    Parameters
    ----------
    max_connections : int
        Connections kept open at once over all hosts (the engine's own gates are
        tighter; this is a safety net).
    connect_timeout, read_timeout : float
        Seconds to open a connection, and between two reads of an answer.
    verify_tls : bool
        Verify server certificates (default on).
    authorization : tuple of (origin, value) pairs
        ``Authorization`` values sent to requests for each origin and to no other, redirect
        hops included (:class:`~skyhaul.adapters.http.origins.CredentialRule`); never in
        ``repr``.
    total_timeout : float or None
        Seconds for one request with its answer's body, each redirect hop on its own
        (None: unbounded, as files are).
    max_redirects : int
        Redirects followed for one request at most.
    byte_exact : bool
        Ask for and keep bodies exactly as stored (``Accept-Encoding: identity``, no
        decompression); pages and records may arrive compressed.
    max_answer : int
        Bytes of one answer :meth:`HttpClient.read` keeps in memory at most.
    """

    max_connections: int = 256
    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    verify_tls: bool = True
    authorization: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    total_timeout: float | None = None
    max_redirects: int = 10
    byte_exact: bool = True
    max_answer: int = MAX_ANSWER


class HttpClient:
    """Send GET and HEAD requests under skyhaul's redirect and credential rules.

    Parameters
    ----------
    settings : HttpSettings
        Timeouts, connection limit, TLS verification, redirects.
    credentials : CredentialRule, optional
        Which origins get which credential headers (default: ``settings.authorization``).
    """

    def __init__(
        self, settings: HttpSettings | None = None, credentials: CredentialRule | None = None
    ) -> None:
        self.settings = settings or HttpSettings()
        self.credentials = (
            credentials
            if credentials is not None
            else CredentialRule.authorization(self.settings.authorization)
        )
        self.redirects = RedirectPolicy(self.settings.max_redirects)
        self._session: aiohttp.ClientSession | None = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the loop running when it is made.
        if self._session is None:
            s = self.settings
            headers = {"User-Agent": USER_AGENT}
            if s.byte_exact:
                headers["Accept-Encoding"] = "identity"
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=s.max_connections, limit_per_host=0, ssl=s.verify_tls, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(
                    total=s.total_timeout, sock_connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                auto_decompress=not s.byte_exact,
                read_bufsize=READ_BUFFER,
                headers=headers,
            )
        return self._session

    async def send(
        self, method: Method, url: str, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        """Send a request, follow its redirects, and return the final answer unread.

        The caller releases the answer (``async with response:``), whatever its status.

        Raises
        ------
        TransferError
            The request failed, or a redirect was refused (``ClientError``).
        """
        with map_client_errors(url):
            session = self._ensure_session()
            granted = self.credentials.headers_for(url)
            response = await session.request(
                method, url, headers=_with(headers, granted), allow_redirects=False
            )
            if 300 <= response.status < 400:
                response = await self._follow(session, method, url, headers, response)
            return response

    async def _follow(
        self,
        session: aiohttp.ClientSession,
        method: Method,
        requested: str,
        headers: Mapping[str, str] | None,
        response: aiohttp.ClientResponse,
    ) -> aiohttp.ClientResponse:
        followed = 0
        while 300 <= response.status < 400:
            try:
                target = self.redirects.next_url(
                    response.url,
                    response.status,
                    response.headers.get("Location"),
                    followed=followed,
                    requested=requested,
                )
            finally:
                response.release()
            followed += 1
            # The rule is asked again: a hop to another origin carries none of the first's.
            granted = self.credentials.headers_for(str(target))
            response = await session.request(
                method, target, headers=_with(headers, granted), allow_redirects=False
            )
        return response

    async def read(self, url: str, headers: Mapping[str, str] | None = None) -> bytes:
        """GET ``url`` and return its body (``settings.max_answer`` bytes at most).

        Raises
        ------
        TransferError
            The request failed or the answer is an error (``raise_for_status``); a
            ``ClientError`` when the body is larger than ``settings.max_answer``.
        """
        response = await self.send("GET", url, headers)
        most = self.settings.max_answer
        with map_client_errors(url):
            async with response:
                raise_for_status(response.status, response.headers, url)
                announced = response.content_length
                if announced is not None and announced > most:
                    raise _too_large(url, most)
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > most:
                        raise _too_large(url, most)
                return bytes(body)

    async def close(self) -> None:
        """Close the session and its connections (a new one opens on demand)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _too_large(url: str, most: int) -> ClientError:
    return ClientError(
        f"the answer from {redact_url(url)} is larger than {format_size(most)}"
        " (the source's max_answer_size)"
    )


def _with(
    headers: Mapping[str, str] | None, granted: Mapping[str, str]
) -> Mapping[str, str] | None:
    """The caller's headers plus the credentials granted to this hop (no copy without)."""
    return {**headers, **granted} if granted and headers else (granted or headers)
