"""What every command shares at run time: consoles, logging and the catalog.

Rules:
- stdout carries results only: tables and summaries, or exactly one JSON object with
  ``--json``. Logs, live progress and error lines go to stderr.
- Logs go through one RichHandler on the stderr console (so they print above live bars):
  INFO by default, DEBUG with ``-v``. The handler stays until the command's errors are
  reported (see ``skyhaul.cli.group``), then ``remove_log_handler`` detaches it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.logging import RichHandler

from skyhaul.adapters.catalog import Catalog, catalog_url, open_catalog
from skyhaul.adapters.catalog.urls import describe_catalog
from skyhaul.cli.options import CommonOptions
from skyhaul.errors import NoCatalogError

__all__ = [
    "Terminal",
    "catalog_location",
    "describe_catalog",
    "opened_catalog",
    "remove_log_handler",
    "start",
]

logger = logging.getLogger("skyhaul.cli")

_PACKAGE_LOGGER = "skyhaul"
_handler: logging.Handler | None = None


@dataclass(frozen=True, slots=True)
class Terminal:
    """Where a command writes: results on ``out`` (stdout), everything else on ``err``.

    Parameters
    ----------
    out : Console
        stdout: tables and summaries in human mode, nothing but JSON in ``--json`` mode.
    err : Console
        stderr: logs, live progress and notices.
    options : CommonOptions
        The options every command takes.
    """

    out: Console
    err: Console
    options: CommonOptions

    @property
    def json(self) -> bool:
        """Whether the command prints one JSON object instead of tables."""
        return self.options.json

    def emit_json(self, document: object) -> None:
        """Print ``document`` as the command's one JSON object on stdout."""
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        sys.stdout.flush()


def start(options: CommonOptions) -> Terminal:
    """Make the consoles of one command and route the package's logs to stderr.

    Parameters
    ----------
    options : CommonOptions
        ``verbose`` selects DEBUG logs.

    Returns
    -------
    Terminal
        The consoles to write to.
    """
    out = Console(soft_wrap=True)  # summaries are lines to grep, never wrapped
    err = Console(stderr=True)
    _install_log_handler(err, verbose=options.verbose)
    return Terminal(out=out, err=err, options=options)


@contextmanager
def opened_catalog(options: CommonOptions, *, create: bool = True) -> Iterator[Catalog]:
    """Open the catalog named by ``--catalog`` (or its defaults) and close it after use.

    Parameters
    ----------
    options : CommonOptions
        ``--catalog``.
    create : bool
        Create the catalog if there is none. Commands that only read pass False: a
        missing catalog is an error then, and nothing is created. A catalog behind on
        migrations is still migrated.

    Raises
    ------
    NoCatalogError
        Without ``create``, when there is no catalog (the message says how to make one).
    CatalogUnavailableError
        When the catalog cannot be opened.
    """
    url = catalog_url(options.catalog)
    logger.debug("catalog: %s", describe_catalog(url))
    try:
        catalog = open_catalog(url, create=create)
    except NoCatalogError as error:
        raise NoCatalogError(
            f"{error.message} (create one with skyhaul get or skyhaul discover)"
        ) from None
    try:
        yield catalog
    finally:
        catalog.close()


def catalog_location(options: CommonOptions) -> str:
    """Say where the catalog lives: the absolute file of a SQLite URL, else the redacted URL."""
    return describe_catalog(catalog_url(options.catalog))


def _install_log_handler(console: Console, *, verbose: bool) -> None:
    global _handler
    remove_log_handler()
    handler = RichHandler(
        console=console,
        show_time=verbose,
        show_path=verbose,
        markup=False,
        rich_tracebacks=True,
        tracebacks_show_locals=False,
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    package = logging.getLogger(_PACKAGE_LOGGER)
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if verbose else logging.INFO)
    _handler = handler


def remove_log_handler() -> None:
    """Detach the log handler that ``start`` installed (after the command and its errors)."""
    global _handler
    if _handler is not None:
        package = logging.getLogger(_PACKAGE_LOGGER)
        package.removeHandler(_handler)
        package.setLevel(logging.NOTSET)
        _handler = None
