"""skyhaul: acquire science data files from remote archives, resumably and verified."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhaul.version import __version__

__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from skyhaul.client import Client


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import skyhaul`` stays light for the CLI and the core.
    if name == "Client":
        from skyhaul.client import Client

        return Client
    raise AttributeError(f"module 'skyhaul' has no attribute {name!r}")
