"""obstore's errors, mapped to skyhaul's at the S3 transport's seam.

Rules:
- Typed obstore errors map by type: not found is a 404 client error, permission and
  authentication failures a 403 client error, a failed ``If-Match`` (412) a changed remote.
- obstore raises everything else as one ``GenericError`` whose only structure is its text
  (object_store's ``Display`` and ``Debug`` output). The status (``status code: 503``) or
  the transport failure (``kind: Connect``) is read from that text here, in one table per
  case, and nowhere else. An error we cannot read is a server error (retried, not fatal).
- S3 throttles with 503 (``SlowDown``): 503 and 429 are throttling; other 5xx, 408 and
  425 are server errors; other 4xx are client errors; 416 (range past the end) and 412
  mean the object changed.
- Messages name the redacted ``s3://`` URL, the status and S3's error code, never the
  endpoint's own text (it may carry a query with a signature).
- Only call this module once obstore has been imported: it imports obstore's exception
  classes when it maps one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from skyhaul.core.redact import redact_url
from skyhaul.errors import (
    ClientError,
    ConnectError,
    ReadTimeoutError,
    RemoteChangedError,
    ServerError,
    ThrottledError,
    TransferError,
)

_STATUS = re.compile(r"status code: (\d{3})")
_S3_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,64})</Code>")
# object_store's HttpErrorKind, from its Debug output.
_KIND = re.compile(r"\bkind: (Connect|Request|Timeout|Interrupted|Decode|Unknown)\b")
_WRONG_REGION = "redirect without LOCATION"
_THROTTLING = frozenset({429, 503})
_CHANGED = frozenset({412, 416})
_RETRYABLE_CLIENT = frozenset({408, 425})
_KIND_MESSAGE = {
    "Connect": "cannot connect for",
    "Request": "connection failed for",
    "Interrupted": "body cut short from",
    "Decode": "unreadable body from",
    "Unknown": "network error from",
}


@contextmanager
def map_s3_errors(url: str) -> Iterator[None]:
    """Translate obstore errors (and our own deadlines) raised in the block to skyhaul's.

    Parameters
    ----------
    url : str
        The ``s3://`` URL being read, shown redacted in messages.
    """
    try:
        yield
    except TransferError:
        raise
    except TimeoutError as exc:  # an asyncio deadline of the transport
        raise ReadTimeoutError(f"timed out reading {redact_url(url)}") from exc
    except Exception as exc:
        mapped = s3_error(exc, url)
        if mapped is None:
            raise
        raise mapped from exc


def s3_error(exc: BaseException, url: str) -> TransferError | None:
    """Return the skyhaul error an obstore error means, or ``None`` if it is not obstore's.

    Parameters
    ----------
    exc : BaseException
        What obstore raised.
    url : str
        The ``s3://`` URL being read.

    Returns
    -------
    TransferError or None
        The mapped error; ``None`` for exceptions obstore does not raise.
    """
    from obstore import exceptions as oe  # imported by the transport before any request

    shown = redact_url(url)
    text = str(exc)
    if isinstance(exc, FileNotFoundError):  # obstore's NotFound is the builtin
        return ClientError(f"S3 404 {_code(text, 'NoSuchKey')} from {shown}", status=404)
    if isinstance(exc, oe.PreconditionError):
        return RemoteChangedError(f"S3 object changed (412) for {shown}", status=412)
    if isinstance(exc, oe.PermissionDeniedError | oe.UnauthenticatedError):
        return ClientError(f"S3 403 {_code(text, 'AccessDenied')} from {shown}", status=403)
    if isinstance(exc, oe.InvalidPathError):
        return ClientError(f"invalid S3 key in {shown}", status=400)
    if not isinstance(exc, oe.BaseError):
        return None
    status = _STATUS.search(text)
    if status is not None:
        return status_error(int(status.group(1)), _code(text, ""), shown)
    if _WRONG_REGION in text:
        return ClientError(
            f"S3 redirected {shown} without a location: set AWS_REGION to the bucket's region",
            status=301,
        )
    kind = _KIND.search(text)
    if kind is None:
        return ServerError(f"S3 error ({type(exc).__name__}) from {shown}")
    if kind.group(1) == "Timeout":
        return ReadTimeoutError(f"timed out reading {shown}")
    return ConnectError(f"{_KIND_MESSAGE[kind.group(1)]} {shown}")


def status_error(status: int, code: str, shown: str) -> TransferError:
    """Return the skyhaul error of an S3 answer with ``status`` (and S3's error ``code``).

    Parameters
    ----------
    status : int
        The HTTP status.
    code : str
        S3's error code (``SlowDown``, ``NoSuchKey``), or ``""``.
    shown : str
        The ``s3://`` URL, already redacted.
    """
    message = f"S3 {status}{' ' + code if code else ''} from {shown}"
    if status in _THROTTLING:
        return ThrottledError(message, status=status)
    if status in _CHANGED:
        return RemoteChangedError(message, status=status)
    if status >= 500 or status in _RETRYABLE_CLIENT:
        return ServerError(message, status=status)
    if status in (401, 403):
        return ClientError(message, status=403)
    return ClientError(message, status=status)


def _code(text: str, default: str) -> str:
    match = _S3_CODE.search(text)
    return match.group(1) if match else default
