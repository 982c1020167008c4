"""One hierarchy for every error skyhaul raises.

Rules:
- Whether an error is retryable is decided by its type (its ``error_class``), never by
  parsing messages.
- The exit code a command line returns for an error lives on the error type.
- Every error must pickle (errors cross process boundaries in distributed workers), so
  each subclass keeps its constructor arguments in ``args`` order via ``__reduce__``.
- Foreign errors (aiohttp, SQLAlchemy, OS) are mapped to these inside the adapter that
  calls the foreign library.
"""

from __future__ import annotations

from typing import Any

from skyhaul.core.errorclass import ErrorClass


class SkyhaulError(Exception):
    """Base of every skyhaul error.

    Parameters
    ----------
    message : str
        One line saying what went wrong and where.
    """

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__.copy())

    def __str__(self) -> str:
        return self.message


class SourceError(SkyhaulError):
    """A source's listing could not be read (unreachable, server error, bad page).

    The message names the source and the page (redacted). Exit code 1: the archive,
    not the user, is at fault; the next cycle may succeed.
    """


class ListingEntryError(SourceError):
    """A listing was read, but an entry in it holds a value no run could use (a URL that
    does not parse, an instrument that is an object, a path below another file's).

    Exit code 2, as for a bad row of a manifest: it is input, and listing again gives the
    same entry; nothing of the listing is registered. A ``SourceError`` still, so that
    ``watch`` goes on with the files it knows.
    """

    exit_code = 2


class NoDataError(SkyhaulError):
    """The archive answered every request for a window and had no record in it.

    A backfill records the day as SKIPPED_NO_DATA (terminal). Only an empty, well-formed
    answer means this: a malformed payload or an HTTP error is never "no data".
    """


class PayloadError(SkyhaulError):
    """A records API answered with something that is not the records it promised
    (not JSON, not a list of objects, a record without a readable time)."""


# --- errors a user causes: one line, exit code 2 -------------------------------------


class UsageError(SkyhaulError):
    """Bad input, options or configuration: the user can fix it. Exit code 2."""

    exit_code = 2


class ManifestError(UsageError):
    """A manifest or URL list cannot be read; the message names the file and line."""


class ConfigError(UsageError):
    """A configuration value is missing or invalid."""


class SourceAuthError(UsageError):
    """An archive refused the source's credentials (401/403 on a listing)."""


class CatalogUnavailableError(UsageError):
    """The catalog URL cannot be opened (unreachable server, bad URL, unwritable file)."""


class NoCatalogError(CatalogUnavailableError):
    """A command that only reads found no catalog where it looked (none is created)."""


class PathEscapeError(UsageError):
    """A destination path would land outside the destination root."""


class InvalidSpecError(UsageError, ValueError):
    """A file's row holds a value the engine or the catalog cannot use (a URL that does
    not parse, a checksum that is not hex, a size past 2**63 - 1 or sizes adding up past it
    in one catalog, a name longer than a file system holds...): refused before it is
    registered. A ``ValueError`` too, since it is
    about a value; the message says which, in one line."""


class IllegalTransitionError(SkyhaulError):
    """A lifecycle transition that the transition table does not allow."""

    def __init__(self, message: str, state: str = "", event: str = "") -> None:
        super().__init__(message)
        self.state = state
        self.event = event

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.state, self.event), self.__dict__.copy())


class InterruptedRun(SkyhaulError):
    """The user interrupted the run (Ctrl-C, SIGTERM or a cancel event). Exit code 130."""

    exit_code = 130


# --- errors of one transfer attempt: classified for the retry policy -----------------


class TransferError(SkyhaulError):
    """One attempt at moving a file failed; ``error_class`` drives the retry decision.

    Parameters
    ----------
    message : str
        What happened, without secrets (URLs are redacted by the caller).
    retry_after : float or None
        Seconds the server asked us to wait (``Retry-After``), when it said so.
    status : int or None
        HTTP status code, when there was one.
    """

    error_class: ErrorClass = ErrorClass.SERVER

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.retry_after, self.status), self.__dict__.copy())


class ConnectError(TransferError):
    """The connection could not be opened or was reset."""

    error_class = ErrorClass.CONNECT


class NameResolutionError(TransferError):
    """The host name does not resolve (a misspelled host, or a resolver that is down)."""

    error_class = ErrorClass.DNS


class ReadTimeoutError(TransferError):
    """The server stopped sending within the read timeout."""

    error_class = ErrorClass.READ_TIMEOUT


class ThrottledError(TransferError):
    """The server refused for load (429, or 503 with Retry-After)."""

    error_class = ErrorClass.THROTTLED


class ServerError(TransferError):
    """The server failed (5xx)."""

    error_class = ErrorClass.SERVER


class ClientError(TransferError):
    """The request can never succeed as made (403, 404, 410, ...)."""

    error_class = ErrorClass.CLIENT


class IntegrityError(TransferError):
    """The bytes received do not match the expected size, checksum or ranges."""

    error_class = ErrorClass.INTEGRITY


class DiskError(TransferError):
    """A local write failed (full disk, permissions)."""

    error_class = ErrorClass.DISK


class RemoteChangedError(TransferError):
    """The remote file changed during a transfer (new validator or size): start again."""

    error_class = ErrorClass.CHANGED


class DiskFullError(UsageError):
    """The destination has no space left: the run stops; every file stays resumable."""


class RangeStoppedError(UsageError):
    """A worker stopped a backfill's range (refused credentials, a full disk): exit 2."""


# --- streaming through a message broker ----------------------------------------------


class BrokerUnavailableError(UsageError):
    """The message broker's URL cannot be reached (refused, unresolvable, timed out on
    connect), or its stream cannot be set up as asked: exit code 2, as for a catalog."""


class BrokerError(SkyhaulError):
    """The broker failed one operation on a live connection (a publish not acknowledged
    in time, a consumer it would not create): exit code 1; the caller may try again."""


class ChunkFormatError(SkyhaulError):
    """A message's headers do not describe a chunk (a field missing, not a number, a
    path that would leave the destination). No receiver can ever use it, so it is
    terminated, never redelivered; the message names the field."""
