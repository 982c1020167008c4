"""The transport seam: how the engine reads bytes from any remote store.

Rules:
- A transport implements two calls: ``stat`` (what is there) and ``open`` (a stream of
  bytes, whole or one range), plus ``close``. HTTP(S) and S3 implement them; a run finds
  the transport of a URL by its scheme (``Transports``), so others plug in by scheme.
- ``open`` with ``if_range`` asks for the range only if the remote still has that
  validator. HTTP answers the whole file otherwise (``If-Range``); an object store
  refuses with ``RemoteChangedError`` (``If-Match``, 412). Both make the file restart
  (see ``core.resume``).
- A transport raises only skyhaul errors (``skyhaul.errors.TransferError`` subclasses),
  never its library's own: mapping happens inside the adapter.
- A transport reports what the server said (status, Content-Range, validators); it does
  not decide whether the answer is acceptable. The transfer service does, in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from skyhaul.core.integrity import Checksum
from skyhaul.core.ranges import ByteRange, ContentRange


@dataclass(frozen=True, slots=True)
class RemoteInfo:
    """What the remote says about a file (from headers of a HEAD or GET answer).

    Parameters
    ----------
    size : int or None
        Full size of the file, when the answer tells it.
    etag, last_modified : str or None
        Raw validators as sent.
    validator : str or None
        The value to send in ``If-Range`` (a strong ETag, else Last-Modified).
    accepts_ranges : bool
        ``Accept-Ranges: bytes`` was announced.
    digest : Checksum or None
        A whole-file checksum announced by an RFC 9530 ``Repr-Digest`` header.
    """

    size: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    validator: str | None = None
    accepts_ranges: bool = False
    digest: Checksum | None = None


class Body(Protocol):
    """An open answer whose bytes have not been read yet."""

    @property
    def partial(self) -> bool:
        """True for a 206 answer (a range), False for a whole-file answer."""

    @property
    def content_range(self) -> ContentRange | None:
        """The parsed ``Content-Range`` of a 206 answer."""

    @property
    def info(self) -> RemoteInfo:
        """Validators, size and digest announced with this answer."""

    def chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, in chunks of whatever size the network gives."""


class Transport(Protocol):
    """A remote store the engine can read files from."""

    async def stat(self, url: str) -> RemoteInfo:
        """Return what the remote says about ``url`` without fetching its bytes."""

    def open(
        self, url: str, byte_range: ByteRange | None = None, if_range: str | None = None
    ) -> AbstractAsyncContextManager[Body]:
        """Open ``url`` (the whole file, or ``byte_range`` of it).

        With ``if_range`` the server is asked to answer the range only if the file
        still has that validator, and the whole file otherwise.
        """

    async def close(self) -> None:
        """Release connections."""


class Transports(Protocol):
    """The transports of a run, chosen per URL scheme (``http``, ``https``, ``s3``)."""

    def for_url(self, url: str) -> Transport:
        """Return the transport for ``url``'s scheme.

        Raises
        ------
        ClientError
            For a scheme no transport serves (a permanent error of that file).
        """

    async def close(self) -> None:
        """Close every transport opened so far."""
