"""HTTP answers and aiohttp failures as skyhaul errors: the one place they are classified.

Rules:
- Status codes: 429 and 503-with-Retry-After are throttling, other 5xx and 408/425 are
  server errors, other 4xx are permanent client errors; below 400 is not an error.
- Every aiohttp and socket error raised inside ``map_client_errors`` becomes a
  ``TransferError`` subclass, so nothing above the HTTP adapter knows aiohttp exists.
- A host name that does not resolve is its own class (``NameResolutionError``): a typo
  is not congestion, and is retried only a few times (``core.retry``).
- ``Retry-After`` is read as whole seconds or an HTTP date, and as
  ``LONGEST_RETRY_AFTER`` at most: a server's years mean the same to a run as one year,
  and no later due date overflows.
- URLs in messages are redacted (signed URLs carry credentials in their query), and only
  when a message is made: redaction costs nothing on the success path.
"""

from __future__ import annotations

import errno
import re
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from email.utils import parsedate_to_datetime
from types import TracebackType

import aiohttp
from multidict import CIMultiDictProxy

from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ClientError,
    ConnectError,
    NameResolutionError,
    ReadTimeoutError,
    ServerError,
    ThrottledError,
    TransferError,
)

__all__ = [
    "LONGEST_RETRY_AFTER",
    "RETRYABLE_CLIENT_STATUSES",
    "map_client_errors",
    "parse_retry_after",
    "raise_for_status",
]

#: Status codes that are worth retrying although they are 4xx.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 425})
# aiohttp 3.10 and later tell a connect timeout from a read timeout; 3.9 does not.
_CONNECT_TIMEOUTS: tuple[type[BaseException], ...] = tuple(
    kind for kind in (getattr(aiohttp, "ConnectionTimeoutError", None),) if kind is not None
)


#: The longest ``Retry-After`` taken as given, in seconds (a year); longer ones are read
#: as this.
LONGEST_RETRY_AFTER = 365 * 86400.0
_SECONDS = re.compile(r"[0-9]+")  # delay-seconds of RFC 9110: ASCII digits only
# Recent aiohttp raises this for a name that does not resolve; older releases a
# ClientConnectorError carrying the resolver's socket.gaierror (both are looked for).
_DNS_ERRORS: tuple[type[BaseException], ...] = tuple(
    kind for kind in (getattr(aiohttp, "ClientConnectorDNSError", None),) if kind is not None
)


def parse_retry_after(value: str | None, now: Callable[[], float] | None = None) -> float | None:
    """Return seconds to wait from a ``Retry-After`` header (seconds or an HTTP date).

    None when there is no header or it is neither; ``LONGEST_RETRY_AFTER`` at most.
    """
    if not value:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # Compared as text first: int() of thousands of digits is slow, float() of them inf.
        if len(value) > 12:
            return LONGEST_RETRY_AFTER
        return min(float(value), LONGEST_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    current = (now or time.time)()
    return min(max(0.0, when.timestamp() - current), LONGEST_RETRY_AFTER)


def raise_for_status(status: int, headers: CIMultiDictProxy[str], url: str) -> None:
    """Raise the skyhaul error that an error status means; return below 400."""
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


def map_client_errors(url: str) -> AbstractContextManager[None]:
    """Translate aiohttp and socket errors raised inside the block to skyhaul errors."""
    return _ErrorMap(url)


class _ErrorMap:
    """The context of ``map_client_errors``: a plain class, as it is entered for every
    request and body (a generator-based context manager costs several times more)."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None or isinstance(error, TransferError):
            return
        mapped = _translate(error, self.url)
        if mapped is not None:
            raise mapped from error


def _translate(exc: BaseException, url: str) -> TransferError | None:
    """The skyhaul error of a foreign one, or None to let it through (cancellation)."""
    if not isinstance(exc, Exception):
        return None
    shown = redact_url(url)
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        # One class for the retry policy and the host's controller; only the words differ.
        doing = "connecting to" if isinstance(exc, _CONNECT_TIMEOUTS) else "reading"
        return ReadTimeoutError(f"timed out {doing} {shown}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ClientError(f"invalid URL {shown}")
    if isinstance(exc, aiohttp.TooManyRedirects):
        return ClientError(f"too many redirects from {shown}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ClientError(f"TLS certificate of {shown} not trusted: {exc.certificate_error}")
    if isinstance(exc, aiohttp.ClientConnectorError) and (
        isinstance(exc, _DNS_ERRORS) or isinstance(exc.os_error, socket.gaierror)
    ):
        return NameResolutionError(f"cannot resolve {exc.host} ({shown}): {exc.strerror or exc}")
    if isinstance(exc, socket.gaierror):
        return NameResolutionError(f"cannot resolve the host of {shown}: {exc.strerror or exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"cannot connect to {shown}: {exc.strerror or exc}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ConnectError(f"server closed the connection: {shown}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ConnectError(f"body cut short from {shown}")
    if isinstance(exc, aiohttp.ClientError):
        return ConnectError(f"{type(exc).__name__} from {shown}")
    if isinstance(exc, OSError):
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            return ConnectError(f"connection reset by {shown}")
        return ConnectError(f"network error from {shown}: {exc.strerror or exc}")
    return None
