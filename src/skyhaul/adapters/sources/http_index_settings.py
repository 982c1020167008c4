"""Reading an ``http-index`` source's options into :class:`HttpIndexSettings`.

Rules: see :mod:`skyhaul.adapters.sources.http_index`; every mistake is a one-line
``ConfigError`` naming the table and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from skyhaul.adapters.credentials import CREDENTIAL_KEYS
from skyhaul.adapters.http import MAX_ANSWER
from skyhaul.adapters.sources.base import SAMPLE_DAY
from skyhaul.adapters.sources.dirindex import IndexTableFormat
from skyhaul.adapters.sources.filetimes import FileTimePattern
from skyhaul.adapters.sources.options import LIMIT_KEYS, OptionReader, answer_limits
from skyhaul.core.paths import safe_relative_path
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.errors import ConfigError, PathEscapeError

__all__ = ["OPTIONS", "SAMPLE_DAY", "HttpIndexSettings", "read_settings"]


_INDEX_OPTIONS = ("index_columns", "index_time_format", "index_delimiter", "index_header")
OPTIONS = frozenset(
    {
        "url",
        "include",
        "exclude",
        "regex",
        "recursive",
        "max_depth",
        "time_regex",
        "time_format",
        "index_file",
        *_INDEX_OPTIONS,
        "instrument",
        "path_prefix",
        "concurrency",
        "timeout",
    }
    | CREDENTIAL_KEYS
    | LIMIT_KEYS
)
"""Every option an ``http-index`` table accepts (besides ``type`` and ``dest``)."""


@dataclass(frozen=True, slots=True)
class HttpIndexSettings:
    """An ``http-index`` table, checked (see :func:`read_settings` for the options)."""

    url: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    max_depth: int = 0
    """Levels of subdirectories to descend (0 unless ``recursive``)."""
    times: FileTimePattern | None = None
    index_file: str | None = None
    index_table: IndexTableFormat | None = None
    instrument: str | None = None
    path_prefix: PurePosixPath | None = None
    concurrency: int = 4
    timeout: float = 60.0
    max_answer_size: int = MAX_ANSWER
    max_wait: float = MAX_PAUSE_SECONDS

    @property
    def dated(self) -> bool:
        """Whether the URL changes with the day."""
        return "{date" in self.url

    def directory(self, day: datetime) -> str:
        """The listing URL for ``day`` (midnight UTC)."""
        return self.url.format(date=day)

    def wants(self, name: str) -> bool:
        """Whether a file called ``name`` passes the name filters."""
        if self.include and not any(fnmatchcase(name, glob) for glob in self.include):
            return False
        if any(fnmatchcase(name, glob) for glob in self.exclude):
            return False
        return self.regex is None or self.regex.search(name) is not None


def read_settings(options: Mapping[str, Any], where: str) -> HttpIndexSettings:
    """Check an ``http-index`` table.

    Options: ``url`` (required), ``include``, ``exclude``, ``regex``, ``recursive``,
    ``max_depth``, ``time_regex``, ``time_format``, ``index_file``, ``index_columns``,
    ``index_time_format``, ``index_delimiter``, ``index_header``, ``instrument``,
    ``path_prefix``, ``concurrency``, ``timeout``, ``max_answer_size``, ``max_wait`` and
    the credential keys of :mod:`skyhaul.adapters.credentials`.

    Raises
    ------
    ConfigError
        An unknown option, a value of the wrong type, a template that does not format, a
        pattern that does not compile, or options that need another one.
    """
    reader = OptionReader(options, where)
    reader.reject_unknown(OPTIONS)
    url = _template(reader.required("url"), where)
    regex = reader.string("regex")
    time_regex, time_format = reader.string("time_regex"), reader.string("time_format")
    if time_format is not None and time_regex is None:
        raise ConfigError(f"{where}: 'time_format' needs 'time_regex'")
    try:
        times = None if time_regex is None else FileTimePattern(time_regex, time_format)
    except ValueError as exc:
        raise ConfigError(f"{where}: 'time_regex' {exc}") from None
    index_file = reader.string("index_file")
    prefix = reader.string("path_prefix")
    try:
        path_prefix = None if prefix is None else safe_relative_path(prefix)
    except PathEscapeError as exc:
        raise ConfigError(f"{where}: 'path_prefix': {exc}") from None
    limits = answer_limits(reader)
    return HttpIndexSettings(
        url=url,
        include=tuple(reader.strings("include")),
        exclude=tuple(reader.strings("exclude")),
        regex=None if regex is None else _compile(regex, "regex", where),
        max_depth=_max_depth(reader),
        times=times,
        index_file=index_file,
        index_table=_index_table(reader, index_file),
        instrument=reader.string("instrument"),
        path_prefix=path_prefix,
        concurrency=reader.integer("concurrency", 4, minimum=1),
        timeout=reader.number("timeout", 60.0, minimum=1),
        max_answer_size=limits.max_answer_size,
        max_wait=limits.max_wait,
    )


def _template(url: str, where: str) -> str:
    """Check the ``url`` template; return it with the directory's trailing ``/``."""
    try:
        sample = urlsplit(url.format(date=SAMPLE_DAY))
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(
            f"{where}: 'url' is not a valid template ({exc!s}); "
            "the only field is {date}, e.g. {date:%Y/%m/%d}"
        ) from None
    if sample.scheme not in ("http", "https") or not sample.hostname:
        raise ConfigError(f"{where}: 'url' must be an http:// or https:// URL")
    if sample.username is not None or sample.password is not None:
        raise ConfigError(
            f"{where}: 'url' must not carry credentials; use username with password_env "
            "or password_file, or token_env or token_file"
        )
    if sample.query or sample.fragment:
        raise ConfigError(f"{where}: 'url' must name a directory, without '?' or '#'")
    return url if sample.path.endswith("/") else url + "/"


def _max_depth(reader: OptionReader) -> int:
    if reader.boolean("recursive", False):
        return reader.integer("max_depth", 3, minimum=0)
    if "max_depth" in reader.options:
        raise ConfigError(f"{reader.where}: 'max_depth' needs 'recursive = true'")
    return 0


def _compile(pattern: str, key: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: {key!r} is not a valid regular expression: {exc}") from None


def _index_table(reader: OptionReader, index_file: str | None) -> IndexTableFormat | None:
    where = reader.where
    if index_file is None:
        given = [key for key in _INDEX_OPTIONS if key in reader.options]
        if given:
            raise ConfigError(f"{where}: {given[0]!r} needs 'index_file'")
        return None
    if not index_file or index_file in (".", "..") or "/" in index_file or "\\" in index_file:
        raise ConfigError(f"{where}: 'index_file' must be a file name, without '/'")
    if "index_columns" not in reader.options:
        raise ConfigError(f"{where}: 'index_file' needs 'index_columns' (at least name and time)")
    try:
        return IndexTableFormat(
            columns=dict(reader.table("index_columns")),
            time_format=reader.string("index_time_format"),
            delimiter=reader.string("index_delimiter"),
            header=reader.boolean("index_header", True),
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: index table: {exc}") from None
