"""Reading a source's options with one-line errors that name the table and the key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from skyhaul.adapters.credentials import credentials_from_options, refuse_inline_secrets
from skyhaul.adapters.pages import PageClient
from skyhaul.adapters.sources.base import SourceContext
from skyhaul.errors import ConfigError

__all__ = ["OptionReader", "listing_client"]


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

    def table(self, key: str) -> Mapping[str, Any]:
        """A sub-table (empty when absent)."""
        value = self.options.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: {key!r} must be a table")
        return value


def listing_client(
    url: str,
    reader: OptionReader,
    context: SourceContext,
    *,
    concurrency: int = 4,
) -> PageClient:
    """The page client of a source that reads ``url``'s origin, with its credentials.

    Reads the ``timeout`` and ``concurrency`` options and the credential keys.

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
    return PageClient(
        context.name,
        headers=credentials.headers(),
        origin=f"{parts.scheme}://{parts.netloc}",
        verify_tls=context.verify_tls,
        timeout=reader.number("timeout", 120.0, minimum=1),
        concurrency=reader.integer("concurrency", concurrency, minimum=1),
    )
