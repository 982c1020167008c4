"""HTTP(S) transport on aiohttp: the only module that talks to aiohttp as a client.

Rules:
- Every aiohttp and socket error is mapped to a skyhaul ``TransferError`` subclass here
  (``map_client_errors``), so nothing above this seam knows aiohttp exists.
- Status codes are classified here: 429 and 503-with-Retry-After are throttling, other
  5xx and 408 are server errors, other 4xx are permanent client errors.
- URLs in messages are redacted (signed URLs carry credentials in their query).
- Bodies are never decompressed: the bytes on disk are the bytes the archive holds.
- TLS certificates are verified unless the caller explicitly turns it off.
"""

from __future__ import annotations

import errno
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import NoReturn
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from skyhaul.core.integrity import parse_repr_digest
from skyhaul.core.ranges import (
    ByteRange,
    ContentRange,
    if_range_value,
    parse_content_range,
    parse_unsatisfied_range,
)
from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ClientError,
    ConnectError,
    IntegrityError,
    ReadTimeoutError,
    RemoteChangedError,
    ServerError,
    ThrottledError,
    TransferError,
)
from skyhaul.ports.transport import Body, RemoteInfo
from skyhaul.version import __version__

USER_AGENT = f"skyhaul/{__version__} (+https://github.com/skyhaul/skyhaul)"
READ_BUFFER = 1 << 20
#: Status codes that are worth retrying although they are 4xx.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425})


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Connection settings of the HTTP transport.

    Parameters
    ----------
    max_connections : int
        Connections kept open at once over all hosts (the engine's own gates are
        tighter; this is a safety net).
    connect_timeout, read_timeout : float
        Seconds to open a connection, and between two reads of a body.
    verify_tls : bool
        Verify server certificates (default on).
    authorization : tuple of (origin, value) pairs
        ``Authorization`` values sent to requests for each origin and to no other (aiohttp
        drops the header on a redirect to another origin); never in ``repr``.
    """

    max_connections: int = 256
    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    verify_tls: bool = True
    authorization: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def parse_retry_after(value: str | None, now: Callable[[], float] | None = None) -> float | None:
    """Return seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = (now or time.time)()
    return max(0.0, when.timestamp() - current)


def info_from_headers(headers: CIMultiDictProxy[str], size: int | None) -> RemoteInfo:
    """Build a :class:`RemoteInfo` from answer headers (``size`` decided by the caller)."""
    etag = headers.get("ETag")
    last_modified = headers.get("Last-Modified")
    digest_header = headers.get("Repr-Digest")
    return RemoteInfo(
        size=size,
        etag=etag,
        last_modified=last_modified,
        validator=if_range_value(etag, last_modified),
        accepts_ranges=headers.get("Accept-Ranges", "").strip().lower() == "bytes",
        digest=parse_repr_digest(digest_header) if digest_header else None,
    )


def raise_for_status(status: int, headers: CIMultiDictProxy[str], url: str) -> None:
    """Raise the skyhaul error that an error status means; return for 2xx."""
    if status < 400:
        return
    shown = redact_url(url)
    retry_after = parse_retry_after(headers.get("Retry-After"))
    message = f"HTTP {status} from {shown}"
    if status == 429 or (status == 503 and retry_after is not None):
        raise ThrottledError(message, retry_after=retry_after, status=status)
    if status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        raise ServerError(message, retry_after=retry_after, status=status)
    raise ClientError(message, status=status)


@contextmanager
def map_client_errors(url: str) -> Iterator[None]:
    """Translate aiohttp and socket errors raised inside the block to skyhaul errors."""
    # The URL is redacted only when there is an error to report (not once per request).
    shown = _Redacted(url)
    try:
        yield
    except TransferError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise ReadTimeoutError(f"timed out reading {shown}") from exc
    except aiohttp.InvalidURL as exc:
        raise ClientError(f"invalid URL {shown}") from exc
    except aiohttp.TooManyRedirects as exc:
        raise ClientError(f"too many redirects from {shown}") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        raise ClientError(
            f"TLS certificate of {shown} not trusted: {exc.certificate_error}"
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectError(f"cannot connect to {shown}: {exc.strerror or exc}") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise ConnectError(f"server closed the connection: {shown}") from exc
    except aiohttp.ClientPayloadError as exc:
        raise ConnectError(f"body cut short from {shown}") from exc
    except aiohttp.ClientError as exc:
        raise ConnectError(f"{type(exc).__name__} from {shown}") from exc
    except OSError as exc:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            raise ConnectError(f"connection reset by {shown}") from exc
        raise ConnectError(f"network error from {shown}: {exc.strerror or exc}") from exc


class _Redacted:
    """A URL shown redacted, computed when formatted."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return redact_url(self.url)


@dataclass(slots=True)
class HttpBody:
    """An open HTTP answer (see :class:`skyhaul.ports.transport.Body`)."""

    response: aiohttp.ClientResponse
    url: str
    partial: bool
    content_range: ContentRange | None
    info: RemoteInfo

    async def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; errors are mapped to skyhaul errors."""
        # iter_chunks hands over the buffers as received; iter_any would join them (a copy).
        with map_client_errors(self.url):
            async for chunk, _ in self.response.content.iter_chunks():
                yield chunk


class HttpTransport:
    """Read files over HTTP(S) with one kept-alive aiohttp session.

    Parameters
    ----------
    settings : HttpSettings
        Timeouts, connection limits and TLS verification.
    """

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._session: aiohttp.ClientSession | None = None
        self._authorization = dict(self.settings.authorization)

    def _auth_headers(self, url: str, headers: dict[str, str]) -> dict[str, str]:
        """Add the origin's ``Authorization`` to ``headers``, if it has one."""
        if self._authorization:
            parts = urlsplit(url)
            value = self._authorization.get(f"{parts.scheme}://{parts.netloc}".lower())
            if value is not None:
                headers["Authorization"] = value
        return headers

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running loop.
        if self._session is None:
            s = self.settings
            connector = aiohttp.TCPConnector(
                limit=s.max_connections, limit_per_host=0, ssl=s.verify_tls, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
                ),
                auto_decompress=False,
                read_bufsize=READ_BUFFER,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            )
        return self._session

    async def stat(self, url: str) -> RemoteInfo:
        """Return size and validators from a HEAD request."""
        with map_client_errors(url):
            headers = self._auth_headers(url, {})
            async with self._client().head(url, headers=headers, allow_redirects=True) as response:
                raise_for_status(response.status, response.headers, url)
                length = response.headers.get("Content-Length")
                size = int(length) if length and length.isdigit() else None
                return info_from_headers(response.headers, size)

    def open(
        self, url: str, byte_range: ByteRange | None = None, if_range: str | None = None
    ) -> AbstractAsyncContextManager[Body]:
        """Open ``url`` whole or one range of it (see the Transport protocol)."""
        return self._open(url, byte_range, if_range)

    @asynccontextmanager
    async def _open(
        self, url: str, byte_range: ByteRange | None, if_range: str | None
    ) -> AsyncIterator[Body]:
        headers: dict[str, str] = {}
        if byte_range is not None:
            headers["Range"] = byte_range.header_value()
            if if_range:
                headers["If-Range"] = if_range
        self._auth_headers(url, headers)
        with map_client_errors(url):
            async with self._client().get(url, headers=headers, allow_redirects=True) as response:
                body = _body_from_response(response, url)
                yield body

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _body_from_response(response: aiohttp.ClientResponse, url: str) -> HttpBody:
    status = response.status
    headers = response.headers
    if status == 416:
        raise _unsatisfiable(headers, url)
    raise_for_status(status, headers, url)
    length_header = headers.get("Content-Length")
    length = int(length_header) if length_header and length_header.isdigit() else None
    content_range: ContentRange | None = None
    if status == 206:
        raw = headers.get("Content-Range", "")
        try:
            content_range = parse_content_range(raw)
        except ValueError:
            raise IntegrityError(
                f"206 with a malformed Content-Range {raw!r} from {redact_url(url)}"
            ) from None
        size = content_range.total
    else:
        size = length
    return HttpBody(
        response=response,
        url=url,
        partial=status == 206,
        content_range=content_range,
        info=info_from_headers(headers, size),
    )


def _unsatisfiable(headers: CIMultiDictProxy[str], url: str) -> NoReturn:
    # A 416 means our idea of the size is wrong: the remote file changed or shrank.
    total = parse_unsatisfied_range(headers.get("Content-Range", ""))
    raise RemoteChangedError(
        f"range not satisfiable (remote size {total}) for {redact_url(url)}", status=416
    )
