"""Sources on the command line: the ``--config`` option, building a named source, and
turning a selection's window into the listing query that feeds it.

Rules:
- The configuration is read only by commands that name a source; a broken
  ``skyhaul.toml`` never stops ``status`` or ``ls``.
- A listing window comes from the selection: an observation window, a downlink window,
  or the span of a pass schedule (listed by downlink time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skyhaul.adapters.catalog.selection import is_windowed
from skyhaul.adapters.config import CONFIG_ENV, SkyhaulConfig, SourceConfig, load_config
from skyhaul.adapters.sources import ListingQuery, Source, build_source, download_credentials
from skyhaul.core.model import Selection, TransferOptions
from skyhaul.core.window import TimeWindow
from skyhaul.errors import UsageError

if TYPE_CHECKING:
    from skyhaul.services.acquire import Discovery

__all__ = ["ConfigOption", "build_config", "listing_query", "open_source"]


@dataclass(frozen=True, slots=True)
class ConfigOption:
    """Where the configuration is (``None``: ``$SKYHAUL_CONFIG`` or ``./skyhaul.toml``)."""

    path: Path | None = None

    def load(self) -> SkyhaulConfig:
        """Read the configuration (an empty one when there is no file)."""
        return load_config(self.path)


def build_config(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help=f"Configuration file with \\[sources.<name>] tables \\[default: ${CONFIG_ENV}, "
            "else ./skyhaul.toml].",
            rich_help_panel="Output",
            show_default=False,
        ),
    ] = None,
) -> ConfigOption:
    """Build the ``--config`` option."""
    return ConfigOption(config)


def open_source(
    config: SkyhaulConfig, name: str, *, verify_tls: bool = True
) -> tuple[Source, SourceConfig]:
    """Build source ``name`` of ``config``; raises ``ConfigError`` if it is not there."""
    entry = config.source(name)
    return build_source(entry, verify_tls=verify_tls), entry


def listing_query(selection: Selection) -> ListingQuery:
    """The listing that covers ``selection``'s window.

    Raises
    ------
    UsageError
        When the selection has no closed window (a source lists a window, not all time).
    """
    instrument = selection.instrument
    if selection.downlink_windows is not None:
        if not selection.downlink_windows:
            raise UsageError("the pass schedule is empty: nothing to list")
        start = min(window[0] for window in selection.downlink_windows)
        end = max(window[1] for window in selection.downlink_windows)
        return ListingQuery(TimeWindow(start, end), instrument=instrument, by="downlink")
    if selection.downlink_start is not None and selection.downlink_end is not None:
        window = TimeWindow(selection.downlink_start, selection.downlink_end)
        return ListingQuery(window, instrument=instrument, by="downlink")
    if selection.obs_start is not None and selection.obs_end is not None:
        window = TimeWindow(selection.obs_start, selection.obs_end)
        return ListingQuery(window, instrument=instrument, by="observation")
    raise UsageError("a source lists a time window: give --start and --end (with --by), or --slots")


def source_for_download(
    config: ConfigOption, selection: Selection, transfer: TransferOptions, *, discover: bool
) -> tuple[TransferOptions, Discovery | None]:
    """The options and the discovery of a download over ``selection.source``.

    A configured source gives the files its credentials (discovered now or earlier); with
    ``discover`` and a window, it is listed first. An unconfigured name only filters.
    """
    configured = None if selection.source is None else config.load().sources.get(selection.source)
    if configured is None:
        return transfer, None
    transfer = replace(transfer, credentials=download_credentials(configured))
    if not discover or not is_windowed(selection):
        return transfer, None
    from skyhaul.services.acquire import Discovery

    source = build_source(configured, verify_tls=transfer.verify_tls)
    return transfer, Discovery(source, listing_query(selection), str(configured.dest))
