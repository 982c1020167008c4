"""Read the files a user asks for: a URL list, a CSV manifest or a JSON manifest.

Rules:
- The whole input is validated before anything is returned, so a caller never registers
  half a manifest. The first problem raises ``ManifestError`` (or ``PathEscapeError``) with
  one line: ``<file>:<line>: <what is wrong>`` (JSON: ``<file>: item <n>: ...``).
- Format: by extension (``.csv``, ``.json``), else sniffed: ``[``/``{`` is JSON, a first
  row naming a ``url`` column is CSV, anything else is a URL list (one URL per line, blank
  lines and ``#`` comments skipped).
- Columns: ``url`` (required: ``http``, ``https`` or ``s3://bucket/key``), ``path``
  (relative destination, default from the URL, confined to the destination root),
  ``size`` (bytes), ``checksum`` (``algorithm:hex``), ``mirrors`` (further URLs of the
  same file, tried after ``url`` in order: whitespace-separated in CSV, a list or a
  string in JSON), and one column per mission metadata field (:mod:`skyhaul.core.metadata`:
  instrument, observation and downlink times, slot), parsed by the field's kind (times:
  ISO 8601, UTC). Unknown columns are ignored with a warning.
- Each row is then checked as the engine will use it (:func:`skyhaul.core.specs.validate_spec`:
  URLs that parse, names a file system holds, sizes below 2**63, ...).
- Two rows naming one destination path with different URLs are an error, and so are two
  rows naming one URL with different paths, and a row whose path is a directory of
  another's (``a`` and ``a/b``); exact repeats are dropped.
- Input no parser should follow is refused as such: a CSV field over 128 KiB, JSON nested
  deeper than the interpreter's recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path, PurePosixPath

from skyhaul.adapters.manifest_rows import (
    ManifestRow,
    Row,
    csv_rows,
    detect_format,
    json_rows,
    read_manifest_text,
    size_cell,
    text_cell,
)
from skyhaul.core.integrity import parse_checksum
from skyhaul.core.metadata import METADATA_NAMES, MetadataValueError, parse_metadata
from skyhaul.core.model import FileSpec
from skyhaul.core.paths import is_normal_path, path_from_url, safe_relative_path
from skyhaul.core.redact import redact_url
from skyhaul.core.specs import check_url, find_path_clash, kind_of, validate_spec
from skyhaul.errors import InvalidSpecError, ManifestError, PathEscapeError

__all__ = ["MANIFEST_COLUMNS", "parse_specs", "read_specs", "specs_from_urls"]

#: Columns a CSV or JSON manifest may carry (``url`` is required).
MANIFEST_COLUMNS = ("url", "path", "size", "checksum", "mirrors", *METADATA_NAMES)


def read_specs(path: str | PathLike[str], *, source: str = "manifest") -> list[FileSpec]:
    """Read and validate every file listed in a URL list or a CSV/JSON manifest.

    Parameters
    ----------
    path : str or path-like
        The list or manifest; its name (as given) prefixes every error message.
    source : str
        Source name recorded on every spec.

    Returns
    -------
    list of FileSpec
        In file order, exact repeats dropped; never empty.

    Raises
    ------
    ManifestError
        The file is missing or unreadable, or a row is malformed (``file:line: ...``).
    PathEscapeError
        A destination path would land outside the destination root.
    """
    name = str(path)
    return parse_specs(read_manifest_text(Path(path), name), name, source=source)


def parse_specs(text: str, name: str, *, source: str = "manifest") -> list[FileSpec]:
    """Validate the text of a URL list or manifest (see :func:`read_specs`).

    ``name`` (a file name or a redacted URL) prefixes error messages, and its extension,
    if any, decides the format before sniffing does.
    """
    suffix = PurePosixPath(name.split("?", 1)[0]).suffix.lower()
    kind = detect_format(suffix, text, "url")
    collector = _Collector(source)
    if kind == "lines":
        for lineno, line in enumerate(text.splitlines(), start=1):
            url = line.strip()
            if url and not url.startswith("#"):
                collector.add_url(url, f"{name}:{lineno}")
    else:
        for row in _rows(kind, text, name):
            if row.problem is not None:
                raise ManifestError(f"{row.where}: {row.problem}")
            collector.add_row(row.values, row.where)
    if not collector.specs:
        raise ManifestError(f"{name}: no files listed")
    collector.check_paths()
    return collector.specs


def specs_from_urls(urls: Iterable[str], *, source: str = "cli") -> list[FileSpec]:
    """Validate URLs given on the command line, each saved under its default path.

    Parameters
    ----------
    urls : iterable of str
        http or https URLs.
    source : str
        Source name recorded on every spec.

    Returns
    -------
    list of FileSpec
        In the order given, exact repeats dropped (possibly empty).

    Raises
    ------
    ManifestError
        A URL is not http(s) or s3, or two URLs would be saved under one path.
    """
    collector = _Collector(source)
    for index, url in enumerate(urls, start=1):
        collector.add_url(url.strip(), f"URL argument {index}")
    collector.check_paths()
    return collector.specs


def _rows(kind: str, text: str, name: str) -> Iterator[ManifestRow]:
    if kind == "json":
        return json_rows(text, name, key="url", known=MANIFEST_COLUMNS, bare=True)
    return csv_rows(text, name, required=("url",), known=MANIFEST_COLUMNS)


# --- validation ---------------------------------------------------------------------


@dataclass(slots=True)
class _Collector:
    """Validates rows into specs, dropping repeats and refusing path conflicts."""

    source: str
    specs: list[FileSpec] = field(default_factory=list)
    _by_path: dict[str, tuple[str, str]] = field(default_factory=dict)
    _by_url: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add_url(self, url: str, where: str) -> None:
        self.add_row({"url": url}, where)

    def add_row(self, row: Row, where: str) -> None:
        url = text_cell(row, "url", where)
        if url is None:
            raise ManifestError(f"{where}: no url")
        _check_url(url, where)
        raw_path = text_cell(row, "path", where) or path_from_url(url)
        path = raw_path
        if not is_normal_path(raw_path):  # else it is what safe_relative_path makes of it
            try:
                path = str(safe_relative_path(raw_path))
            except PathEscapeError as exc:
                raise PathEscapeError(f"{where}: {exc.message}") from None
        seen = self._by_path.get(path)
        if seen is not None:
            if seen[0] == url:
                return
            raise ManifestError(
                f"{where}: path {path!r} is also the destination of {seen[1]} "
                f"({redact_url(seen[0])})"
            )
        first = self._by_url.setdefault(url, (path, where))
        if first[0] != path:  # a URL is a file's identity: one file, one destination
            raise ManifestError(
                f"{where}: {redact_url(url)} is also listed at {first[1]}, for path {first[0]!r}"
            )
        self._by_path[path] = (url, where)
        try:
            metadata = parse_metadata(lambda column: text_cell(row, column, where))
        except MetadataValueError as exc:
            raise ManifestError(f"{where}: {exc.field} {exc}") from None
        spec = FileSpec(
            url=url,
            path=path,
            size=size_cell(row, where),
            checksum=_checksum(row, where),
            source=self.source,
            mirrors=_mirrors(row, url, where),
            **metadata,
        )
        try:
            validate_spec(spec)
        except InvalidSpecError as exc:
            raise ManifestError(f"{where}: {exc.message}") from None
        self.specs.append(spec)

    def check_paths(self) -> None:
        """Refuse a row whose path is a directory of another row's (``a`` and ``a/b``)."""
        clash = find_path_clash(self._by_path)
        if clash is not None:
            later, earlier = self._by_path[clash.later][1], self._by_path[clash.earlier][1]
            raise ManifestError(f"{later}: {clash.message(earlier)}")


def _check_url(url: str, where: str) -> None:
    try:
        check_url(url)
    except InvalidSpecError as exc:
        raise ManifestError(f"{where}: {exc.message}") from None


def _mirrors(row: Row, url: str, where: str) -> tuple[str, ...]:
    """The row's further URLs, in order, without repeats (or the file's own URL)."""
    value = row.get("mirrors")
    if value is None:
        return ()
    if isinstance(value, str):
        urls = value.split()
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        urls = [item.strip() for item in value]
    else:
        raise ManifestError(f"{where}: mirrors must be URLs (text or a list), got {kind_of(value)}")
    chosen: list[str] = []
    for mirror in urls:
        _check_url(mirror, f"{where}: mirrors")
        if mirror != url and mirror not in chosen:
            chosen.append(mirror)
    return tuple(chosen)


def _checksum(row: Row, where: str) -> str | None:
    text = text_cell(row, "checksum", where)
    if text is None:
        return None
    try:
        checksum = parse_checksum(text)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    return str(checksum)
