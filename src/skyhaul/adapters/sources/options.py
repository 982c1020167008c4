"""Reading a source's options with one-line errors that name the table and the key.

Rules:
- Every source that reads answers into memory (listing pages, records) takes the same
  bounds, ``LIMIT_KEYS``: ``max_answer_size`` (a size: bytes, or ``"256MiB"``) and
  ``max_wait`` (a duration: seconds, or ``"10m"``), read once by ``answer_limits``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from skyhaul.adapters.credentials import credentials_from_options, refuse_inline_secrets
from skyhaul.adapters.http import MAX_ANSWER
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.base import SourceContext
from skyhaul.core.ratecontrol import MAX_PAUSE_SECONDS
from skyhaul.core.units import parse_duration, parse_size
from skyhaul.errors import ConfigError

__all__ = ["LIMIT_KEYS", "AnswerLimits", "OptionReader", "answer_limits", "listing_client"]

#: The options of ``answer_limits``, which every source reading pages or records takes.
LIMIT_KEYS = frozenset({"max_answer_size", "max_wait"})


@dataclass(frozen=True, slots=True)
class AnswerLimits:
    """How much of one answer a source reads into memory, and how long it waits to retry.

    Parameters
    ----------
    max_answer_size : int
        Bytes of one page or records answer at most; a larger one fails the listing.
    max_wait : float
        Seconds a retry may wait (a server's ``Retry-After``); longer fails at once.
    """

    max_answer_size: int = MAX_ANSWER
    max_wait: float = MAX_PAUSE_SECONDS


class OptionReader:
    """Typed access to a ``[sources.<name>]`` table.

    Parameters
    ----------
    options : Mapping
        The table (without ``type`` and ``dest``).
    where : str
        ``<file>: sources.<name>``.
    """

    def __init__(self, options: Mapping[str, Any], where: str) -> None:
        self.options = options
        self.where = where

    def reject_unknown(self, known: Iterable[str]) -> None:
        """Raise for any key not in ``known`` (a typo must not be silently ignored)."""
        refuse_inline_secrets(self.options, self.where)  # more helpful than "unknown option"
        allowed = set(known)
        for key in sorted(self.options):
            if key not in allowed:
                raise ConfigError(
                    f"{self.where}: unknown option {key!r} (known: {', '.join(sorted(allowed))})"
                )

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string option."""
        value = self.options.get(key, default)
        if value is None:
            if required:
                raise ConfigError(f"{self.where}: {key!r} is required")
            return None
        if not isinstance(value, str) or (required and not value):
            raise ConfigError(f"{self.where}: {key!r} must be a string")
        return value

    def required(self, key: str) -> str:
        """A string option that must be present."""
        value = self.string(key, required=True)
        assert value is not None
        return value

    def number(self, key: str, default: float, *, minimum: float | None = None) -> float:
        """A number option."""
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.where}: {key!r} must be a number")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{self.where}: {key!r} must be at least {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int | None = None) -> int:
        """An integer option."""
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.where}: {key!r} must be an integer")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{self.where}: {key!r} must be at least {minimum}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """A true/false option."""
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where}: {key!r} must be true or false")
        return value

    def strings(self, key: str) -> list[str]:
        """A list of strings (a single string counts as a list of one)."""
        value = self.options.get(key, [])
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}: {key!r} must be a string or a list of strings")
        return list(value)

    def size(self, key: str, default: int) -> int:
        """A number of bytes, more than 0: an integer, or text with a unit (``"256MiB"``)."""
        value = self.options.get(key, default)
        try:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(value)
            size = value if isinstance(value, int) else parse_size(value)
        except ValueError:
            raise ConfigError(
                f'{self.where}: {key!r} must be a size (bytes, or e.g. "256MiB")'
            ) from None
        if size <= 0:
            raise ConfigError(f"{self.where}: {key!r} must be more than 0 bytes")
        return size

    def duration(self, key: str, default: float) -> float:
        """Seconds, at least 0: a number, or text with units (``"10m"``, ``"1h30m"``)."""
        value = self.options.get(key, default)
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(value)
            seconds = float(value) if not isinstance(value, str) else parse_duration(value)
            if not seconds >= 0:
                raise ValueError(value)
        except ValueError:
            raise ConfigError(
                f'{self.where}: {key!r} must be a duration (seconds, or e.g. "10m")'
            ) from None
        return seconds

    def table(self, key: str) -> Mapping[str, Any]:
        """A sub-table (empty when absent)."""
        value = self.options.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: {key!r} must be a table")
        return value


def answer_limits(reader: OptionReader) -> AnswerLimits:
    """Read ``max_answer_size`` and ``max_wait`` (``LIMIT_KEYS``), or their defaults."""
    return AnswerLimits(
        max_answer_size=reader.size("max_answer_size", MAX_ANSWER),
        max_wait=reader.duration("max_wait", MAX_PAUSE_SECONDS),
    )


def listing_client(
    url: str,
    reader: OptionReader,
    context: SourceContext,
    *,
    concurrency: int = 4,
) -> PageClient:
    """The page client of a source that reads ``url``'s origin, with its credentials.

    Reads the ``timeout`` and ``concurrency`` options, ``LIMIT_KEYS`` and the credential
    keys.

    Raises
    ------
    ConfigError
        ``url`` is not http(s), or the credentials cannot be read.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{reader.where}: 'url' must be an http(s) URL")
    credentials = credentials_from_options(
        reader.options, where=reader.where, base_dir=context.base_dir, environ=context.environ
    )
    limits = answer_limits(reader)
    return PageClient(
        context.name,
        headers=credentials.headers(),
        origin=f"{parts.scheme}://{parts.netloc}",
        verify_tls=context.verify_tls,
        timeout=reader.number("timeout", 120.0, minimum=1),
        concurrency=reader.integer("concurrency", concurrency, minimum=1),
        max_answer_size=limits.max_answer_size,
        max_wait=limits.max_wait,
    )
