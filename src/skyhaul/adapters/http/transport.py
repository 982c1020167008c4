"""HTTP(S) file transport: the engine's ``Transport`` on the shared :class:`HttpClient`.

Rules:
- Every request goes through :class:`~skyhaul.adapters.http.client.HttpClient`: its
  session, timeouts, redirect policy and credential rule (``HttpSettings.authorization``).
- Bodies are byte-exact: never decompressed, streamed as received.
- Errors come out as skyhaul ``TransferError`` classes (``map_client_errors``,
  ``raise_for_status``); a 416 means the remote changed, a malformed ``Content-Range``
  is an integrity error. No retries here: the engine retries files.
- URLs in messages are redacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import NoReturn

import aiohttp
from multidict import CIMultiDictProxy

from skyhaul.adapters.http.client import HttpClient, HttpSettings
from skyhaul.adapters.http.errors import map_client_errors, raise_for_status
from skyhaul.core.integrity import parse_repr_digest
from skyhaul.core.ranges import (
    ByteRange,
    ContentRange,
    if_range_value,
    parse_content_range,
    parse_unsatisfied_range,
)
from skyhaul.core.redact import redact_url
from skyhaul.errors import IntegrityError, RemoteChangedError
from skyhaul.ports.transport import Body, RemoteInfo

__all__ = ["HttpBody", "HttpTransport", "info_from_headers"]


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
    """Read files over HTTP(S) through one kept-alive :class:`HttpClient`.

    Parameters
    ----------
    settings : HttpSettings
        Timeouts, connection limits, TLS verification and the ``Authorization`` of each
        origin.
    """

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._client = HttpClient(self.settings)

    async def stat(self, url: str) -> RemoteInfo:
        """Return size and validators from a HEAD request."""
        response = await self._client.send("HEAD", url)
        with map_client_errors(url):
            async with response:
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
        headers: dict[str, str] | None = None
        if byte_range is not None:
            headers = {"Range": byte_range.header_value()}
            if if_range:
                headers["If-Range"] = if_range
        response = await self._client.send("GET", url, headers)
        with map_client_errors(url):
            async with response:
                yield _body_from_response(response, url)

    async def close(self) -> None:
        """Close the session and its connections."""
        await self._client.close()


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
