"""HTTP answers and aiohttp failures as skyhaul errors: the one place they are classified.

Rules:
- Status codes: 429 and 503-with-Retry-After are throttling, other 5xx and 408/425 are
  server errors, other 4xx are permanent client errors; below 400 is not an error.
- Every aiohttp and socket error raised inside ``map_client_errors`` becomes a
  ``TransferError`` subclass, so nothing above the HTTP adapter knows aiohttp exists.
- URLs in messages are redacted (signed URLs carry credentials in their query), and only
  when a message is made: redaction costs nothing on the success path.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

import aiohttp
from multidict import CIMultiDictProxy

from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ClientError,
    ConnectError,
    ReadTimeoutError,
    ServerError,
    ThrottledError,
    TransferError,
)

__all__ = [
    "RETRYABLE_CLIENT_STATUSES",
    "Redacted",
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


@contextmanager
def map_client_errors(url: str) -> Iterator[None]:
    """Translate aiohttp and socket errors raised inside the block to skyhaul errors."""
    shown = Redacted(url)
    try:
        yield
    except TransferError:
        raise
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        # One class for the retry policy and the host's controller; only the words differ.
        doing = "connecting to" if isinstance(exc, _CONNECT_TIMEOUTS) else "reading"
        raise ReadTimeoutError(f"timed out {doing} {shown}") from exc
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


class Redacted:
    """A URL shown redacted, computed when formatted (not once per request)."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return redact_url(self.url)
