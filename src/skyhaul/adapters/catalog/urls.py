"""Which catalog to open: the URL a user gives, the environment, or the default.

Rules:
- ``None`` means ``$SKYHAUL_CATALOG``, else ``sqlite:///skyhaul.db`` (relative to the
  working directory).
- Anything without ``://`` is a filesystem path to a SQLite file.
- ``postgresql://`` and ``postgres://`` use the psycopg 3 driver; an explicit driver
  (``postgresql+xyz://``) is kept as given.
- URLs shown to people go through :func:`skyhaul.core.redact.redact_url` (no passwords);
  a SQLite file is shown as its absolute path (:func:`describe_catalog`).
"""

from __future__ import annotations

import os
from pathlib import Path

from skyhaul.core.redact import redact_url

ENV_VAR = "SKYHAUL_CATALOG"
DEFAULT_URL = "sqlite:///skyhaul.db"

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def catalog_url(value: str | None = None) -> str:
    """Return the catalog URL to use.

    Parameters
    ----------
    value : str or None
        A database URL, a path to a SQLite file, or ``None`` for ``$SKYHAUL_CATALOG``
        (then the default ``sqlite:///skyhaul.db``).

    Returns
    -------
    str
        A SQLAlchemy URL.

    Examples
    --------
    >>> catalog_url("data/catalog.db")
    'sqlite:///data/catalog.db'
    >>> catalog_url("postgresql://me@db/skyhaul")
    'postgresql+psycopg://me@db/skyhaul'
    """
    if value is None or not value.strip():
        value = os.environ.get(ENV_VAR, "").strip() or DEFAULT_URL
    value = value.strip()
    if "://" not in value:
        return "sqlite:///" + str(Path(value).expanduser())
    for scheme in _POSTGRES_SCHEMES:
        if value.startswith(scheme):
            return "postgresql+psycopg://" + value[len(scheme) :]
    return value


def describe_catalog(url: str) -> str:
    """Say where the catalog at ``url`` lives: a SQLite file's absolute path, else the
    redacted URL."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        return str(Path(url.removeprefix(prefix).split("?", 1)[0]).resolve())
    return redact_url(url)
