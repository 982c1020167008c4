"""Sources: what lists remote files for a time window (see :mod:`.base`).

Each type lives in its own module, imported only when a source of that type is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from skyhaul.adapters.config import SourceConfig
from skyhaul.adapters.sources.base import (
    SAMPLE_DAY,
    ListingQuery,
    Source,
    SourceContext,
    SourceFactory,
    TimeBasis,
)
from skyhaul.errors import ConfigError

__all__ = [
    "SOURCE_TYPES",
    "ListingQuery",
    "Source",
    "SourceContext",
    "TimeBasis",
    "build_source",
    "download_credentials",
]

#: Source type to ``(module, factory)``.
SOURCE_TYPES: Mapping[str, tuple[str, str]] = {
    "sim": ("skyhaul.adapters.sources.sim", "sim_source"),
    "http-index": ("skyhaul.adapters.sources.http_index", "http_index_source"),
    "manifest": ("skyhaul.adapters.sources.manifest", "manifest_source"),
}


def build_source(
    config: SourceConfig, *, verify_tls: bool = True, environ: Mapping[str, str] | None = None
) -> Source:
    """Build the source a ``[sources.<name>]`` table describes.

    Raises
    ------
    ConfigError
        Unknown type, unknown or invalid option, missing credentials.
    """
    entry = SOURCE_TYPES.get(config.type)
    if config.type == "records-api":
        raise ConfigError(
            f"{config.where}: a records-api source is fetched with skyhaul backfill, "
            "not listed for files"
        )
    if entry is None:
        known = ", ".join(sorted([*SOURCE_TYPES, "records-api"]))
        raise ConfigError(f"{config.where}: unknown type {config.type!r} (known: {known})")
    module_name, factory_name = entry
    factory: SourceFactory = getattr(importlib.import_module(module_name), factory_name)
    context = SourceContext(
        name=config.name,
        base_dir=config.base_dir,
        verify_tls=verify_tls,
        environ=environ,
        where=config.where,
    )
    return factory(config.options, context)


def download_credentials(
    config: SourceConfig, *, environ: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """The ``(origin, Authorization)`` pair the source's files are fetched with, if any.

    The credentials of a source apply to its ``url``'s origin (for a date template, the
    origin of any day) and to each origin in ``download_origins``, where its files are
    served when that is another host.

    Raises
    ------
    ConfigError
        The credentials cannot be read.
    """
    from skyhaul.adapters.credentials import credentials_from_options

    credentials = credentials_from_options(
        config.options, where=config.where, base_dir=config.base_dir, environ=environ
    )
    if credentials.authorization is None:
        return ()
    origins = []
    url = config.options.get("url")
    if isinstance(url, str):
        try:
            sample = urlsplit(url.format(date=SAMPLE_DAY))
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            sample = urlsplit(url)
        origins.append(f"{sample.scheme}://{sample.netloc}".lower())
    extra = config.options.get("download_origins", [])
    origins += [str(o).rstrip("/").lower() for o in (extra if isinstance(extra, list) else [])]
    return tuple((origin, credentials.authorization) for origin in origins)
