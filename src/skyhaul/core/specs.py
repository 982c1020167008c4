"""Whether a file's row is one the engine can use: checked before anything is registered.

Rules:
- A row that is registered is claimed, transferred and written by every later run, so a
  value none of them can use is refused up front, where the user can still fix it:
  :func:`validate_spec` raises :class:`~skyhaul.errors.InvalidSpecError` (a ``ValueError``
  and a usage error, exit code 2) with one line saying which value and why. Its message
  names no place: the caller prefixes one (a manifest's line, a listing's item, a URL).
- URLs (the ``url`` and each mirror): ``http``, ``https`` or ``s3`` with a host (an s3
  URL with a bucket and a key); no whitespace or control character; a host and port that
  parse (``http://[::1/x`` and port 99999 do not).
- Paths: relative, confined and in normal form (:func:`~skyhaul.core.paths.safe_relative_path`
  returns them unchanged), every directory's name at most 255 bytes of UTF-8 and the
  whole at most 4095 bytes, which is what Linux, macOS and Windows file systems hold;
  the file's own name at most 242 bytes, so that its part file's name (``PART_SUFFIX``
  added) fits in 255 too; no name ending in ``PART_SUFFIX``.
- Values: a size is a whole number of bytes up to 2**63 - 1 (the catalog's 64-bit column);
  a checksum parses (:func:`~skyhaul.core.integrity.parse_checksum`); text is ``str``
  without NUL or lone surrogates (PostgreSQL and UTF-8 refuse them); mission metadata has
  the type of its kind (:data:`~skyhaul.core.metadata.METADATA_KINDS`), times aware; an
  observation does not end before it starts.
- In one batch, no file's path is a directory of another's (``a`` and ``a/b``): one of the
  two could never be written (:func:`find_path_clash`). Clashes with files registered
  earlier need the catalog: registration refuses them there, with the same message.
- Pure: standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from skyhaul.core.integrity import is_normal_checksum, parse_checksum
from skyhaul.core.metadata import METADATA_KINDS, MetadataKind
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import (
    MAX_FILE_NAME_BYTES,
    MAX_NAME_BYTES,
    PART_SUFFIX,
    is_normal_path,
    reserved_component,
    reserved_refusal,
    safe_relative_path,
)
from skyhaul.core.redact import redact_url
from skyhaul.core.units import MAX_SIZE
from skyhaul.errors import InvalidSpecError, PathEscapeError

__all__ = [
    "MAX_PATH_BYTES",
    "PathClash",
    "check_url",
    "find_path_clash",
    "kind_of",
    "validate_spec",
    "validate_specs",
]

#: The longest relative path, in bytes of UTF-8 (Linux's PATH_MAX less its NUL).
MAX_PATH_BYTES = 4095

_URL = re.compile(r"(?:https?|s3)://[^/?#\s]+\S*\Z", re.IGNORECASE)
# Most URLs: a plain host name, perhaps with a port of at most 5 digits (or a bucket and
# a key), and printable ASCII, which nothing below can refuse but a port past 65535; they
# are spared the parsing (a manifest has millions of rows).
_PLAIN_URL = re.compile(
    r"(?:https?://[A-Za-z0-9.-]+(?::(?P<port>[0-9]{1,5}))?(?:[/?#][!-~]*)?"
    r"|s3://[A-Za-z0-9.-]+/[!-~]+)\Z"
)
_MAX_PORT = 65535
_WHITESPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN = 32  # characters of a long path shown in a message


def check_url(url: str) -> None:
    """Refuse a URL no transport can fetch (see the module rules).

    Raises
    ------
    InvalidSpecError
        Naming the URL, redacted.
    """
    plain = _PLAIN_URL.match(url)
    if plain is not None:
        port = plain["port"]
        if port is None or int(port) <= _MAX_PORT:
            return
    shown = redact_url(url)
    if _URL.match(url) is None:
        if _WHITESPACE.search(url) is not None:
            raise InvalidSpecError(f"URL {shown!r} contains whitespace")
        raise InvalidSpecError(f"{shown!r} is not an http(s) or s3 URL")
    if _CONTROL.search(url) is not None:
        raise InvalidSpecError(f"URL {shown!r} contains a control character")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is what checks it
    except ValueError as exc:
        raise InvalidSpecError(f"URL {shown!r} is not valid: {exc}") from None
    if parts.scheme.lower() == "s3":
        bucket, _, key = url.partition("://")[2].partition("/")
        if not bucket or not key:
            raise InvalidSpecError(f"URL {shown!r} is not s3://BUCKET/KEY")
    elif not parts.hostname:
        raise InvalidSpecError(f"URL {shown!r} has no host")


def validate_spec(spec: FileSpec) -> None:
    """Refuse a spec holding a value the engine or the catalog cannot use.

    Raises
    ------
    InvalidSpecError
        At the first such value, in one line without a place (see the module rules).
    """
    _text("url", spec.url)
    check_url(spec.url)
    for mirror in _urls(spec.mirrors):
        try:
            check_url(mirror)
        except InvalidSpecError as exc:
            raise InvalidSpecError(f"mirrors: {exc.message}") from None
    _check_path(spec.path)
    _check_size(spec.size)
    if spec.checksum is not None and not is_normal_checksum(_text("checksum", spec.checksum)):
        try:
            parse_checksum(spec.checksum)
        except ValueError as exc:
            raise InvalidSpecError(str(exc)) from None
    _text("source", spec.source)
    if spec.version is not None:
        _text("version", spec.version)
    for name, check in _METADATA_CHECKS:
        value = getattr(spec, name)
        if value is not None:
            check(name, value)
    if spec.obs_start is not None and spec.obs_end is not None and spec.obs_end < spec.obs_start:
        raise InvalidSpecError(
            f"obs_end {spec.obs_end.isoformat()} is before obs_start {spec.obs_start.isoformat()}"
        )


def validate_specs(specs: Iterable[FileSpec]) -> None:
    """Validate each spec, then the batch: no path may be a directory of another's.

    Raises
    ------
    InvalidSpecError
        Prefixed with the (redacted) URL of the file at fault.
    """
    by_path: dict[str, str] = {}
    for spec in specs:
        try:
            validate_spec(spec)
        except InvalidSpecError as exc:
            raise InvalidSpecError(f"{redact_url(str(spec.url))}: {exc.message}") from None
        by_path.setdefault(spec.path, spec.url)
    clash = find_path_clash(by_path)
    if clash is not None:
        later, earlier = redact_url(by_path[clash.later]), redact_url(by_path[clash.earlier])
        raise InvalidSpecError(f"{later}: {clash.message(earlier)}")


@dataclass(frozen=True, slots=True)
class PathClash:
    """Two destination paths of which one would be a directory of the other.

    Parameters
    ----------
    later : str
        The path seen second.
    earlier : str
        The path seen first.
    """

    later: str
    earlier: str

    @property
    def directory(self) -> str:
        """The path that would have to be a file and a directory at once."""
        return min(self.later, self.earlier, key=len)

    def message(self, earlier_is: str) -> str:
        """One line naming both paths; ``earlier_is`` says whose the earlier one is."""
        return (
            f"path {self.later!r} clashes with {self.earlier!r} of {earlier_is}: "
            f"{self.directory!r} cannot be both a file and a directory"
        )


def find_path_clash(paths: Iterable[str]) -> PathClash | None:
    """Return the first path that is a directory of another, or below another; else None.

    Parameters
    ----------
    paths : iterable of str
        Normal relative paths (as :func:`validate_spec` accepts them), in order; a path
        given twice is one file, not a clash.
    """
    files: set[str] = set()
    directories: dict[str, str] = {}  # each directory a path needs -> the first such path
    for path in paths:
        if path in files:
            continue
        below = directories.get(path)
        if below is not None:
            return PathClash(later=path, earlier=below)
        cut = path.rfind("/")
        while cut > 0:
            directory = path[:cut]
            if directory in files:
                return PathClash(later=path, earlier=directory)
            if directories.setdefault(directory, path) != path:
                break  # its own parents were recorded with it
            cut = path.rfind("/", 0, cut)
        files.add(path)
    return None


def kind_of(value: object) -> str:
    """How a message names the type of a value read from JSON or given in code.

    Examples
    --------
    >>> kind_of({"name": "EUI"}), kind_of([1]), kind_of(True), kind_of(3)
    ('an object', 'a list', 'true/false', 'int')
    """
    return {dict: "an object", list: "a list", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _text(name: str, value: object) -> str:
    """``value``, when it is text the catalog can store."""
    if not isinstance(value, str):
        raise InvalidSpecError(f"{name} must be text, got {kind_of(value)}")
    if "\x00" in value:
        raise InvalidSpecError(f"{name} contains a NUL character")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise InvalidSpecError(f"{name} is not valid Unicode (a lone surrogate)") from None
    return value


def _urls(mirrors: object) -> tuple[str, ...]:
    if not isinstance(mirrors, tuple):
        raise InvalidSpecError(f"mirrors must be a tuple of URLs, got {kind_of(mirrors)}")
    return tuple(_text("mirrors", url) for url in mirrors)


def _check_path(path: object) -> None:
    text = _text("path", path)
    if not is_normal_path(text):
        try:
            normal = str(safe_relative_path(text))
        except PathEscapeError as exc:
            raise InvalidSpecError(exc.message) from None
        raise InvalidSpecError(f"path {text!r} is not in normal form: write it {normal!r}")
    reserved = reserved_component(text)
    if reserved is not None:
        raise InvalidSpecError(reserved_refusal(text, reserved))
    if len(text) <= MAX_FILE_NAME_BYTES // 4:  # 4 bytes of UTF-8 per character at most
        return
    shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    size = len(text.encode())
    if size > MAX_PATH_BYTES:
        raise InvalidSpecError(
            f"path {shown!r} is {size} bytes long (file systems hold {MAX_PATH_BYTES})"
        )
    if size > MAX_FILE_NAME_BYTES:  # a name can be too long only in a path that is
        *directories, name = text.split("/")
        for directory in directories:
            length = len(directory.encode())
            if length > MAX_NAME_BYTES:
                raise InvalidSpecError(
                    f"path {shown!r}: a name of {length} bytes (file systems hold {MAX_NAME_BYTES})"
                )
        length = len(name.encode())
        if length > MAX_FILE_NAME_BYTES:
            raise InvalidSpecError(
                f"path {shown!r}: a file name of {length} bytes (at most {MAX_FILE_NAME_BYTES}, "
                f"to leave room for {PART_SUFFIX!r} in {MAX_NAME_BYTES})"
            )


def _check_size(size: object) -> None:
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidSpecError(f"size {size!r} is not a whole number of bytes")
    if size > MAX_SIZE:
        raise InvalidSpecError(f"size {size} is more than {MAX_SIZE} bytes (8 EiB - 1)")


def _check_time(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise InvalidSpecError(f"{name} must be a time, got {kind_of(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSpecError(f"{name} {value.isoformat()} has no time zone")


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSpecError(f"{name} must be a whole number, got {kind_of(value)}")


def _check_float(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidSpecError(f"{name} must be a finite number, got {value!r}")


_CHECKS: dict[MetadataKind, Callable[[str, object], object]] = {
    MetadataKind.TEXT: _text,
    MetadataKind.TIME: _check_time,
    MetadataKind.INT: _check_int,
    MetadataKind.FLOAT: _check_float,
}
# Looked up once per field here rather than per spec.
_METADATA_CHECKS = tuple((name, _CHECKS[kind]) for name, kind in METADATA_KINDS.items())
