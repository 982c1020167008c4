"""The configuration file (``skyhaul.toml``): named sources and their options.

Rules:
- Found at ``--config PATH``, else ``$SKYHAUL_CONFIG``, else ``./skyhaul.toml`` when it
  exists. A file named explicitly must exist.
- ``[sources.<name>]`` tables, each with a ``type`` (``sim``, ``http-index``, ``manifest``,
  ``records-api``)
  and that type's options; ``dest`` (optional) is where the source's files go, relative to
  the configuration file's directory (default ``data/<name>``).
- Top-level keys besides the tables: ``broker = "redis://..."`` (the Celery broker) and
  ``executor = "local" | "celery"`` (where jobs run); each is a fallback behind its
  command-line option and its environment variable (``cli.execution``).
- Errors are one-line ``ConfigError`` messages naming the file and the table; TOML syntax
  errors keep tomllib's line and column.
- Nothing here reads secrets: :mod:`skyhaul.adapters.credentials` does, when a source is built.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyhaul.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "EXECUTORS",
    "SkyhaulConfig",
    "SourceConfig",
    "load_config",
]

CONFIG_ENV = "SKYHAUL_CONFIG"
DEFAULT_CONFIG = "skyhaul.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_LEVEL = ("broker", "executor", "sources")
#: The values ``executor`` takes.
EXECUTORS = ("local", "celery")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One ``[sources.<name>]`` table.

    Parameters
    ----------
    name : str
        The table's name.
    type : str
        The source type.
    options : Mapping
        The table without ``type`` and ``dest``.
    dest : Path
        Destination root of the source's files (absolute).
    base_dir : Path
        The configuration file's directory (relative option paths start here).
    where : str
        ``<file>: sources.<name>``, for messages.
    """

    name: str
    type: str
    options: Mapping[str, Any]
    dest: Path
    base_dir: Path
    where: str


@dataclass(frozen=True, slots=True)
class SkyhaulConfig:
    """A loaded configuration (possibly empty: no file found)."""

    path: Path | None = None
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    broker: str | None = None
    """``broker``: the Celery broker URL."""
    executor: str | None = None
    """``executor``: one of :data:`EXECUTORS`."""

    def source(self, name: str) -> SourceConfig:
        """Return source ``name``; a ``ConfigError`` lists the known ones if it is absent."""
        found = self.sources.get(name)
        if found is not None:
            return found
        if self.path is None:
            raise ConfigError(
                f"no source named {name!r}: no configuration file found "
                f"(give --config, set {CONFIG_ENV}, or create {DEFAULT_CONFIG})"
            )
        known = ", ".join(sorted(self.sources)) or "none"
        raise ConfigError(f"{self.path}: no source named {name!r} (known: {known})")


def load_config(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> SkyhaulConfig:
    """Find and read the configuration.

    Parameters
    ----------
    path : path-like or None
        An explicit file (``--config``); it must exist.
    environ : Mapping or None
        Environment for ``SKYHAUL_CONFIG`` (default ``os.environ``).

    Raises
    ------
    ConfigError
        The file named cannot be read, is not TOML, or a table is malformed.
    """
    env = os.environ if environ is None else environ
    explicit = path if path is not None else env.get(CONFIG_ENV) or None
    if explicit is None:
        default = Path(DEFAULT_CONFIG)
        if not default.is_file():
            return SkyhaulConfig()
        chosen = default
    else:
        chosen = Path(explicit).expanduser()
    return _read(chosen)


def _read(path: Path) -> SkyhaulConfig:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    unknown = set(document) - set(_TOP_LEVEL)
    if unknown:
        known = ", ".join(_TOP_LEVEL)
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (known: {known})")
    base_dir = path.resolve().parent
    tables = document.get("sources", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'sources' must be a table of [sources.<name>] tables")
    sources = {name: _source(path, base_dir, name, table) for name, table in sorted(tables.items())}
    broker = document.get("broker")
    if broker is not None and (not isinstance(broker, str) or "://" not in broker):
        raise ConfigError(f"{path}: broker = {broker!r}: not a URL (redis://HOST:PORT/DB)")
    executor = document.get("executor")
    if executor is not None and executor not in EXECUTORS:
        raise ConfigError(f"{path}: executor = {executor!r}: not {' or '.join(EXECUTORS)}")
    return SkyhaulConfig(path=path, sources=sources, broker=broker, executor=executor)


def _source(path: Path, base_dir: Path, name: str, table: Any) -> SourceConfig:
    where = f"{path}: sources.{name}"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: a source name uses letters, digits, '.', '_' and '-'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    options = dict(table)
    kind = options.pop("type", None)
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"{where}: 'type' is missing (sim, http-index, manifest or records-api)")
    dest_text = options.pop("dest", f"data/{name}")
    if not isinstance(dest_text, str) or not dest_text:
        raise ConfigError(f"{where}: 'dest' must be a path")
    dest = (base_dir / Path(dest_text).expanduser()).resolve()
    return SourceConfig(
        name=name, type=kind, options=options, dest=dest, base_dir=base_dir, where=where
    )
